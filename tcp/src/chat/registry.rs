//! The member registry: who is in the room, unique names, the member cap, and fan-out.
//!
//! Joins and leaves are rare; messages are frequent. So the registry keeps, next to the
//! name map, a ready-made list of members behind an `Arc` that is rebuilt on every join
//! and leave (copy-on write). Sending a message takes the read lock only long enough to
//! clone that `Arc`, then pushes into each member's [`Outbox`] with no lock held on the
//! room: ten senders fan out in parallel and never wait for each other.

use super::outbox::{Outbox, Push};
use super::protocol;
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

/// One member of the room.
#[derive(Debug)]
pub struct Member {
    /// The member's unique name.
    pub name: String,
    /// Unique for the server's lifetime (names can be reused after a leave).
    pub id: u64,
    /// Lines waiting to be written to this member.
    pub outbox: Outbox,
}

/// Why a join was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JoinError {
    /// Someone already uses this name.
    #[error("name taken")]
    NameTaken,
    /// The room holds its maximum number of members.
    #[error("server full ({0} members)")]
    Full(usize),
}

#[derive(Debug, Default)]
struct Room {
    by_name: HashMap<String, Arc<Member>>,
    /// The same members as a list, rebuilt on join and leave, shared by every fan-out.
    everyone: Arc<Vec<Arc<Member>>>,
}

/// The set of members of one chat server.
#[derive(Debug)]
pub struct Registry {
    room: RwLock<Room>,
    max_members: usize,
    queue_budget: usize,
    next_id: AtomicU64,
    /// Largest outbox high-water mark among members that already left.
    peak_of_departed: AtomicUsize,
}

impl Registry {
    /// An empty room for at most `max_members`, each with an outbox of `queue_budget` bytes.
    pub fn new(max_members: usize, queue_budget: usize) -> Self {
        Registry {
            room: RwLock::new(Room::default()),
            max_members,
            queue_budget,
            next_id: AtomicU64::new(1),
            peak_of_departed: AtomicUsize::new(0),
        }
    }

    /// Adds a member and tells everyone, the newcomer included, `* NAME joined`.
    ///
    /// Registration and the notice happen under one lock, so the newcomer's first line
    /// is always its own join notice: a client can wait for it as the sign it is in.
    pub fn join(&self, name: &str) -> Result<Arc<Member>, JoinError> {
        let mut room = self.write();
        if room.by_name.contains_key(name) {
            return Err(JoinError::NameTaken);
        }
        if room.by_name.len() >= self.max_members {
            return Err(JoinError::Full(self.max_members));
        }
        let member = Arc::new(Member {
            name: name.to_string(),
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            outbox: Outbox::new(self.queue_budget),
        });
        room.by_name
            .insert(member.name.clone(), Arc::clone(&member));
        room.everyone = Arc::new(room.by_name.values().cloned().collect());
        fan_out(&room.everyone, protocol::joined(name), None);
        Ok(member)
    }

    /// Removes a member; with `announce`, tells the others `* NAME left`.
    pub fn leave(&self, member: &Member, announce: bool) {
        let mut room = self.write();
        if room
            .by_name
            .get(&member.name)
            .is_none_or(|m| m.id != member.id)
        {
            return;
        }
        room.by_name.remove(&member.name);
        room.everyone = Arc::new(room.by_name.values().cloned().collect());
        self.peak_of_departed
            .fetch_max(member.outbox.peak_bytes(), Ordering::Relaxed);
        if announce {
            fan_out(&room.everyone, protocol::left(&member.name), None);
        }
    }

    /// Queues `line` (one shared buffer) for every member except `except`.
    pub fn broadcast(&self, line: Bytes, except: Option<&Member>) {
        let everyone = Arc::clone(&self.read().everyone);
        fan_out(&everyone, line, except.map(|m| m.id));
    }

    /// The members' names, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.read().by_name.keys().cloned().collect();
        names.sort();
        names
    }

    /// How many members are in the room.
    pub fn len(&self) -> usize {
        self.read().by_name.len()
    }

    /// True when nobody is in the room.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most bytes any member's outbox ever held at once (never above the budget).
    pub fn peak_queued_bytes(&self) -> usize {
        let current = self
            .read()
            .everyone
            .iter()
            .map(|m| m.outbox.peak_bytes())
            .max()
            .unwrap_or(0);
        current.max(self.peak_of_departed.load(Ordering::Relaxed))
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Room> {
        self.room
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Room> {
        self.room
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// At most ten eviction warnings a second, then a summary.
static EVICTED: support::log::Throttle = support::log::Throttle::per_second(10);

/// Pushes `line` to each member but `except`; a member whose outbox overflows is evicted.
fn fan_out(members: &[Arc<Member>], line: Bytes, except: Option<u64>) {
    for member in members.iter().filter(|m| Some(m.id) != except) {
        if member.outbox.push(line.clone()) == Push::Evicted {
            support::warn_throttled!(
                EVICTED,
                name = %member.name,
                "evicting member: outgoing queue over its budget (the member is not reading)"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    async fn drain(member: &Member) -> Vec<u8> {
        member.outbox.close(super::super::outbox::Closed::Finish);
        let mut batch = VecDeque::new();
        let mut out = Vec::new();
        while member.outbox.next_batch(&mut batch).await {
            for line in batch.drain(..) {
                out.extend_from_slice(&line);
            }
        }
        out
    }

    #[tokio::test]
    async fn names_are_unique_and_the_cap_holds() {
        let registry = Registry::new(2, 1024);
        let alice = registry.join("alice").unwrap();
        assert_eq!(registry.join("alice").unwrap_err(), JoinError::NameTaken);
        let _bob = registry.join("bob").unwrap();
        assert_eq!(registry.join("carol").unwrap_err(), JoinError::Full(2));
        registry.leave(&alice, true);
        assert!(registry.join("carol").is_ok());
        assert_eq!(registry.names(), vec!["bob", "carol"]);
    }

    #[tokio::test]
    async fn broadcast_skips_the_sender_and_notices_reach_the_right_members() {
        let registry = Registry::new(10, 1024);
        let alice = registry.join("alice").unwrap();
        let bob = registry.join("bob").unwrap();
        registry.broadcast(protocol::message_line("alice", "hi"), Some(&alice));
        registry.leave(&bob, true);
        assert_eq!(
            drain(&alice).await,
            b"* alice joined\n* bob joined\n* bob left\n"
        );
        assert_eq!(drain(&bob).await, b"* bob joined\nalice: hi\n");
    }

    #[tokio::test]
    async fn one_message_is_one_buffer_shared_by_every_recipient() {
        let registry = Registry::new(10, 1024);
        let alice = registry.join("alice").unwrap();
        let (bob, carol) = (
            registry.join("bob").unwrap(),
            registry.join("carol").unwrap(),
        );
        let line = protocol::message_line("alice", "hi");
        registry.broadcast(line.clone(), Some(&alice));
        let mut queued = Vec::new();
        for member in [&bob, &carol] {
            member.outbox.close(super::super::outbox::Closed::Finish);
            let mut batch = VecDeque::new();
            while member.outbox.next_batch(&mut batch).await {}
            queued.push(batch.pop_back().unwrap());
        }
        // Same bytes at the same address: the recipients share one allocation, no copies.
        assert!(
            queued
                .iter()
                .all(|b| b.as_ptr() == line.as_ptr() && *b == line)
        );
    }

    #[tokio::test]
    async fn a_stale_handle_does_not_remove_a_new_member_with_the_same_name() {
        let registry = Registry::new(10, 1024);
        let old = registry.join("alice").unwrap();
        registry.leave(&old, false);
        let _new = registry.join("alice").unwrap();
        registry.leave(&old, false);
        assert_eq!(registry.names(), vec!["alice"]);
    }
}

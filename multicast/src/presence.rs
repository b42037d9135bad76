//! Who is in the chat: presence without a server.
//!
//! Nobody keeps a member list for a multicast group (the kernel knows only that *some* socket
//! of a host joined). So each chat instance keeps its own, from what it hears: `+join` adds a
//! member, `+leave` removes one, and every datagram refreshes the sender's entry. Each instance
//! sends `+here` every [`HEARTBEAT`], so a member that crashed or lost its link (and so never
//! said `+leave`) is dropped after [`MEMBER_TIMEOUT`] of silence. Time is a parameter (`now`)
//! everywhere, so the rules are tested without waiting.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::chat::MAX_TRACKED_SENDERS;

/// How often an instance says `+here`.
pub const HEARTBEAT: Duration = Duration::from_secs(10);

/// Silence after which a member counts as gone: three heartbeats and a half, so that one or two
/// lost heartbeats do not drop anyone.
pub const MEMBER_TIMEOUT: Duration = Duration::from_millis(35_000);

/// What hearing from an instance changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Not a member before: now it is.
    Arrived,
    /// Already a member.
    Known,
}

/// The members heard from recently, at most `capacity` of them (the longest silent is
/// forgotten first), so forged instance ids cannot grow memory.
#[derive(Debug)]
pub struct Members {
    capacity: usize,
    heard: HashMap<u64, (String, Instant)>, // instance -> (name, last heard)
}

impl Default for Members {
    fn default() -> Self {
        Members::with_capacity(MAX_TRACKED_SENDERS)
    }
}

impl Members {
    /// A table for at most `capacity` members (at least 1).
    pub fn with_capacity(capacity: usize) -> Members {
        Members {
            capacity: capacity.max(1),
            heard: HashMap::new(),
        }
    }

    /// Records that `instance`, called `name`, was heard at `now`.
    pub fn heard(&mut self, instance: u64, name: &str, now: Instant) -> Change {
        if let Some(entry) = self.heard.get_mut(&instance) {
            *entry = (name.to_string(), now);
            return Change::Known;
        }
        if self.heard.len() >= self.capacity {
            self.forget_longest_silent();
        }
        self.heard.insert(instance, (name.to_string(), now));
        Change::Arrived
    }

    /// Removes `instance` (it said `+leave`); its name if it was a member.
    pub fn left(&mut self, instance: u64) -> Option<String> {
        self.heard.remove(&instance).map(|(name, _)| name)
    }

    /// Removes and names every member silent for [`MEMBER_TIMEOUT`] or longer at `now`.
    pub fn expire(&mut self, now: Instant) -> Vec<String> {
        let gone: Vec<u64> = self
            .heard
            .iter()
            .filter(|(_, (_, last))| now.saturating_duration_since(*last) >= MEMBER_TIMEOUT)
            .map(|(id, _)| *id)
            .collect();
        let mut names: Vec<String> = gone.iter().filter_map(|id| self.left(*id)).collect();
        names.sort();
        names
    }

    /// The members' names, sorted (by byte value, as the tcp chat's `/who`).
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.heard.values().map(|(n, _)| n.clone()).collect();
        names.sort();
        names
    }

    /// How many members are known.
    pub fn len(&self) -> usize {
        self.heard.len()
    }

    /// True when no member is known.
    pub fn is_empty(&self) -> bool {
        self.heard.is_empty()
    }

    fn forget_longest_silent(&mut self) {
        let oldest = self
            .heard
            .iter()
            .min_by_key(|(_, (_, last))| *last)
            .map(|(id, _)| *id);
        if let Some(id) = oldest {
            self.heard.remove(&id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrivals_are_reported_once_and_leaving_removes() {
        let t0 = Instant::now();
        let mut members = Members::default();
        assert_eq!(members.heard(1, "alice", t0), Change::Arrived);
        assert_eq!(members.heard(1, "alice", t0), Change::Known);
        assert_eq!(members.heard(2, "bob", t0), Change::Arrived);
        assert_eq!(members.names(), ["alice", "bob"]);
        assert_eq!(members.left(1).as_deref(), Some("alice"));
        assert_eq!(members.left(1), None);
        assert_eq!(members.names(), ["bob"]);
    }

    #[test]
    fn silence_of_the_timeout_drops_a_member_and_a_heartbeat_keeps_one() {
        let t0 = Instant::now();
        let mut members = Members::default();
        members.heard(1, "alice", t0);
        members.heard(2, "bob", t0);
        // alice's heartbeats arrive; bob goes silent (crashed, or his link went down).
        let mut now = t0;
        while now < t0 + MEMBER_TIMEOUT - HEARTBEAT {
            now += HEARTBEAT;
            members.heard(1, "alice", now);
            assert!(members.expire(now).is_empty());
        }
        let just_before = t0 + MEMBER_TIMEOUT - Duration::from_millis(1);
        assert!(members.expire(just_before).is_empty());
        assert_eq!(members.expire(t0 + MEMBER_TIMEOUT), ["bob"]);
        assert_eq!(members.names(), ["alice"]);
    }

    #[test]
    fn the_table_is_bounded_and_forgets_the_longest_silent() {
        let t0 = Instant::now();
        let mut members = Members::with_capacity(2);
        members.heard(1, "a", t0);
        members.heard(2, "b", t0 + Duration::from_secs(1));
        members.heard(1, "a", t0 + Duration::from_secs(2)); // a heard again: b is now oldest
        assert_eq!(
            members.heard(3, "c", t0 + Duration::from_secs(3)),
            Change::Arrived
        );
        assert_eq!(members.names(), ["a", "c"]);
        let mut flood = Members::default();
        for id in 0..10_000 {
            flood.heard(id, "forged", t0);
        }
        assert_eq!(flood.len(), MAX_TRACKED_SENDERS);
    }
}

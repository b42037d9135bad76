//! The call id table: how one connection (or socket) carries many calls at once.
//!
//! Each outstanding call registers its id here with a one-shot channel; the transport's
//! reader task looks up every reply's id and hands the reply to the caller waiting on
//! it, so replies may arrive in any order. When the connection dies the table is
//! *closed*: every waiting caller sees [`RpcError::ConnectionLost`] at once, and later
//! calls fail immediately instead of waiting for a reply that cannot come.
//!
//! No system calls here: a mutex-protected map and tokio one-shot channels.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::oneshot;

use crate::error::RpcError;
use crate::message::Message;

/// Takes the next call id from `counter`, skipping 0: that id is reserved for the
/// server's connection-level errors ([`crate::message::RESERVED_CALL_ID`]), and a
/// counter that wraps around must not hand it out.
pub fn next_call_id(counter: &AtomicU64) -> u64 {
    loop {
        let id = counter.fetch_add(1, Ordering::Relaxed);
        if id != crate::message::RESERVED_CALL_ID {
            return id;
        }
    }
}

/// Outstanding calls by call id.
#[derive(Debug, Default)]
pub struct Pending {
    table: Mutex<Table>,
}

#[derive(Debug, Default)]
struct Table {
    waiting: HashMap<u64, oneshot::Sender<Message>>,
    closed: bool,
}

impl Pending {
    /// Registers call `id`; the receiver yields its reply, or an error when the
    /// connection is lost (the sender is dropped).
    pub fn register(&self, id: u64) -> Result<oneshot::Receiver<Message>, RpcError> {
        let (tx, rx) = oneshot::channel();
        let mut table = self.lock();
        if table.closed {
            return Err(RpcError::ConnectionLost);
        }
        table.waiting.insert(id, tx);
        Ok(rx)
    }

    /// Forgets call `id` (its caller stopped waiting: deadline or cancellation).
    pub fn forget(&self, id: u64) {
        self.lock().waiting.remove(&id);
    }

    /// Hands a reply to its caller. Returns false for an id nobody waits for (a late
    /// reply after a timeout, a duplicate datagram, or a confused peer).
    pub fn complete(&self, reply: Message) -> bool {
        let waiter = self.lock().waiting.remove(&reply.header.call_id);
        match waiter {
            Some(tx) => tx.send(reply).is_ok(),
            None => false,
        }
    }

    /// Fails every call waiting now (their receivers see the sender dropped), but keeps
    /// accepting new ones: over UDP an ICMP error concerns the calls sent so far.
    pub fn fail_waiting(&self) {
        let waiting = std::mem::take(&mut self.lock().waiting);
        drop(waiting);
    }

    /// The connection is gone: fail every waiting call and refuse new ones.
    pub fn close(&self) {
        let waiting = {
            let mut table = self.lock();
            table.closed = true;
            std::mem::take(&mut table.waiting)
        };
        drop(waiting); // each dropped sender wakes its caller with ConnectionLost
    }

    /// Calls still waiting.
    pub fn len(&self) -> usize {
        self.lock().waiting.len()
    }

    /// True when no call is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        // A panic while holding this lock cannot leave the map inconsistent (each
        // operation is one insert or remove), so a poisoned lock is still usable.
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Removes a call from the table when its caller stops waiting early (timeout, or the
/// caller's future dropped), so abandoned ids do not pile up.
pub struct Registration<'a> {
    pending: &'a Pending,
    id: u64,
    armed: bool,
}

impl<'a> Registration<'a> {
    /// Guards call `id` in `pending`.
    pub fn new(pending: &'a Pending, id: u64) -> Self {
        Registration {
            pending,
            id,
            armed: true,
        }
    }

    /// The reply arrived (the reader already removed the entry): nothing to clean up.
    pub fn disarm(&mut self) {
        self.armed = false;
    }
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.pending.forget(self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_ids_skip_0_when_the_counter_wraps() {
        let counter = AtomicU64::new(u64::MAX - 1);
        let ids: Vec<u64> = (0..3).map(|_| next_call_id(&counter)).collect();
        assert_eq!(ids, [u64::MAX - 1, u64::MAX, 1]);
        assert_eq!(next_call_id(&AtomicU64::new(0)), 1);
    }
}

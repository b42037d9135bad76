//! The connection cap: a counter of open connections and a guard that gives a slot back.
//!
//! It works the same in threads and tasks (an atomic counter), so the blocking and the
//! async servers share it. mini-redis waits on a semaphore when full; this crate instead
//! accepts the extra connection and closes it at once, so the client learns right away.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Counts open connections against a maximum.
#[derive(Debug)]
pub struct ConnectionLimit {
    max: usize,
    active: AtomicUsize,
}

/// One taken slot; dropping it gives the slot back.
#[derive(Debug)]
pub struct ConnectionPermit {
    limit: Arc<ConnectionLimit>,
}

impl ConnectionLimit {
    /// A limit of `max` connections at once.
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(ConnectionLimit {
            max,
            active: AtomicUsize::new(0),
        })
    }

    /// Takes a slot, or `None` when `max` connections are already open.
    pub fn try_acquire(self: &Arc<Self>) -> Option<ConnectionPermit> {
        let taken = self
            .active
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max).then_some(n + 1)
            });
        taken.ok().map(|_| ConnectionPermit {
            limit: Arc::clone(self),
        })
    }

    /// How many connections are open now.
    pub fn active(&self) -> usize {
        self.active.load(Ordering::Acquire)
    }

    /// The maximum this limit allows.
    pub fn max(&self) -> usize {
        self.max
    }
}

impl Drop for ConnectionPermit {
    fn drop(&mut self) {
        self.limit.active.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_run_out_and_come_back() {
        let limit = ConnectionLimit::new(2);
        let a = limit.try_acquire().expect("first slot");
        let _b = limit.try_acquire().expect("second slot");
        assert!(limit.try_acquire().is_none());
        drop(a);
        assert_eq!(limit.active(), 1);
        assert!(limit.try_acquire().is_some());
    }
}

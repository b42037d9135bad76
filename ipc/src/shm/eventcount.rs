//! The event count: how a process sleeps until the other side of the ring has done something,
//! with no lost wakeup; while nobody sleeps, the side that does the work pays neither a locked
//! instruction nor a system call to notify.
//!
//! Two words of the segment make one event count: `count`, the futex word a sleeper waits on,
//! and `waiters`, how many sleepers have announced themselves. Consumers wait on the `items`
//! pair for messages; producers wait on the `spaces` pair for free slots.
//!
//! ```text
//! notifier (after its publishing store P)     sleeper (after a failed attempt)
//!   F2: fence(SeqCst)                           A:  waiters += 1
//!   E:  if waiters == 0: done                   F1: fence(SeqCst)
//!       count += 1 (release)                    B:  seen = count (acquire)
//!       FUTEX_WAKE(count)                       C:  attempt again; if it succeeds: no sleep
//!                                               D:  FUTEX_WAIT(count, seen); waiters -= 1
//! ```
//!
//! **Why no wakeup is lost.** The two `SeqCst` fences are ordered one way or the other in the
//! single total order of `SeqCst` operations, and C++'s fence rule (`[atomics.order]`: a store
//! sequenced before fence X is seen by a load sequenced after fence Y when X precedes Y) settles
//! each case:
//! - F2 before F1: the retry C (after F1) sees the publish P (before F2), so the sleeper finds
//!   its message or slot and never sleeps.
//! - F1 before F2: the notifier's load E (after F2) sees the announcement A (before F1), so
//!   `waiters > 0` and the notifier bumps `count` and wakes. If the sleeper's B read the count
//!   before the bump, `FUTEX_WAIT` either finds the word changed (it returns at once) or is
//!   already asleep when the wake comes (the kernel compares and sleeps as one step with respect
//!   to wakes). If B read the bumped count, the release bump and acquire read put P before C,
//!   and the retry succeeds.
//!
//! Without either fence both sides may read the other's old value (the "store buffer" pattern
//! every modern CPU shows): the notifier sees no waiter, the sleeper sees no message, and the
//! sleeper sleeps through the only wakeup. The loom tests below find exactly that interleaving
//! when either fence is removed.
//!
//! **What it costs.** The working side pays one fence (`mfence` on x86-64) and one load of a
//! cache line nobody writes while nobody sleeps; the earlier design paid a locked `fetch_add` on
//! a line shared by both sides for every message, so that line bounced between the CPUs.
//! Only a sleeper pays for more (a locked add, a fence, the system calls).

use std::time::Duration;

use super::Region;
use super::atomic::{AtomicU32, Ordering, fence};
use super::futex;
use super::layout::{W_CONSUMERS_WAITING, W_ITEMS, W_PRODUCERS_WAITING, W_SPACES};
use super::ring::Ring;

/// A futex word bumped when a sleeper is announced, plus the count of announced sleepers.
pub struct EventCount<'a> {
    count: &'a AtomicU32,
    waiters: &'a AtomicU32,
}

impl EventCount<'_> {
    /// Call after publishing: wakes the sleepers, if any announced themselves.
    pub fn notify(&self) {
        fence(Ordering::SeqCst);
        if self.waiters.load(Ordering::Relaxed) == 0 {
            return;
        }
        self.count.fetch_add(1, Ordering::Release);
        futex::wake_all(self.count);
    }

    /// Announces a sleeper, retries `attempt` once, and sleeps (at most `nap`; `None`: until
    /// woken) only if the retry found nothing. Returns what the retry found.
    pub fn sleep_unless<T>(
        &self,
        nap: Option<Duration>,
        attempt: impl FnOnce() -> Option<T>,
    ) -> Option<T> {
        self.waiters.fetch_add(1, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        let seen = self.count.load(Ordering::Acquire);
        let done = attempt();
        if done.is_none() && nap != Some(Duration::ZERO) {
            futex::wait(self.count, seen, nap);
        }
        self.waiters.fetch_sub(1, Ordering::Relaxed);
        done
    }
}

impl<R: Region> Ring<R> {
    /// Where consumers sleep until a message is published.
    pub fn items(&self) -> EventCount<'_> {
        EventCount {
            count: self.word(W_ITEMS),
            waiters: self.word(W_CONSUMERS_WAITING),
        }
    }

    /// Where producers sleep until a slot is freed.
    pub fn spaces(&self) -> EventCount<'_> {
        EventCount {
            count: self.word(W_SPACES),
            waiters: self.word(W_PRODUCERS_WAITING),
        }
    }
}

/// Every interleaving of a sleeper and a notifier, explored by loom (no timeouts: a lost wakeup
/// is a deadlock, which loom reports):
/// `RUSTFLAGS="--cfg ipc_loom" cargo test -p ipc --lib loom`.
#[cfg(all(test, ipc_loom))]
mod loom_tests {
    use loom::sync::Arc;
    use loom::thread;

    use crate::shm::loom_support::ring;
    use crate::shm::{HeapRegion, PopError, PushError, Ring};

    /// Pops one message, sleeping on `items` with no timeout whenever the ring is empty.
    fn pop_sleeping(ring: &Ring<HeapRegion>) -> u8 {
        let pop = || {
            let mut buf = [0u8; 4];
            match ring.try_pop(&mut buf) {
                Err(PopError::Empty) => None,
                other => other.map(|_| buf[0]).ok(),
            }
        };
        loop {
            if let Some(byte) = pop().or_else(|| ring.items().sleep_unless(None, pop)) {
                return byte;
            }
        }
    }

    /// Pushes one message, sleeping on `spaces` with no timeout whenever the ring is full.
    fn push_sleeping(ring: &Ring<HeapRegion>, byte: u8) {
        let push = || match ring.try_push(&[byte]) {
            Err(PushError::Full) => None,
            other => Some(other.unwrap()),
        };
        while push().is_none() && ring.spaces().sleep_unless(None, push).is_none() {}
    }

    #[test]
    fn loom_a_sleeping_consumer_always_wakes_for_a_pushed_message() {
        loom::model(|| {
            let ring = ring(2);
            let producer = {
                let ring = Arc::clone(&ring);
                thread::spawn(move || {
                    ring.try_push(&[7]).unwrap();
                    ring.items().notify();
                })
            };
            assert_eq!(pop_sleeping(&ring), 7);
            producer.join().unwrap();
        });
    }

    #[test]
    fn loom_a_sleeping_producer_always_wakes_for_a_freed_slot() {
        loom::model(|| {
            let ring = ring(2);
            ring.try_push(&[1]).unwrap();
            ring.try_push(&[2]).unwrap();
            let consumer = {
                let ring = Arc::clone(&ring);
                thread::spawn(move || {
                    ring.try_pop(&mut [0u8; 4]).unwrap();
                    ring.spaces().notify();
                })
            };
            push_sleeping(&ring, 3);
            consumer.join().unwrap();
            assert_eq!(ring.len(), 2);
        });
    }
}

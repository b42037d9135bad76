//! Waiting on the ring: what a producer does when it is full, what a consumer does when it is
//! empty, and how a waiting process sleeps without burning a CPU.
//!
//! **Policies when full** ([`FullPolicy`], chosen by the caller on every push):
//! - `Block(timeout)`: wait for a free slot, at most `timeout` (then [`WaitError::Timeout`]), so a
//!   consumer that stopped never blocks a producer forever;
//! - `Fail`: return [`WaitError::WouldBlock`] at once;
//! - `OverwriteOldest`: make room by *consuming* the oldest message (through the same CAS on
//!   `head` every consumer uses) and retry. Writing over the oldest slot in place would be unsound
//!   with several consumers: one may be copying that very slot and would get half old, half new
//!   bytes. Consuming it first means only one party ever owns a slot. If the oldest slot is still
//!   being written or read, the producer retries a bounded [`OVERWRITE_RETRIES`] times, then
//!   reports `WouldBlock`.
//!
//! **When empty**, a consumer waits up to its timeout ([`pop`]); `Duration::ZERO` means try once.
//!
//! **Sleeping** ([`WaitMode`]): `Block` sleeps in the kernel on a futex word in the segment (an
//! "event count": `W_ITEMS` is bumped after every publish, `W_SPACES` after every free). The
//! sleeper reads the count, announces itself in a waiter counter, retries once, then sleeps only
//! if the count is unchanged, so a wakeup between its retry and its sleep is never lost.
//! Notifiers make the `futex(FUTEX_WAKE)` system call only while someone is announced, so the
//! uncontended path has no system call at all. `Spin` polls with `spin_loop` instead: the lowest
//! latency, one full CPU per waiter. Each sleep is capped at [`MAX_NAP`], so even a lost or forged
//! wakeup from a hostile peer costs at most that long.
//!
//! System calls: `futex(2)` with `FUTEX_WAIT`/`FUTEX_WAKE` *without* `FUTEX_PRIVATE_FLAG`
//! (the flag would restrict the futex to one process).

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use rustix::thread::futex;

use super::Region;
use super::layout::{W_CONSUMERS_WAITING, W_ITEMS, W_PRODUCERS_WAITING, W_SPACES};
use super::ring::{PopError, PushError, Ring};

/// The longest single futex sleep before the waiter looks again.
pub const MAX_NAP: Duration = Duration::from_millis(100);
/// Attempts `OverwriteOldest` makes to free a slot before giving up.
pub const OVERWRITE_RETRIES: u32 = 1000;
/// Spin iterations between looks at the clock.
const SPINS_PER_CLOCK_CHECK: u32 = 256;

/// How a waiting process passes the time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitMode {
    /// Sleep in the kernel on a futex (no CPU while waiting).
    Block,
    /// Busy-poll (lowest latency, a whole CPU while waiting).
    Spin,
}

/// What a producer does when every slot is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FullPolicy {
    /// Wait for a free slot, at most this long.
    Block(Duration),
    /// Give up at once.
    Fail,
    /// Drop the oldest message to make room.
    OverwriteOldest,
}

/// Why a waiting push or pop gave up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WaitError {
    /// The timeout passed.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// The policy said not to wait (ring full with `Fail`, or overwrite found no slot to free).
    #[error("would block: the ring is full")]
    WouldBlock,
    /// The message does not fit in a slot.
    #[error(transparent)]
    Push(PushError),
    /// The next message could not be taken (buffer too small, corrupt slot).
    #[error(transparent)]
    Pop(PopError),
}

/// What a successful push did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pushed {
    /// Older messages dropped to make room (only with `OverwriteOldest`).
    pub dropped: u32,
}

/// Enqueues `message` under `policy`, waking a sleeping consumer.
pub fn push<R: Region>(
    ring: &Ring<R>,
    message: &[u8],
    policy: FullPolicy,
    mode: WaitMode,
) -> Result<Pushed, WaitError> {
    let pushed = match policy {
        FullPolicy::Fail => try_push(ring, message).map(|()| Pushed { dropped: 0 }),
        FullPolicy::Block(timeout) => push_blocking(ring, message, timeout, mode),
        FullPolicy::OverwriteOldest => push_overwriting(ring, message),
    }?;
    notify(ring.word(W_ITEMS), ring.word(W_CONSUMERS_WAITING));
    Ok(pushed)
}

/// Dequeues into `buf`, waiting up to `timeout` for a message, and wakes a sleeping producer.
pub fn pop<R: Region>(
    ring: &Ring<R>,
    buf: &mut [u8],
    timeout: Duration,
    mode: WaitMode,
) -> Result<usize, WaitError> {
    let waiting = EventCount {
        count: ring.word(W_ITEMS),
        waiters: ring.word(W_CONSUMERS_WAITING),
    };
    let len = waiting.wait_for(mode, timeout, || match ring.try_pop(buf) {
        Err(PopError::Empty) => None,
        other => Some(other),
    })?;
    // A corrupt slot was released too: producers may have room either way.
    notify(ring.word(W_SPACES), ring.word(W_PRODUCERS_WAITING));
    len.map_err(WaitError::Pop)
}

fn try_push<R: Region>(ring: &Ring<R>, message: &[u8]) -> Result<(), WaitError> {
    ring.try_push(message).map_err(|err| match err {
        PushError::Full => WaitError::WouldBlock,
        other => WaitError::Push(other),
    })
}

fn push_blocking<R: Region>(
    ring: &Ring<R>,
    message: &[u8],
    timeout: Duration,
    mode: WaitMode,
) -> Result<Pushed, WaitError> {
    let waiting = EventCount {
        count: ring.word(W_SPACES),
        waiters: ring.word(W_PRODUCERS_WAITING),
    };
    waiting
        .wait_for(mode, timeout, || match ring.try_push(message) {
            Err(PushError::Full) => None,
            other => Some(other),
        })?
        .map(|()| Pushed { dropped: 0 })
        .map_err(WaitError::Push)
}

fn push_overwriting<R: Region>(ring: &Ring<R>, message: &[u8]) -> Result<Pushed, WaitError> {
    let mut dropped = 0;
    for _ in 0..OVERWRITE_RETRIES {
        match ring.try_push(message) {
            Ok(()) => return Ok(Pushed { dropped }),
            Err(PushError::Full) => {}
            Err(other) => return Err(WaitError::Push(other)),
        }
        match ring.try_discard() {
            Ok(_) | Err(PopError::Corrupt { .. }) => dropped += 1,
            Err(_) => std::thread::yield_now(),
        }
    }
    Err(WaitError::WouldBlock)
}

/// A futex word bumped on every event, plus the number of sleepers announced on it.
struct EventCount<'a> {
    count: &'a AtomicU32,
    waiters: &'a AtomicU32,
}

impl EventCount<'_> {
    /// Retries `attempt` until it yields `Some`, sleeping or spinning in between, up to `timeout`.
    fn wait_for<T>(
        &self,
        mode: WaitMode,
        timeout: Duration,
        mut attempt: impl FnMut() -> Option<T>,
    ) -> Result<T, WaitError> {
        let deadline = Instant::now() + timeout;
        let mut spins = 0u32;
        loop {
            if let Some(done) = attempt() {
                return Ok(done);
            }
            let expired = match mode {
                WaitMode::Block => self.sleep_until(deadline, &mut attempt),
                WaitMode::Spin => spin_once(&mut spins, deadline),
            };
            if let Some(done) = expired.done {
                return Ok(done);
            }
            if expired.timed_out {
                return Err(WaitError::Timeout(timeout));
            }
        }
    }

    /// Announce, retry, sleep if nothing changed. Returns what the retry found, if anything.
    fn sleep_until<T>(
        &self,
        deadline: Instant,
        attempt: &mut impl FnMut() -> Option<T>,
    ) -> Slept<T> {
        let seen = self.count.load(Ordering::SeqCst);
        self.waiters.fetch_add(1, Ordering::SeqCst);
        let done = attempt();
        let remaining = deadline.saturating_duration_since(Instant::now());
        if done.is_none() && !remaining.is_zero() {
            let nap = timespec(remaining.min(MAX_NAP));
            // EAGAIN (the count moved), ETIMEDOUT and EINTR all mean "look again".
            let _ = futex::wait(self.count, futex::Flags::empty(), seen, Some(&nap));
        }
        self.waiters.fetch_sub(1, Ordering::SeqCst);
        let timed_out = done.is_none() && Instant::now() >= deadline;
        Slept { done, timed_out }
    }
}

/// The outcome of one wait step.
struct Slept<T> {
    done: Option<T>,
    timed_out: bool,
}

fn spin_once<T>(spins: &mut u32, deadline: Instant) -> Slept<T> {
    std::hint::spin_loop();
    *spins = spins.wrapping_add(1);
    let timed_out = spins.is_multiple_of(SPINS_PER_CLOCK_CHECK) && Instant::now() >= deadline;
    Slept {
        done: None,
        timed_out,
    }
}

/// Bumps the event count and wakes sleepers, but only if any announced themselves.
fn notify(count: &AtomicU32, waiters: &AtomicU32) {
    count.fetch_add(1, Ordering::SeqCst);
    if waiters.load(Ordering::SeqCst) > 0 {
        // Wake all: a woken waiter whose message another consumer took simply sleeps again.
        let _ = futex::wake(count, futex::Flags::empty(), i32::MAX as u32);
    }
}

fn timespec(d: Duration) -> futex::Timespec {
    futex::Timespec {
        tv_sec: d.as_secs() as i64,
        tv_nsec: i64::from(d.subsec_nanos()),
    }
}

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
//! **Sleeping** ([`WaitMode`]): `Sleep` and `Block` sleep in the kernel on a futex word in the
//! segment, through an event count ([`super::eventcount`]): the sleeper announces itself,
//! retries once, then sleeps only if nothing changed; a notifier bumps the futex word and makes
//! the `futex(FUTEX_WAKE)` system call only while someone is announced, so while nobody sleeps
//! a notify costs no system call and no locked instruction, just a fence. Before its first sleep,
//! `Block` spins briefly ([`SPINS_BEFORE_SLEEP`]), so a busy ring rarely needs the futex at all.
//! `Spin` polls with `spin_loop` instead: the lowest latency, one full CPU per waiter. Each
//! sleep is capped at [`MAX_NAP`], so even a lost or forged wakeup from a hostile peer costs at
//! most that long.
//!
//! System calls: `futex(2)` with `FUTEX_WAIT`/`FUTEX_WAKE` *without* `FUTEX_PRIVATE_FLAG`
//! (the flag would restrict the futex to one process).

use std::time::{Duration, Instant};

use super::Region;
use super::eventcount::EventCount;
use super::ring::{PopError, PushError, Ring};

/// The longest single futex sleep before the waiter looks again.
pub const MAX_NAP: Duration = Duration::from_millis(100);
/// Attempts `OverwriteOldest` makes to free a slot before giving up.
pub const OVERWRITE_RETRIES: u32 = 1000;
/// Spin iterations between looks at the clock.
const SPINS_PER_CLOCK_CHECK: u32 = 256;
/// `Block` spins this many times before its first sleep: a message that arrives within a few
/// microseconds is taken without a `FUTEX_WAIT` here and a `FUTEX_WAKE` in the producer (the
/// trick of adaptive mutexes; `ipc bench` shows what it buys).
pub const SPINS_BEFORE_SLEEP: u32 = 2048;

/// How a waiting process passes the time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitMode {
    /// Sleep in the kernel on a futex at once: the plain version, no CPU while waiting.
    Sleep,
    /// Spin [`SPINS_BEFORE_SLEEP`] times, then sleep on the futex: the tuned version.
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
    ring.items().notify();
    Ok(pushed)
}

/// Dequeues into `buf`, waiting up to `timeout` for a message, and wakes a sleeping producer.
pub fn pop<R: Region>(
    ring: &Ring<R>,
    buf: &mut [u8],
    timeout: Duration,
    mode: WaitMode,
) -> Result<usize, WaitError> {
    let len = wait_for(&ring.items(), mode, timeout, || match ring.try_pop(buf) {
        Err(PopError::Empty) => None,
        other => Some(other),
    })?;
    // A corrupt slot was released too: producers may have room either way.
    ring.spaces().notify();
    len.map_err(WaitError::Pop)
}

/// What a successful batch push did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PushedBatch {
    /// Messages enqueued: the first `pushed` of the batch.
    pub pushed: usize,
    /// Older messages dropped to make room (only with `OverwriteOldest`).
    pub dropped: u32,
}

/// The batch variant of [`push`] (see [`super::batch`]), with one wakeup for the whole batch.
/// Like `write(2)`, `Block` and `Fail` enqueue the longest prefix that fits as soon as at least
/// one message fits (`Block` waits for that, `Fail` does not); the caller sends the rest.
/// `OverwriteOldest` never waits, so it enqueues all of them, dropping old messages as needed.
pub fn push_batch<R: Region>(
    ring: &Ring<R>,
    messages: &[&[u8]],
    policy: FullPolicy,
    mode: WaitMode,
) -> Result<PushedBatch, WaitError> {
    let attempt = || match ring.try_push_batch(messages) {
        Err(PushError::Full) => None,
        other => Some(other),
    };
    let pushed = match policy {
        FullPolicy::Fail => attempt().unwrap_or(Err(PushError::Full)),
        FullPolicy::Block(timeout) => wait_for(&ring.spaces(), mode, timeout, attempt)?,
        FullPolicy::OverwriteOldest => return push_batch_overwriting(ring, messages),
    };
    let pushed = pushed.map_err(|err| match err {
        PushError::Full => WaitError::WouldBlock,
        other => WaitError::Push(other),
    })?;
    ring.items().notify();
    Ok(PushedBatch { pushed, dropped: 0 })
}

/// The batch variant of [`pop`]: waits up to `timeout` for the first message, then takes up to
/// `max` (see [`Ring::try_pop_batch`] for `scratch` and `each`), with one wakeup for the batch.
pub fn pop_batch<R: Region>(
    ring: &Ring<R>,
    max: usize,
    scratch: &mut [u8],
    timeout: Duration,
    mode: WaitMode,
    mut each: impl FnMut(Result<&[u8], PopError>),
) -> Result<usize, WaitError> {
    let taken = wait_for(&ring.items(), mode, timeout, || {
        match ring.try_pop_batch(max, scratch, &mut each) {
            Err(PopError::Empty) => None,
            other => Some(other),
        }
    })?;
    ring.spaces().notify();
    taken.map_err(WaitError::Pop)
}

/// `OverwriteOldest` for a batch: push what fits, drop the oldest message, repeat; at most
/// [`OVERWRITE_RETRIES`] attempts in a row that push nothing.
fn push_batch_overwriting<R: Region>(
    ring: &Ring<R>,
    messages: &[&[u8]],
) -> Result<PushedBatch, WaitError> {
    let mut done = PushedBatch {
        pushed: 0,
        dropped: 0,
    };
    let mut misses = 0;
    while done.pushed < messages.len() && misses < OVERWRITE_RETRIES {
        match ring.try_push_batch(&messages[done.pushed..]) {
            Ok(n) => {
                done.pushed += n;
                misses = 0;
            }
            Err(PushError::Full) => {
                misses += 1;
                match ring.try_discard() {
                    Ok(_) | Err(PopError::Corrupt { .. }) => done.dropped += 1,
                    Err(_) => std::thread::yield_now(),
                }
            }
            Err(other) => return Err(WaitError::Push(other)),
        }
    }
    ring.items().notify();
    if done.pushed == 0 && !messages.is_empty() {
        return Err(WaitError::WouldBlock);
    }
    Ok(done)
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
    wait_for(&ring.spaces(), mode, timeout, || {
        match ring.try_push(message) {
            Err(PushError::Full) => None,
            other => Some(other),
        }
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

/// Retries `attempt` until it yields `Some`, sleeping on `events` or spinning in between, up to
/// `timeout`.
fn wait_for<T>(
    events: &EventCount<'_>,
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
        let step = match mode {
            WaitMode::Sleep => sleep_once(events, deadline, &mut attempt),
            WaitMode::Block if spins >= SPINS_BEFORE_SLEEP => {
                sleep_once(events, deadline, &mut attempt)
            }
            WaitMode::Block | WaitMode::Spin => spin_once(&mut spins, deadline),
        };
        if let Some(done) = step.done {
            return Ok(done);
        }
        if step.timed_out {
            return Err(WaitError::Timeout(timeout));
        }
    }
}

/// One sleep on the event count, at most until `deadline` and at most [`MAX_NAP`].
fn sleep_once<T>(
    events: &EventCount<'_>,
    deadline: Instant,
    attempt: &mut impl FnMut() -> Option<T>,
) -> Slept<T> {
    let nap = deadline
        .saturating_duration_since(Instant::now())
        .min(MAX_NAP);
    let done = events.sleep_unless(Some(nap), attempt);
    let timed_out = done.is_none() && Instant::now() >= deadline;
    Slept { done, timed_out }
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

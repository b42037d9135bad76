//! The two futex calls the event count needs, `FUTEX_WAIT` and `FUTEX_WAKE`, on a word of the
//! shared segment; under `--cfg ipc_loom`, a model of them that loom can explore.
//!
//! The kernel's promise, which the model keeps: `wait(word, expected)` compares the word and goes
//! to sleep as one step with respect to `wake` (both take the same lock inside the kernel), so a
//! wake issued after the word changed can never slip between the compare and the sleep.
//! Neither call uses `FUTEX_PRIVATE_FLAG`: that flag would restrict the futex to one process.
//! System call: `futex(2)`.

use std::time::Duration;

use super::atomic::AtomicU32;

/// Sleeps while `word == expected`, at most `nap` (`None`: until woken). Returns on a wake, a
/// timeout, a signal, or at once if the word already differs; the caller looks again either way.
#[cfg(not(ipc_loom))]
pub fn wait(word: &AtomicU32, expected: u32, nap: Option<Duration>) {
    use rustix::thread::futex;
    let timeout = nap.map(|d| futex::Timespec {
        tv_sec: d.as_secs() as i64,
        tv_nsec: i64::from(d.subsec_nanos()),
    });
    // EAGAIN (the word moved), ETIMEDOUT and EINTR all mean "look again".
    let _ = futex::wait(word, futex::Flags::empty(), expected, timeout.as_ref());
}

/// Wakes every process sleeping on `word`.
#[cfg(not(ipc_loom))]
pub fn wake_all(word: &AtomicU32) {
    // Wake all: a woken waiter whose message another consumer took simply sleeps again.
    let _ =
        rustix::thread::futex::wake(word, rustix::thread::futex::Flags::empty(), i32::MAX as u32);
}

#[cfg(ipc_loom)]
loom::lazy_static! {
    /// The kernel's futex hash bucket, modelled as one lock and one condition for every word
    /// (a wake of another word is then a spurious wakeup, which futex callers must accept).
    static ref BUCKET: (loom::sync::Mutex<()>, loom::sync::Condvar) =
        (loom::sync::Mutex::new(()), loom::sync::Condvar::new());
}

/// The model of `FUTEX_WAIT`: compare under the bucket lock, then sleep. A timed wait may end
/// at any moment, so it returns at once; an untimed one sleeps until a wake (loom reports a
/// deadlock if none ever comes: that is how a lost wakeup shows).
#[cfg(ipc_loom)]
pub fn wait(word: &AtomicU32, expected: u32, nap: Option<Duration>) {
    let guard = BUCKET.0.lock().unwrap();
    if nap.is_some() || word.load(super::atomic::Ordering::Relaxed) != expected {
        return;
    }
    drop(BUCKET.1.wait(guard).unwrap());
}

/// The model of `FUTEX_WAKE` for every waiter.
#[cfg(ipc_loom)]
pub fn wake_all(_word: &AtomicU32) {
    let _guard = BUCKET.0.lock().unwrap();
    BUCKET.1.notify_all();
}

//! Graceful shutdown, the suite's one pattern: SIGINT (Ctrl-C) or SIGTERM stops accepting
//! and lets work in flight finish within a bounded grace period; a second signal during
//! that period stops the process at once.
//!
//! Underneath: `sigaction(2)` through `signal-hook`, whose handler only writes to a pipe;
//! a thread reads the pipe and does the real work outside signal context. Install the
//! handlers BEFORE printing `listening on`, so a signal sent the moment a script sees that
//! line is handled, not fatal.
//!
//! Async loops watch a [`CancellationToken`]; blocking loops poll a stop flag
//! (`Arc<AtomicBool>`, true = stop). The parameter is named `shutdown` in both.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
pub use tokio_util::sync::CancellationToken;

/// The exit code after a second signal cut the grace period short (128 + SIGINT).
pub const EXIT_FORCED: i32 = 130;

/// One shutdown request, seen as a token by async code and as a flag by blocking code.
#[derive(Debug, Clone, Default)]
pub struct Shutdown {
    token: CancellationToken,
    flag: Arc<AtomicBool>,
}

impl Shutdown {
    /// A shutdown triggered only by [`Shutdown::trigger`] (demos and tests).
    pub fn manual() -> Self {
        Self::default()
    }

    /// Installs SIGINT and SIGTERM handlers: the first signal triggers this shutdown, a
    /// second one prints `NAME: second signal, stopping now` and exits with [`EXIT_FORCED`].
    pub fn on_signals(name: &'static str) -> io::Result<Self> {
        let shutdown = Self::manual();
        let mut signals = Signals::new([SIGINT, SIGTERM])?;
        let on_signal = shutdown.clone();
        std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                for _ in signals.forever() {
                    if on_signal.is_triggered() {
                        eprintln!("{name}: second signal, stopping now");
                        std::process::exit(EXIT_FORCED);
                    }
                    on_signal.trigger();
                }
            })?;
        Ok(shutdown)
    }

    /// Requests the shutdown: cancels the token and raises the flag.
    pub fn trigger(&self) {
        self.flag.store(true, Ordering::SeqCst);
        self.token.cancel();
    }

    /// Whether the shutdown has been requested.
    pub fn is_triggered(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// The token async loops select on (`shutdown.cancelled().await`).
    pub fn token(&self) -> CancellationToken {
        self.token.clone()
    }

    /// The flag blocking loops poll between bounded waits (true = stop).
    pub fn flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.flag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trigger_reaches_both_the_token_and_the_flag() {
        let shutdown = Shutdown::manual();
        let (token, flag) = (shutdown.token(), shutdown.flag());
        assert!(!token.is_cancelled() && !flag.load(Ordering::SeqCst));
        shutdown.clone().trigger();
        assert!(token.is_cancelled() && flag.load(Ordering::SeqCst) && shutdown.is_triggered());
    }
}

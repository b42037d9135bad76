//! Logging the suite's way: to stderr, quiet unless `RUST_LOG` asks, and never flooded.
//!
//! A server logs the bad input of its peers as warnings, so a learner sees why a peer was
//! dropped; a demo or a chat window logs nothing unless asked, so its transcript stays
//! readable. A peer that sends a million garbage datagrams must not be able to write a
//! million log lines (that costs the disk and the CPU that should answer good peers), so
//! per-peer warnings go through a [`Throttle`]: a few lines per second, then one line
//! that counts what was left out.

use std::sync::Mutex;
use std::time::{Duration, Instant};

#[doc(hidden)]
pub use tracing as __tracing;

/// What a program logs when `RUST_LOG` is not set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Default {
    /// Warnings and errors: servers, which report their peers' bad input.
    Warn,
    /// Nothing: demos, chat windows and clients, whose stdout is the show.
    Off,
}

/// Installs the tracing subscriber: stderr, filter from `RUST_LOG` (else `default`),
/// colour codes only when stderr is a terminal. A second call does nothing.
pub fn init(default: Default) {
    let fallback = match default {
        Default::Warn => "warn",
        Default::Off => "off",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(fallback));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// A rate limit for one kind of log line: at most `per_window` lines in each window; the
/// rest are counted, and the next line let through says how many were suppressed.
///
/// Declare one per call site as a `static` and log through [`crate::warn_throttled!`].
#[derive(Debug)]
pub struct Throttle {
    per_window: u32,
    window: Duration,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    window_start: Option<Instant>,
    let_through: u32,
    suppressed: u64,
}

/// What a [`Throttle`] decides for one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Log it; `suppressed` lines of this kind were left out since the last one logged.
    Log {
        /// How many lines were suppressed before this one.
        suppressed: u64,
    },
    /// Leave it out (it is counted).
    Suppress,
}

impl Throttle {
    /// At most `lines` lines per second.
    pub const fn per_second(lines: u32) -> Self {
        Self::new(lines, Duration::from_secs(1))
    }

    /// At most `per_window` lines in each `window`.
    pub const fn new(per_window: u32, window: Duration) -> Self {
        Throttle {
            per_window,
            window,
            state: Mutex::new(State {
                window_start: None,
                let_through: 0,
                suppressed: 0,
            }),
        }
    }

    /// Decides for a line logged now.
    pub fn admit(&self) -> Verdict {
        self.admit_at(Instant::now())
    }

    /// Decides for a line logged at `now` (tests pass their own clock).
    pub fn admit_at(&self, now: Instant) -> Verdict {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let expired = state
            .window_start
            .is_none_or(|start| now.duration_since(start) >= self.window);
        if expired {
            state.window_start = Some(now);
            state.let_through = 0;
        }
        if state.let_through >= self.per_window {
            state.suppressed += 1;
            return Verdict::Suppress;
        }
        state.let_through += 1;
        Verdict::Log {
            suppressed: std::mem::take(&mut state.suppressed),
        }
    }

    /// The window's length, for the summary line.
    pub fn window(&self) -> Duration {
        self.window
    }
}

/// `tracing::warn!` through a [`Throttle`]:
/// `support::warn_throttled!(BAD_DATAGRAM, peer = %addr, "garbage datagram: {err}")`.
/// When lines were suppressed, the next one let through is preceded by a summary line.
#[macro_export]
macro_rules! warn_throttled {
    ($throttle:expr, $($arg:tt)+) => {{
        if let $crate::log::Verdict::Log { suppressed } = $throttle.admit() {
            if suppressed > 0 {
                $crate::log::__tracing::warn!(
                    "({suppressed} similar warnings suppressed, at most one burst per {:?})",
                    $throttle.window()
                );
            }
            $crate::log::__tracing::warn!($($arg)+);
        }
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_beyond_the_limit_is_counted_and_reported_by_the_next_window() {
        let throttle = Throttle::per_second(3);
        let t0 = Instant::now();
        let verdicts: Vec<Verdict> = (0..10).map(|_| throttle.admit_at(t0)).collect();
        assert_eq!(
            verdicts
                .iter()
                .filter(|v| matches!(v, Verdict::Log { .. }))
                .count(),
            3
        );
        assert_eq!(
            throttle.admit_at(t0 + Duration::from_millis(999)),
            Verdict::Suppress
        );
        assert_eq!(
            throttle.admit_at(t0 + Duration::from_secs(1)),
            Verdict::Log { suppressed: 8 }
        );
        assert_eq!(
            throttle.admit_at(t0 + Duration::from_secs(1)),
            Verdict::Log { suppressed: 0 }
        );
    }

    #[test]
    fn the_macro_compiles_with_fields_and_format_arguments() {
        static LINES: Throttle = Throttle::per_second(1);
        let peer = "127.0.0.1:9";
        for n in 0..3 {
            crate::warn_throttled!(LINES, peer = %peer, "bad datagram number {n}");
        }
        assert_eq!(LINES.admit(), Verdict::Suppress);
    }
}

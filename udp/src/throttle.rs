//! Rate-limited warnings: a server that logs one line per bad datagram lets any peer fill the
//! disk (and slow every answer down to the speed of its stderr). A [`Throttle`] lets at most N
//! lines per second through from one call site and counts the rest; the next line that gets
//! through is preceded by one summary, `(N similar warnings suppressed in the last 1 s)`.
//!
//! ```
//! static BAD_DATAGRAM: udp::throttle::Throttle = udp::throttle::Throttle::per_second(10);
//! let peer = "127.0.0.1:5000";
//! udp::warn_throttled!(BAD_DATAGRAM, %peer, "garbage datagram");
//! ```

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The window a [`Throttle`] counts in.
pub const WINDOW: Duration = Duration::from_secs(1);

/// Lets at most `limit` events through per [`WINDOW`] and counts the others.
#[derive(Debug)]
pub struct Throttle {
    limit: u32,
    window: Mutex<Window>,
}

#[derive(Debug)]
struct Window {
    start: Option<Instant>,
    admitted: u32,
    suppressed: u64,
}

/// What [`Throttle::admit`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Log it; `suppressed` events were held back in the window that just ended.
    Yes {
        /// Events suppressed since the last one let through, to be summarised first.
        suppressed: u64,
    },
    /// Over the limit: counted, not logged.
    No,
}

impl Throttle {
    /// At most `limit` events per second (a `const fn`, for a `static` per call site).
    pub const fn per_second(limit: u32) -> Throttle {
        Throttle {
            limit,
            window: Mutex::new(Window {
                start: None,
                admitted: 0,
                suppressed: 0,
            }),
        }
    }

    /// Decides for one event happening now.
    pub fn admit(&self) -> Admit {
        self.admit_at(Instant::now())
    }

    /// Decides for one event happening at `now` (a parameter so tests need no real time).
    pub fn admit_at(&self, now: Instant) -> Admit {
        let mut w = self
            .window
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let expired = w
            .start
            .is_none_or(|start| now.duration_since(start) >= WINDOW);
        if expired {
            let suppressed = std::mem::take(&mut w.suppressed);
            w.start = Some(now);
            w.admitted = 1;
            return Admit::Yes { suppressed };
        }
        if w.admitted < self.limit {
            w.admitted += 1;
            return Admit::Yes { suppressed: 0 };
        }
        w.suppressed += 1;
        Admit::No
    }
}

/// `tracing::warn!` through a [`Throttle`]: `warn_throttled!(STATIC_THROTTLE, fields..., "fmt", args...)`.
#[macro_export]
macro_rules! warn_throttled {
    ($throttle:expr, $($arg:tt)+) => {
        if let $crate::throttle::Admit::Yes { suppressed } = $throttle.admit() {
            if suppressed > 0 {
                $crate::throttle::__tracing::warn!(
                    "({suppressed} similar warnings suppressed in the last 1 s)"
                );
            }
            $crate::throttle::__tracing::warn!($($arg)+);
        }
    };
}

#[doc(hidden)]
pub use tracing as __tracing;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_most_the_limit_per_window_then_a_count_of_the_rest() {
        let throttle = Throttle::per_second(3);
        let t0 = Instant::now();
        let first: Vec<Admit> = (0..5).map(|_| throttle.admit_at(t0)).collect();
        assert_eq!(
            first,
            [
                Admit::Yes { suppressed: 0 },
                Admit::Yes { suppressed: 0 },
                Admit::Yes { suppressed: 0 },
                Admit::No,
                Admit::No
            ]
        );
        let almost = t0 + WINDOW - Duration::from_millis(1);
        assert_eq!(throttle.admit_at(almost), Admit::No);
        // A new window: the next event gets through and carries the count of the old one.
        assert_eq!(throttle.admit_at(t0 + WINDOW), Admit::Yes { suppressed: 3 });
        assert_eq!(throttle.admit_at(t0 + WINDOW), Admit::Yes { suppressed: 0 });
    }

    #[test]
    fn a_flood_of_a_million_events_lets_through_only_the_limit() {
        let throttle = Throttle::per_second(10);
        let t0 = Instant::now();
        let through = (0..1_000_000)
            .filter(|_| throttle.admit_at(t0) != Admit::No)
            .count();
        assert_eq!(through, 10);
    }
}

//! Deadlines as relative durations.
//!
//! A call carries the time its caller will still wait, in milliseconds, never an
//! absolute clock time: two machines' clocks differ, but a duration means the same on
//! both. The receiver turns it back into an instant on *its* clock at arrival
//! (gRPC's `grpc-timeout` header works the same way). Network delay makes the server's
//! deadline a little later than the caller's; that is harmless, because the caller has
//! stopped waiting by then anyway. Timers underneath are tokio's (`epoll_wait(2)`
//! timeouts), on the monotonic clock (`clock_gettime(CLOCK_MONOTONIC)`), read through
//! tokio so that tests can pause and advance it.

use std::time::{Duration, Instant};

/// The wire value meaning "no deadline".
pub const NO_DEADLINE: u32 = 0;

/// The wire value for `remaining`: whole milliseconds, rounded up (so a short deadline
/// never becomes 0, "none"), saturating at `u32::MAX` (about 49 days).
pub fn to_wire(remaining: Duration) -> u32 {
    let ms = remaining.as_micros().div_ceil(1000).max(1);
    u32::try_from(ms).unwrap_or(u32::MAX)
}

/// The instant on this machine's clock by which a call that arrived at `arrived` with
/// wire value `deadline_ms` must be done; `None` if it has no deadline.
pub fn from_wire(deadline_ms: u32, arrived: Instant) -> Option<Instant> {
    match deadline_ms {
        NO_DEADLINE => None,
        ms => Some(arrived + Duration::from_millis(u64::from(ms))),
    }
}

/// True if `deadline` has passed.
pub fn expired(deadline: Option<Instant>) -> bool {
    deadline.is_some_and(|d| tokio::time::Instant::now().into_std() >= d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_up_and_saturates() {
        assert_eq!(to_wire(Duration::from_micros(1)), 1);
        assert_eq!(to_wire(Duration::ZERO), 1);
        assert_eq!(to_wire(Duration::from_millis(1500)), 1500);
        assert_eq!(to_wire(Duration::from_secs(1 << 40)), u32::MAX);
    }

    #[test]
    fn zero_means_none() {
        let now = Instant::now();
        assert_eq!(from_wire(0, now), None);
        assert_eq!(from_wire(5, now), Some(now + Duration::from_millis(5)));
        assert!(!expired(None));
        assert!(expired(Some(now)));
    }
}

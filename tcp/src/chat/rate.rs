//! How fast one member may send: a token bucket over the bytes it writes.
//!
//! Without a limit, one member on a fast link could push lines into every other member's
//! outbox faster than members on slow links can read them, and get them all evicted. With
//! it, a member that sends faster than the rate simply stops being read for a while: its
//! bytes wait in its own socket buffers, TCP flow control slows it down, and nobody else
//! notices. Short bursts (up to the bucket's capacity) pass at full speed.

use std::time::Duration;
use tokio::time::Instant;

/// Tokens (bytes) refill at `rate` per second up to `capacity`.
#[derive(Debug)]
pub struct TokenBucket {
    rate: f64,
    capacity: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket for `rate` bytes per second with bursts of up to `burst` bytes.
    pub fn new(rate: u64, burst: usize) -> Self {
        let capacity = burst.max(1) as f64;
        TokenBucket {
            rate: rate.max(1) as f64,
            capacity,
            tokens: capacity,
            last: Instant::now(),
        }
    }

    /// Takes `bytes` tokens; returns how long to pause before reading more (zero while the
    /// member stays within its rate).
    pub fn take(&mut self, bytes: usize) -> Duration {
        let now = Instant::now();
        let refill = now.duration_since(self.last).as_secs_f64() * self.rate;
        self.tokens = (self.tokens + refill).min(self.capacity) - bytes as f64;
        self.last = now;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.rate)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_burst_passes_and_the_excess_waits_for_its_share_of_time() {
        let mut bucket = TokenBucket::new(1000, 1000);
        assert_eq!(bucket.take(1000), Duration::ZERO, "a whole burst at once");
        assert_eq!(bucket.take(500), Duration::from_millis(500));
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(bucket.take(0), Duration::ZERO);
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert_eq!(
            bucket.take(1000),
            Duration::ZERO,
            "the burst never exceeds one second"
        );
        assert_eq!(bucket.take(1), Duration::from_millis(1));
    }
}

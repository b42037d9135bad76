//! Making a fast link look slow: a fixed delay and a bandwidth cap.
//!
//! The delay is a delay line, not a pause: every chunk is stamped with the time it was
//! read and forwarded `delay` later, while the next chunks are already being read. So
//! latency grows by `delay` and throughput stays the same, as on a long cable.
//!
//! The throttle paces writes so that, from the first byte on, no more than
//! `rate` bytes per second go out: after each small piece the writer sleeps until the
//! moment the bytes so far are "allowed". Writes are cut into pieces of about 20 ms of
//! traffic so the pacing is smooth instead of one burst per second.

use std::io;
use std::time::Duration;
use tokio::io::AsyncWrite;
use tokio::time::Instant;

use super::pump::write_within;

/// Paces writes to at most a fixed number of bytes per second.
#[derive(Debug)]
pub struct Throttle {
    bytes_per_s: u64,
    started: Option<Instant>,
    sent: u64,
}

impl Throttle {
    /// A throttle of `kbps` kilobits per second (1 kbps = 1000 bit/s = 125 bytes/s).
    pub fn from_kbps(kbps: u64) -> Self {
        Throttle {
            bytes_per_s: (kbps * 125).max(1),
            started: None,
            sent: 0,
        }
    }

    /// Bytes per write piece: about 20 ms of traffic, between 64 B and 16 KiB.
    fn piece(&self) -> usize {
        (self.bytes_per_s / 50).clamp(64, 16 * 1024) as usize
    }

    /// Writes `bytes` to `out` no faster than the rate allows; each piece must be written
    /// whole within `deadline` (the pauses between pieces are the throttle's, not the
    /// receiver's, so they do not count).
    pub async fn write_all<W: AsyncWrite + Unpin>(
        &mut self,
        out: &mut W,
        bytes: &[u8],
        deadline: Duration,
    ) -> io::Result<()> {
        let started = *self.started.get_or_insert_with(Instant::now);
        for piece in bytes.chunks(self.piece()) {
            write_within(out, piece, deadline).await?;
            self.sent += piece.len() as u64;
            let allowed_at =
                started + Duration::from_secs_f64(self.sent as f64 / self.bytes_per_s as f64);
            tokio::time::sleep_until(allowed_at).await;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn ten_kilobytes_at_eight_kbps_take_ten_seconds() {
        let mut throttle = Throttle::from_kbps(8); // 1000 bytes per second
        let mut out = Vec::new();
        let start = Instant::now();
        throttle
            .write_all(&mut out, &[1u8; 10_000], Duration::from_secs(1))
            .await
            .unwrap();
        assert_eq!(out.len(), 10_000);
        let took = start.elapsed();
        assert!(
            took >= Duration::from_secs(10) && took < Duration::from_millis(10_100),
            "{took:?}"
        );
    }
}

//! Latency percentiles, the suite's one rule: every bench records into an HDR histogram
//! (`hdrhistogram`, 3 significant digits) and reads p50/p99 from it, so "p99" means the
//! same thing in every crate's figures.

use std::time::Duration;

use hdrhistogram::Histogram;

/// Recorded latencies, in nanoseconds, up to about an hour, with 3 significant digits.
#[derive(Debug, Clone)]
pub struct Latencies {
    histogram: Histogram<u64>,
}

impl Default for Latencies {
    fn default() -> Self {
        Self::new()
    }
}

impl Latencies {
    /// An empty record.
    pub fn new() -> Self {
        let histogram = Histogram::new_with_bounds(1, 3_600_000_000_000, 3)
            .expect("the bounds are valid constants");
        Latencies { histogram }
    }

    /// Records one latency (values past the upper bound are clamped to it).
    pub fn record(&mut self, latency: Duration) {
        let nanos = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX).max(1);
        self.histogram.saturating_record(nanos);
    }

    /// Adds another record's samples (e.g. one per client thread).
    pub fn merge(&mut self, other: &Latencies) {
        // Both histograms have the same bounds, so adding cannot fail.
        let _ = self.histogram.add(&other.histogram);
    }

    /// How many latencies were recorded.
    pub fn count(&self) -> u64 {
        self.histogram.len()
    }

    /// The latency at quantile `q` (0.0-1.0), in microseconds; 0 when empty.
    pub fn quantile_us(&self, q: f64) -> f64 {
        if self.histogram.is_empty() {
            return 0.0;
        }
        self.histogram.value_at_quantile(q) as f64 / 1_000.0
    }

    /// The median, in microseconds.
    pub fn p50_us(&self) -> f64 {
        self.quantile_us(0.50)
    }

    /// The 99th percentile, in microseconds.
    pub fn p99_us(&self) -> f64 {
        self.quantile_us(0.99)
    }

    /// The largest latency, in microseconds.
    pub fn max_us(&self) -> f64 {
        if self.histogram.is_empty() {
            0.0
        } else {
            self.histogram.max() as f64 / 1_000.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_a_known_set() {
        let mut lat = Latencies::new();
        for us in 1..=100 {
            lat.record(Duration::from_micros(us));
        }
        assert_eq!(lat.count(), 100);
        assert!((lat.p50_us() - 50.0).abs() < 0.1, "{}", lat.p50_us());
        assert!((lat.p99_us() - 99.0).abs() < 0.1, "{}", lat.p99_us());
        assert!((lat.max_us() - 100.0).abs() < 0.1);
    }

    #[test]
    fn merging_adds_samples_and_empty_is_zero() {
        let mut a = Latencies::new();
        assert_eq!((a.p50_us(), a.max_us()), (0.0, 0.0));
        let mut b = Latencies::new();
        b.record(Duration::from_millis(2));
        a.merge(&b);
        assert_eq!(a.count(), 1);
        assert!((a.p99_us() - 2000.0).abs() < 2.0);
    }
}

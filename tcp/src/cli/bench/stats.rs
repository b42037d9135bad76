//! Latency percentiles from a fixed-size histogram, so a long run needs no more memory
//! than a short one.
//!
//! Values below 1024 µs get a bucket each; above that, each power of two is split into
//! 64 buckets, so a reported percentile is within about 1.6 % of the true value.

/// Exact buckets below this many microseconds.
const LINEAR: u64 = 1024;
/// Buckets per power of two above [`LINEAR`].
const SUB_BUCKETS: u64 = 64;
/// Total buckets: covers values up to 2^63.
const BUCKETS: usize = (LINEAR + (64 - 10) * SUB_BUCKETS) as usize;

/// Counts of latencies in microseconds.
#[derive(Debug, Clone)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: vec![0; BUCKETS],
            total: 0,
        }
    }
}

impl Histogram {
    /// Records one value (microseconds).
    pub fn record(&mut self, micros: u64) {
        self.counts[bucket_of(micros)] += 1;
        self.total += 1;
    }

    /// Adds all of `other`'s counts to this one.
    pub fn merge(&mut self, other: &Histogram) {
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
        self.total += other.total;
    }

    /// How many values were recorded.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// The value below which `pct` percent of the recorded values lie (0 when empty).
    pub fn percentile(&self, pct: f64) -> u64 {
        let rank = ((pct / 100.0) * self.total as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (bucket, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return lowest_value(bucket);
            }
        }
        0
    }
}

/// The bucket holding `v`.
fn bucket_of(v: u64) -> usize {
    if v < LINEAR {
        return v as usize;
    }
    let power = 63 - u64::from(v.leading_zeros()); // >= 10
    let sub = (v >> (power - 6)) & (SUB_BUCKETS - 1);
    (LINEAR + (power - 10) * SUB_BUCKETS + sub) as usize
}

/// The smallest value that falls in `bucket`.
fn lowest_value(bucket: usize) -> u64 {
    let b = bucket as u64;
    if b < LINEAR {
        return b;
    }
    let power = (b - LINEAR) / SUB_BUCKETS + 10;
    let sub = (b - LINEAR) % SUB_BUCKETS;
    (1 << power) | (sub << (power - 6))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_values_are_exact() {
        let mut h = Histogram::default();
        for v in 1..=100 {
            h.record(v);
        }
        assert_eq!(h.percentile(50.0), 50);
        assert_eq!(h.percentile(99.0), 99);
        assert_eq!(h.percentile(100.0), 100);
    }

    #[test]
    fn large_values_are_close() {
        for v in [1024u64, 5000, 123_456, 9_999_999] {
            let mut h = Histogram::default();
            h.record(v);
            let got = h.percentile(50.0);
            assert!(got <= v && v - got <= v / 60, "{v} reported as {got}");
        }
    }

    #[test]
    fn empty_reports_zero() {
        assert_eq!(Histogram::default().percentile(99.0), 0);
    }
}

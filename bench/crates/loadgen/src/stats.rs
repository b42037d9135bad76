//! Small helpers: latency histograms and the final `key=value` line.

use hdrhistogram::Histogram;
use std::fmt::Display;

pub type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Latency histogram in nanoseconds, 1 ns .. 120 s, 3 significant digits.
pub fn new_hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 120_000_000_000, 3).expect("histogram bounds")
}

pub fn record(h: &mut Histogram<u64>, ns: u64) {
    h.saturating_record(ns.max(1));
}

/// Builder for the single final `key=value` line.
#[derive(Default)]
pub struct Kv(Vec<String>);

impl Kv {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn put(&mut self, k: &str, v: impl Display) -> &mut Self {
        self.0.push(format!("{k}={}", kv_escape(&v.to_string())));
        self
    }
    pub fn f(&mut self, k: &str, v: f64, decimals: usize) -> &mut Self {
        self.0.push(format!("{k}={v:.decimals$}"));
        self
    }
    /// p50/p99/p999/max in microseconds (1 decimal) from a nanosecond histogram.
    pub fn lat(&mut self, h: &Histogram<u64>) -> &mut Self {
        self.lat_named("", h)
    }
    /// As [`Kv::lat`], each key starting with `prefix` (`arrival_p99_us`).
    pub fn lat_named(&mut self, prefix: &str, h: &Histogram<u64>) -> &mut Self {
        let us = |v: u64| v as f64 / 1000.0;
        let quantiles = [("p50_us", 0.50), ("p99_us", 0.99), ("p999_us", 0.999)];
        for (key, q) in quantiles {
            let key = format!("{prefix}{key}");
            match h.is_empty() {
                true => self.put(&key, "nan"),
                false => self.f(&key, us(h.value_at_quantile(q)), 1),
            };
        }
        match h.is_empty() {
            true => self.put(&format!("{prefix}max_us"), "nan"),
            false => self.f(&format!("{prefix}max_us"), us(h.max()), 1),
        };
        self
    }
    pub fn line(&self) -> String {
        self.0.join(" ")
    }
}

/// Values must not contain spaces or '=' so the line stays machine-splittable.
pub fn kv_escape(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_whitespace() || c == '=' {
                '_'
            } else {
                c
            }
        })
        .collect()
}

/// Deterministic byte pattern used to verify echoed data. The period 251 (prime) keeps
/// consecutive 64 KiB chunks / messages distinguishable.
pub const PERIOD: usize = 251;

pub fn pattern(len: usize, salt: u8) -> Vec<u8> {
    (0..len + PERIOD)
        .map(|i| ((i % PERIOD) as u8).wrapping_mul(7) ^ salt)
        .collect()
}

/// Value of `key` in a `key=value` line (tests and tooling).
#[cfg(test)]
pub fn kv_get<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split(' ')
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn kv_line_is_splittable() {
        let mut kv = Kv::new();
        kv.put("a", "x y=z").f("b", 1.25, 1);
        assert_eq!(kv.line(), "a=x_y_z b=1.2");
        assert_eq!(kv_get("a=1 ab=2 b=3", "b"), Some("3"));
    }
    #[test]
    fn pattern_is_periodic() {
        let p = pattern(1000, 9);
        assert_eq!(p[3..3 + 500], p[3 + PERIOD..3 + PERIOD + 500]);
    }
}

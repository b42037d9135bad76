//! A tiny seeded random number generator (SplitMix64), so that every fault the UDP proxy
//! injects is the same for the same seed: reproducible tests and demos. No system calls: pure
//! arithmetic on a 64-bit state.
//!
//! SplitMix64 is Steele, Lea and Flood's generator ("Fast splittable pseudorandom number
//! generators", OOPSLA 2014): one 64-bit add and a mixing function per number. It is not
//! cryptographic; nothing here needs that.

/// Golden-ratio increment of SplitMix64.
const GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

/// A deterministic stream of pseudo-random numbers.
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator that always yields the same sequence for the same `seed`.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GAMMA);
        mix(self.state)
    }

    /// A float uniformly in `[0, 1)` (53 random bits).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `p` (clamped to `[0, 1]`).
    pub fn chance(&mut self, p: f64) -> bool {
        self.next_f64() < p.clamp(0.0, 1.0)
    }
}

/// The SplitMix64 output function: also a good 64-bit hash of `key`.
pub fn mix(key: u64) -> u64 {
    let mut z = key;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sequence() {
        let a: Vec<u64> = (0..5)
            .scan(SplitMix64::new(42), |r, _| Some(r.next_u64()))
            .collect();
        let b: Vec<u64> = (0..5)
            .scan(SplitMix64::new(42), |r, _| Some(r.next_u64()))
            .collect();
        let c: Vec<u64> = (0..5)
            .scan(SplitMix64::new(43), |r, _| Some(r.next_u64()))
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn reference_value() {
        // First output for seed 1234567 from the reference C implementation.
        assert_eq!(
            SplitMix64::new(1_234_567).next_u64(),
            6_457_827_717_110_365_317
        );
    }

    #[test]
    fn chance_follows_probability() {
        let mut r = SplitMix64::new(7);
        let hits = (0..10_000).filter(|_| r.chance(0.3)).count();
        assert!((2_700..3_300).contains(&hits), "{hits}");
        assert!(!SplitMix64::new(1).chance(0.0));
        assert!(SplitMix64::new(1).chance(1.0));
    }
}

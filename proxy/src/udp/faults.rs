//! What happens to each datagram crossing the proxy: dropped, duplicated, held back so that
//! later ones overtake it (reordered), delayed. Decided by a pure function of the seed, the
//! session number, the direction and the datagram's index in that direction
//! ([`Faults::fate`]): the same seed gives the same fates, however the scheduler interleaves
//! tasks.

use std::time::Duration;

use crate::rng::{SplitMix64, mix};
use crate::transcript::Direction;

/// How long a reordered datagram is held back beyond the normal delay, so that later
/// datagrams overtake it.
pub const DEFAULT_REORDER_HOLD: Duration = Duration::from_millis(30);

/// Fault probabilities and delays. Probabilities are in `[0, 1]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Faults {
    /// Probability that a datagram is dropped.
    pub loss: f64,
    /// Probability that a datagram is sent twice.
    pub duplicate: f64,
    /// Probability that a datagram is held back by `reorder_hold`.
    pub reorder: f64,
    /// Added to every datagram's trip.
    pub delay: Duration,
    /// Extra hold of a reordered datagram.
    pub reorder_hold: Duration,
    /// Seed of every decision.
    pub seed: u64,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            delay: Duration::ZERO,
            reorder_hold: DEFAULT_REORDER_HOLD,
            seed: 0,
        }
    }
}

/// The decision for one datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fate {
    /// Not forwarded at all.
    pub dropped: bool,
    /// Forwarded twice.
    pub duplicated: bool,
    /// Held back so later datagrams overtake it.
    pub reordered: bool,
    /// Total wait before sending.
    pub wait: Duration,
}

impl Faults {
    /// The fate of datagram number `index` (from 0) of `session` going `dir`.
    pub fn fate(&self, session: u64, dir: Direction, index: u64) -> Fate {
        let stream = session << 1 | u64::from(dir == Direction::ServerToClient);
        let mut rng = SplitMix64::new(mix(self.seed ^ mix(stream)) ^ mix(!index));
        let dropped = rng.chance(self.loss);
        let duplicated = rng.chance(self.duplicate);
        let reordered = rng.chance(self.reorder);
        let hold = if reordered {
            self.reorder_hold
        } else {
            Duration::ZERO
        };
        Fate {
            dropped,
            duplicated: duplicated && !dropped,
            reordered: reordered && !dropped,
            wait: self.delay + hold,
        }
    }

    /// Checks that every probability is in `[0, 1]`.
    pub fn validate(&self) -> Result<(), String> {
        for (name, p) in [
            ("loss", self.loss),
            ("duplicate", self.duplicate),
            ("reorder", self.reorder),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return Err(format!(
                    "--{name} must be a probability between 0 and 1, got {p}"
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lossy(seed: u64) -> Faults {
        Faults {
            loss: 0.3,
            duplicate: 0.1,
            reorder: 0.1,
            seed,
            ..Faults::default()
        }
    }

    fn fates(f: &Faults) -> Vec<Fate> {
        (0..200)
            .map(|i| f.fate(1, Direction::ClientToServer, i))
            .collect()
    }

    #[test]
    fn same_seed_same_fates_other_seed_other_fates() {
        assert_eq!(fates(&lossy(9)), fates(&lossy(9)));
        assert_ne!(fates(&lossy(9)), fates(&lossy(10)));
    }

    #[test]
    fn directions_and_sessions_are_independent_streams() {
        let f = lossy(9);
        let a: Vec<bool> = (0..64)
            .map(|i| f.fate(1, Direction::ClientToServer, i).dropped)
            .collect();
        let b: Vec<bool> = (0..64)
            .map(|i| f.fate(1, Direction::ServerToClient, i).dropped)
            .collect();
        let c: Vec<bool> = (0..64)
            .map(|i| f.fate(2, Direction::ClientToServer, i).dropped)
            .collect();
        assert_ne!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn rates_roughly_match_probabilities() {
        let f = lossy(1);
        let all: Vec<Fate> = (0..10_000)
            .map(|i| f.fate(1, Direction::ClientToServer, i))
            .collect();
        let dropped = all.iter().filter(|x| x.dropped).count();
        assert!((2_700..3_300).contains(&dropped), "{dropped}");
        assert!(all.iter().all(|x| !(x.dropped && x.duplicated)));
    }

    #[test]
    fn no_faults_means_everything_passes_at_once() {
        let f = Faults::default();
        assert!(
            fates(&f)
                .iter()
                .all(|x| !x.dropped && !x.duplicated && x.wait.is_zero())
        );
    }

    #[test]
    fn probabilities_are_validated() {
        assert!(
            Faults {
                loss: 1.5,
                ..Faults::default()
            }
            .validate()
            .is_err()
        );
        assert!(
            Faults {
                reorder: -0.1,
                ..Faults::default()
            }
            .validate()
            .is_err()
        );
        assert!(lossy(0).validate().is_ok());
    }
}

//! In-flight slots shared fairly between sources: who may start a call now.
//!
//! A UDP server has no connection to stop reading (TCP's back-pressure), so it must say
//! no. It runs at most [`DEFAULT_UDP_MAX_IN_FLIGHT`] calls at once, and at most
//! [`DEFAULT_UDP_MAX_IN_FLIGHT_PER_SOURCE`] of them for one source (address and port):
//! one socket sending slow calls fills its own share and gets BUSY, while everyone else
//! still finds free slots. A call that finishes without waiting (most do) gives its slot
//! back before the next datagram is read, so fast calls never queue behind slow ones.
//!
//! No system calls: a mutex-protected count per source, at most one map entry per
//! source that holds a slot.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// Default bound on calls running at once on a UDP server (`--max-in-flight`).
pub const DEFAULT_UDP_MAX_IN_FLIGHT: usize = 256;
/// Default bound on calls running at once for one source (`--max-in-flight-per-source`).
pub const DEFAULT_UDP_MAX_IN_FLIGHT_PER_SOURCE: usize = 16;

/// Why a call was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Every slot of the server is taken.
    ServerFull,
    /// The caller's source holds its share.
    SourceFull,
}

/// The slots of one server.
#[derive(Debug)]
pub struct InFlight {
    max_total: usize,
    max_per_source: usize,
    counts: Mutex<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    by_source: HashMap<SocketAddr, usize>,
}

/// A slot held by one running call; dropping it gives the slot back.
#[derive(Debug)]
pub struct Ticket {
    slots: Arc<InFlight>,
    source: SocketAddr,
}

impl InFlight {
    /// `max_total` slots, at most `max_per_source` for one source (both at least 1).
    pub fn new(max_total: usize, max_per_source: usize) -> Arc<InFlight> {
        Arc::new(InFlight {
            max_total: max_total.max(1),
            max_per_source: max_per_source.max(1),
            counts: Mutex::default(),
        })
    }

    /// Takes a slot for a call from `source`, if both bounds allow it.
    pub fn try_admit(self: &Arc<Self>, source: SocketAddr) -> Result<Ticket, Refused> {
        let mut counts = self.lock();
        if counts.total >= self.max_total {
            return Err(Refused::ServerFull);
        }
        let held = counts.by_source.entry(source).or_default();
        if *held >= self.max_per_source {
            return Err(Refused::SourceFull);
        }
        *held += 1;
        counts.total += 1;
        Ok(Ticket {
            slots: self.clone(),
            source,
        })
    }

    /// Slots taken now, and sources holding any.
    pub fn in_use(&self) -> (usize, usize) {
        let counts = self.lock();
        (counts.total, counts.by_source.len())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut counts = self.slots.lock();
        counts.total -= 1;
        if let Some(held) = counts.by_source.get_mut(&self.source) {
            *held -= 1;
            if *held == 0 {
                counts.by_source.remove(&self.source);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn one_source_takes_only_its_share_and_slots_come_back() {
        let slots = InFlight::new(10, 3);
        let held: Vec<_> = (0..3)
            .map(|_| slots.try_admit(source(1)).unwrap())
            .collect();
        assert_eq!(slots.try_admit(source(1)).unwrap_err(), Refused::SourceFull);
        let other = slots.try_admit(source(2)).unwrap();
        assert_eq!(slots.in_use(), (4, 2));
        drop(held);
        drop(other);
        assert_eq!(slots.in_use(), (0, 0), "no bookkeeping left behind");
    }

    #[test]
    fn the_total_bounds_all_sources_together() {
        let slots = InFlight::new(4, 2);
        let _held: Vec<_> = (1..=2)
            .flat_map(|port| [slots.try_admit(source(port)), slots.try_admit(source(port))])
            .map(Result::unwrap)
            .collect();
        assert_eq!(slots.try_admit(source(3)).unwrap_err(), Refused::ServerFull);
        assert_eq!(slots.in_use(), (4, 2));
    }
}

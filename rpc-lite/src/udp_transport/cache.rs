//! The reply cache: what makes a retransmitted call run at most once.
//!
//! Keyed by (client address, call id). A call is entered as *running* when it starts;
//! when it finishes its reply is stored. A retransmission finds the entry and is either
//! ignored (still running: the reply will go out when it is ready) or answered with
//! the stored reply. Entries expire [`DEFAULT_CACHE_TTL`] after they were made, and the
//! cache holds at most [`DEFAULT_CACHE_CAPACITY`] of them: when full, the oldest entry
//! is evicted. Both bounds are the price of bounded memory: a retransmission that comes
//! after its entry left the cache would run again, so clients must stop retransmitting
//! well before the TTL (this crate's client stops at its deadline; the server caps
//! deadlines on UDP at the TTL).

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;

/// Default number of remembered calls (`--cache-capacity`).
pub const DEFAULT_CACHE_CAPACITY: usize = 4096;
/// Default bound on the bytes of stored replies (`--cache-bytes`): without it 4096
/// entries of 64 KiB replies could pin 256 MiB.
pub const DEFAULT_CACHE_BYTES: usize = 16 << 20;
/// Default time a reply is remembered (`--cache-ttl-ms`).
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(30);

/// Identifies one call from one client.
pub type CallKey = (SocketAddr, u64);

/// What the cache knows about a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// First time seen: it is now entered as running, and the caller should run it.
    New,
    /// A duplicate of a call that is still running: ignore it.
    Running,
    /// A duplicate of a finished call: resend this reply (`None`: the call was dropped
    /// because its deadline passed; stay silent, never run it again).
    Answered(Option<Bytes>),
}

#[derive(Debug)]
enum Entry {
    Running,
    Answered(Option<Bytes>),
}

impl Entry {
    /// Reply bytes held by this entry.
    fn len(&self) -> usize {
        match self {
            Entry::Answered(Some(reply)) => reply.len(),
            _ => 0,
        }
    }
}

/// A bounded, expiring map from calls to their replies.
#[derive(Debug)]
pub struct ReplyCache {
    entries: HashMap<CallKey, (Entry, Instant)>,
    order: VecDeque<(CallKey, Instant)>,
    capacity: usize,
    max_bytes: usize,
    bytes: usize,
    ttl: Duration,
    evicted: u64,
}

impl ReplyCache {
    /// A cache of at most `capacity` entries holding at most `max_bytes` of replies,
    /// each kept for `ttl`.
    pub fn new(capacity: usize, max_bytes: usize, ttl: Duration) -> ReplyCache {
        ReplyCache {
            entries: HashMap::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
            max_bytes,
            bytes: 0,
            ttl,
            evicted: 0,
        }
    }

    /// Looks a call up; enters it as running if it is new.
    pub fn check_in(&mut self, key: CallKey, now: Instant) -> Lookup {
        self.expire(now);
        if let Some((entry, _)) = self.entries.get(&key) {
            return match entry {
                Entry::Running => Lookup::Running,
                Entry::Answered(reply) => Lookup::Answered(reply.clone()),
            };
        }
        while self.entries.len() >= self.capacity {
            self.evict_oldest();
        }
        self.entries.insert(key, (Entry::Running, now));
        self.order.push_back((key, now));
        Lookup::New
    }

    /// Stores the reply of a finished call (`None`: dropped unanswered).
    pub fn answer(&mut self, key: CallKey, reply: Option<Bytes>) {
        let len = reply.as_ref().map_or(0, Bytes::len);
        let Some((entry, _)) = self.entries.get_mut(&key) else {
            return; // evicted while running: nothing to remember it by
        };
        *entry = Entry::Answered(reply);
        self.bytes += len;
        while self.bytes > self.max_bytes && !self.order.is_empty() {
            self.evict_oldest();
        }
    }

    /// Bytes of replies held now.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Forgets a call entirely (it was never run), so a resend counts as new.
    pub fn forget(&mut self, key: CallKey) {
        if let Some((entry, _)) = self.entries.remove(&key) {
            self.bytes -= entry.len();
        }
    }

    /// Entries held now.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entries evicted for room before they expired.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// How long entries live.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Drops entries older than the TTL (the queue is in insertion order).
    fn expire(&mut self, now: Instant) {
        while let Some(&(key, made)) = self.order.front() {
            if now.duration_since(made) < self.ttl {
                break;
            }
            self.order.pop_front();
            self.remove_if_made_at(key, made);
        }
    }

    fn evict_oldest(&mut self) {
        if let Some((key, made)) = self.order.pop_front()
            && self.remove_if_made_at(key, made)
        {
            self.evicted += 1;
        }
    }

    /// Removes `key` only if it is the entry made at `made` (not a newer one).
    fn remove_if_made_at(&mut self, key: CallKey, made: Instant) -> bool {
        match self.entries.get(&key) {
            Some((_, at)) if *at == made => {
                if let Some((entry, _)) = self.entries.remove(&key) {
                    self.bytes -= entry.len();
                }
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: u64) -> CallKey {
        ("127.0.0.1:9".parse().unwrap(), id)
    }

    #[test]
    fn a_call_runs_once_and_its_reply_is_replayed() {
        let mut cache = ReplyCache::new(8, 1 << 20, Duration::from_secs(1));
        let now = Instant::now();
        assert_eq!(cache.check_in(key(1), now), Lookup::New);
        assert_eq!(cache.check_in(key(1), now), Lookup::Running);
        cache.answer(key(1), Some(Bytes::from_static(b"r")));
        assert_eq!(
            cache.check_in(key(1), now),
            Lookup::Answered(Some(Bytes::from_static(b"r")))
        );
        assert_eq!(cache.check_in(key(2), now), Lookup::New);
    }

    #[test]
    fn entries_expire_after_the_ttl() {
        let ttl = Duration::from_millis(100);
        let mut cache = ReplyCache::new(8, 1 << 20, ttl);
        let t0 = Instant::now();
        cache.check_in(key(1), t0);
        cache.answer(key(1), None);
        assert_eq!(cache.check_in(key(1), t0 + ttl / 2), Lookup::Answered(None));
        assert_eq!(cache.check_in(key(1), t0 + ttl), Lookup::New);
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn capacity_is_a_hard_bound_crossing_it_evicts_the_oldest() {
        let mut cache = ReplyCache::new(3, 1 << 20, Duration::from_secs(60));
        let now = Instant::now();
        for id in 0..10 {
            assert_eq!(cache.check_in(key(id), now), Lookup::New);
            assert!(cache.len() <= 3);
        }
        assert_eq!(cache.evicted(), 7);
        assert_eq!(cache.check_in(key(9), now), Lookup::Running);
        assert_eq!(
            cache.check_in(key(0), now),
            Lookup::New,
            "evicted: would run again"
        );
    }

    #[test]
    fn the_byte_budget_is_a_hard_bound_crossing_it_evicts_the_oldest() {
        let mut cache = ReplyCache::new(100, 250, Duration::from_secs(60));
        let now = Instant::now();
        let reply = Bytes::from(vec![0u8; 100]);
        for id in 0..5 {
            cache.check_in(key(id), now);
            cache.answer(key(id), Some(reply.clone()));
            assert!(cache.bytes() <= 250, "{} bytes held", cache.bytes());
        }
        assert_eq!((cache.len(), cache.bytes()), (2, 200));
        assert_eq!(cache.check_in(key(4), now), Lookup::Answered(Some(reply)));
        cache.forget(key(4));
        assert_eq!(cache.bytes(), 100);
    }
}

//! The reply cache: what makes a retransmitted call run at most once.
//!
//! Keyed by (client address and port, call id). A call is entered as *running* when it
//! starts; when it finishes its reply is stored. A retransmission finds the entry and is
//! either ignored (still running: the reply will go out when it is ready) or answered
//! with the stored reply.
//!
//! Each entry is kept for its call's **retransmission window**: until the call's own
//! deadline (the caller stops resending then), never longer than [`DEFAULT_CACHE_TTL`].
//! Inside that window an entry is never evicted, because a retransmission that found no
//! entry would run the call a second time. When there is no room (the cache holds
//! [`DEFAULT_CACHE_CAPACITY`] entries, or [`DEFAULT_CACHE_BYTES`] bytes, or the caller's
//! source already holds [`DEFAULT_CACHE_PER_SOURCE`] of them), a *new* call is refused
//! instead ([`Lookup::Full`]; the server answers BUSY) and leaves nothing behind. So one
//! flooding source can fill its own share, never evict another caller's entries.
//!
//! The byte bound covers everything the cache keeps: reply bytes plus
//! [`ENTRY_OVERHEAD`] per entry for its key, state and the two indexes.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;

/// Default number of remembered calls (`--cache-capacity`).
pub const DEFAULT_CACHE_CAPACITY: usize = 4096;
/// Default bound on everything the cache holds (`--cache-bytes`): replies plus
/// [`ENTRY_OVERHEAD`] per entry. Without it 4096 entries of 64 KiB replies could pin
/// 256 MiB.
pub const DEFAULT_CACHE_BYTES: usize = 16 << 20;
/// Default longest time a reply is remembered (`--cache-ttl-ms`); an entry of a call
/// with a shorter deadline goes when that deadline passes.
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(30);
/// Default share of the entries one source (address and port) may hold
/// (`--cache-per-source`): a quarter, so one flooding socket cannot lock others out.
pub const DEFAULT_CACHE_PER_SOURCE: usize = DEFAULT_CACHE_CAPACITY / 4;
/// Bytes charged per entry beside its reply: the map entry, the expiry index entry and
/// the per-source count, doubled for the spare room hash maps and B-trees keep.
pub const ENTRY_OVERHEAD: usize = 2
    * (std::mem::size_of::<(CallKey, Slot)>()
        + std::mem::size_of::<((Instant, u64), CallKey)>()
        + std::mem::size_of::<(SocketAddr, usize)>());

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
    /// because its deadline passed, or its reply was too large to keep; stay silent,
    /// never run it again).
    Answered(Option<Bytes>),
    /// A new call, and no room to remember it: refuse it without running it.
    Full(Full),
}

/// Which bound a refused call met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    /// The cache holds its maximum of entries.
    Entries,
    /// The cache holds its maximum of bytes.
    Bytes,
    /// The caller's source holds its share of entries.
    Source,
}

#[derive(Debug)]
enum Entry {
    Running,
    Answered(Option<Bytes>),
}

/// Reply bytes an entry holds.
fn reply_len(entry: &Entry) -> usize {
    match entry {
        Entry::Answered(Some(reply)) => reply.len(),
        _ => 0,
    }
}

/// One remembered call.
#[derive(Debug)]
struct Slot {
    entry: Entry,
    /// Key into the expiry index.
    expires: (Instant, u64),
}

/// The bounds of a [`ReplyCache`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheLimits {
    /// Entries at most.
    pub capacity: usize,
    /// Bytes at most (replies plus [`ENTRY_OVERHEAD`] per entry).
    pub max_bytes: usize,
    /// Entries one source may hold at most.
    pub per_source: usize,
    /// Longest an entry is kept.
    pub ttl: Duration,
}

impl Default for CacheLimits {
    fn default() -> Self {
        CacheLimits {
            capacity: DEFAULT_CACHE_CAPACITY,
            max_bytes: DEFAULT_CACHE_BYTES,
            per_source: DEFAULT_CACHE_PER_SOURCE,
            ttl: DEFAULT_CACHE_TTL,
        }
    }
}

/// A bounded, expiring map from calls to their replies.
#[derive(Debug)]
pub struct ReplyCache {
    entries: HashMap<CallKey, Slot>,
    /// Entries by expiry time (and a sequence number to keep keys unique).
    by_expiry: BTreeMap<(Instant, u64), CallKey>,
    per_source: HashMap<SocketAddr, usize>,
    limits: CacheLimits,
    bytes: usize,
    next_seq: u64,
    refused: u64,
}

impl ReplyCache {
    /// An empty cache with these bounds.
    pub fn new(limits: CacheLimits) -> ReplyCache {
        ReplyCache {
            entries: HashMap::new(),
            by_expiry: BTreeMap::new(),
            per_source: HashMap::new(),
            limits: CacheLimits {
                capacity: limits.capacity.max(1),
                per_source: limits.per_source.max(1),
                ..limits
            },
            bytes: 0,
            next_seq: 0,
            refused: 0,
        }
    }

    /// Looks a call up; if it is new and there is room, enters it as running until
    /// `until` (the end of its retransmission window, capped at the TTL).
    pub fn check_in(&mut self, key: CallKey, now: Instant, until: Instant) -> Lookup {
        self.expire(now);
        if let Some(slot) = self.entries.get(&key) {
            return match &slot.entry {
                Entry::Running => Lookup::Running,
                Entry::Answered(reply) => Lookup::Answered(reply.clone()),
            };
        }
        if let Some(full) = self.no_room_for(key.0) {
            self.refused += 1;
            return Lookup::Full(full);
        }
        let until = until.min(now + self.limits.ttl);
        let expires = (until, self.next_seq);
        self.next_seq += 1;
        self.entries.insert(
            key,
            Slot {
                entry: Entry::Running,
                expires,
            },
        );
        self.by_expiry.insert(expires, key);
        *self.per_source.entry(key.0).or_default() += 1;
        self.bytes += ENTRY_OVERHEAD;
        Lookup::New
    }

    /// Which bound, if any, a new entry from `source` would cross.
    fn no_room_for(&self, source: SocketAddr) -> Option<Full> {
        if self.entries.len() >= self.limits.capacity {
            return Some(Full::Entries);
        }
        if self.bytes + ENTRY_OVERHEAD > self.limits.max_bytes {
            return Some(Full::Bytes);
        }
        let held = self.per_source.get(&source).copied().unwrap_or(0);
        (held >= self.limits.per_source).then_some(Full::Source)
    }

    /// Stores the reply of a finished call (`None`: dropped unanswered). A reply that
    /// does not fit the byte bound is not kept (the entry stays, so the call is still
    /// never run again; a retransmission gets no answer).
    pub fn answer(&mut self, key: CallKey, reply: Option<Bytes>) {
        let Some(slot) = self.entries.get_mut(&key) else {
            return; // expired while running (the call ran past its window)
        };
        // Whatever the entry held before (nothing, for a running call) is given back.
        self.bytes -= reply_len(&slot.entry);
        let len = reply.as_ref().map_or(0, Bytes::len);
        if self.bytes + len <= self.limits.max_bytes {
            slot.entry = Entry::Answered(reply);
            self.bytes += len;
        } else {
            slot.entry = Entry::Answered(None);
        }
    }

    /// Forgets a call entirely (it was never run), so a resend counts as new.
    pub fn forget(&mut self, key: CallKey) {
        if let Some(slot) = self.entries.remove(&key) {
            self.by_expiry.remove(&slot.expires);
            self.release(key.0, &slot);
        }
    }

    /// Bytes accounted now: replies plus [`ENTRY_OVERHEAD`] per entry.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Entries held now.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entries in the expiry index and sources counted: both always match
    /// [`ReplyCache::len`] and the sources holding entries (for tests).
    pub fn index_sizes(&self) -> (usize, usize) {
        (self.by_expiry.len(), self.per_source.len())
    }

    /// New calls refused for want of room.
    pub fn refused(&self) -> u64 {
        self.refused
    }

    /// The bounds.
    pub fn limits(&self) -> CacheLimits {
        self.limits
    }

    /// Drops the entries whose window has closed.
    fn expire(&mut self, now: Instant) {
        while let Some((&expires, &key)) = self.by_expiry.first_key_value() {
            if expires.0 > now {
                break;
            }
            self.by_expiry.remove(&expires);
            if let Some(slot) = self.entries.remove(&key) {
                self.release(key.0, &slot);
            }
        }
    }

    /// Gives back what `slot` was charged: its bytes and its source's count.
    fn release(&mut self, source: SocketAddr, slot: &Slot) {
        self.bytes -= reply_len(&slot.entry) + ENTRY_OVERHEAD;
        if let Some(held) = self.per_source.get_mut(&source) {
            *held -= 1;
            if *held == 0 {
                self.per_source.remove(&source);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: u64) -> CallKey {
        ("127.0.0.1:9".parse().unwrap(), id)
    }

    fn from(port: u16, id: u64) -> CallKey {
        (SocketAddr::from(([127, 0, 0, 1], port)), id)
    }

    fn cache(capacity: usize, max_bytes: usize, per_source: usize) -> ReplyCache {
        ReplyCache::new(CacheLimits {
            capacity,
            max_bytes,
            per_source,
            ttl: Duration::from_secs(60),
        })
    }

    const LATER: Duration = Duration::from_secs(10);

    #[test]
    fn a_call_runs_once_and_its_reply_is_replayed() {
        let mut cache = cache(8, 1 << 20, 8);
        let now = Instant::now();
        assert_eq!(cache.check_in(key(1), now, now + LATER), Lookup::New);
        assert_eq!(cache.check_in(key(1), now, now + LATER), Lookup::Running);
        cache.answer(key(1), Some(Bytes::from_static(b"r")));
        assert_eq!(
            cache.check_in(key(1), now, now + LATER),
            Lookup::Answered(Some(Bytes::from_static(b"r")))
        );
        assert_eq!(cache.check_in(key(2), now, now + LATER), Lookup::New);
    }

    #[test]
    fn an_entry_lives_for_its_calls_window_capped_at_the_ttl() {
        let ttl = Duration::from_millis(100);
        let mut cache = ReplyCache::new(CacheLimits {
            ttl,
            ..CacheLimits::default()
        });
        let t0 = Instant::now();
        cache.check_in(key(1), t0, t0 + LATER);
        cache.answer(key(1), None);
        assert_eq!(
            cache.check_in(key(1), t0 + ttl / 2, t0 + LATER),
            Lookup::Answered(None)
        );
        assert_eq!(cache.check_in(key(1), t0 + ttl, t0 + LATER), Lookup::New);
        // A call with a 10 ms deadline is forgotten after 10 ms.
        let short = Duration::from_millis(10);
        cache.check_in(key(2), t0, t0 + short);
        assert_eq!(cache.check_in(key(3), t0 + short, t0 + LATER), Lookup::New);
        assert_eq!(cache.len(), 2, "key 1 (renewed) and key 3");
    }

    #[test]
    fn a_full_cache_refuses_new_calls_and_never_evicts_an_entry_in_its_window() {
        let mut cache = cache(3, 1 << 20, 3);
        let now = Instant::now();
        for id in 0..3 {
            assert_eq!(cache.check_in(key(id), now, now + LATER), Lookup::New);
        }
        for id in 3..10 {
            assert_eq!(
                cache.check_in(key(id), now, now + LATER),
                Lookup::Full(Full::Entries)
            );
        }
        assert_eq!((cache.len(), cache.index_sizes()), (3, (3, 1)));
        assert_eq!(cache.check_in(key(0), now, now + LATER), Lookup::Running);
        // Once the window closes there is room again.
        assert_eq!(
            cache.check_in(key(5), now + LATER, now + LATER * 2),
            Lookup::New
        );
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn one_source_fills_only_its_share() {
        let mut cache = cache(100, 1 << 20, 4);
        let now = Instant::now();
        cache.check_in(from(1, 1), now, now + LATER);
        for id in 0..50 {
            let lookup = cache.check_in(from(2, id), now, now + LATER);
            assert_eq!(
                lookup,
                if id < 4 {
                    Lookup::New
                } else {
                    Lookup::Full(Full::Source)
                }
            );
        }
        assert_eq!(
            cache.check_in(from(1, 1), now, now + LATER),
            Lookup::Running
        );
        assert_eq!(cache.check_in(from(3, 1), now, now + LATER), Lookup::New);
        assert_eq!(cache.refused(), 46);
    }

    #[test]
    fn the_byte_bound_covers_replies_and_bookkeeping() {
        let max = 3 * ENTRY_OVERHEAD + 250;
        let mut cache = cache(100, max, 100);
        let now = Instant::now();
        let reply = Bytes::from(vec![0u8; 100]);
        for id in 0..5 {
            if cache.check_in(key(id), now, now + LATER) == Lookup::New {
                cache.answer(key(id), Some(reply.clone()));
            }
            assert!(cache.bytes() <= max, "{} bytes held", cache.bytes());
        }
        // Two entries with their replies, a third whose reply did not fit, then full.
        assert_eq!(cache.len(), 3);
        assert_eq!(cache.bytes(), 3 * ENTRY_OVERHEAD + 200);
        assert_eq!(
            cache.check_in(key(2), now, now + LATER),
            Lookup::Answered(None)
        );
        assert_eq!(
            cache.check_in(key(9), now, now + LATER),
            Lookup::Full(Full::Bytes)
        );
        cache.forget(key(1));
        assert_eq!(cache.bytes(), 2 * ENTRY_OVERHEAD + 100);
    }

    #[test]
    fn refused_and_forgotten_calls_leave_no_bookkeeping() {
        let mut cache = cache(2, 1 << 20, 2);
        let now = Instant::now();
        cache.check_in(key(1), now, now + LATER);
        cache.check_in(key(2), now, now + LATER);
        for id in 3..10_000 {
            cache.check_in(key(id), now, now + LATER);
        }
        cache.forget(key(1));
        cache.forget(key(2));
        assert_eq!(
            (cache.len(), cache.index_sizes(), cache.bytes()),
            (0, (0, 0), 0)
        );
    }

    /// Seeded random operations (check-ins from 8 sources, answers of random sizes,
    /// forgets, time moving on): after each, every bound holds and the bookkeeping
    /// matches the entries exactly.
    #[test]
    fn every_bound_holds_under_random_operations() {
        let limits = CacheLimits {
            capacity: 64,
            max_bytes: 64 * ENTRY_OVERHEAD / 2 + 4096,
            per_source: 16,
            ttl: Duration::from_secs(5),
        };
        let mut cache = ReplyCache::new(limits);
        let mut rng = udp::rng::SplitMix64::new(15);
        let mut now = Instant::now();
        for _ in 0..20_000 {
            let key = from(rng.next_u64() as u16 % 8, rng.next_u64() % 200);
            match rng.next_u64() % 4 {
                0 | 1 => {
                    let window = Duration::from_millis(rng.next_u64() % 8_000);
                    cache.check_in(key, now, now + window);
                }
                2 => {
                    let len = (rng.next_u64() % 600) as usize;
                    cache.answer(key, Some(Bytes::from(vec![0u8; len])));
                }
                _ => cache.forget(key),
            }
            now += Duration::from_millis(rng.next_u64() % 20);
            let replies: usize = cache.entries.values().map(|s| reply_len(&s.entry)).sum();
            assert_eq!(cache.bytes(), replies + cache.len() * ENTRY_OVERHEAD);
            assert!(cache.bytes() <= limits.max_bytes);
            assert!(cache.len() <= limits.capacity);
            assert_eq!(cache.by_expiry.len(), cache.len());
            assert_eq!(cache.per_source.values().sum::<usize>(), cache.len());
            assert!(
                cache
                    .per_source
                    .values()
                    .all(|&n| n > 0 && n <= limits.per_source)
            );
        }
        assert!(cache.refused() > 0, "the bounds were crossed");
    }
}

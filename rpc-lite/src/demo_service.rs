//! The demo service every command and test uses: a calculator, a key-value store,
//! `echo` of bytes, `sleep` (to watch deadlines) and `incr` (not idempotent: running
//! it twice shows, which is how the tests prove at-most-once execution over UDP).
//!
//! | # | procedure | arguments | result | application errors |
//! |---|-----------|-----------|--------|--------------------|
//! | 1 | `add` | `a: Long, b: Long` | `Long` | `Overflow` |
//! | 2 | `divide` | `a: i64, b: i64` | `i64` | `DivisionByZero`, `Overflow` |
//! | 3 | `get` | `key: String` | `Option<String>` | |
//! | 4 | `put` | `key: String, value: String` | `Option<String>` (old value) | `StoreFull` |
//! | 5 | `delete` | `key: String` | `bool` (was there) | |
//! | 6 | `echo` | `data: Bytes` | `Bytes` | |
//! | 7 | `sleep` | `ms: u32` | `u32` (ms slept) | `TooLong` |
//! | 8 | `incr` | `by: u64` | `u64` (new total) | `Overflow` |
//!
//! `Long` is C's `long`: 4 bytes from a 32-bit caller, 8 from a 64-bit one. A sum that
//! does not fit a 32-bit caller's `long` comes back as an `Unrepresentable` error.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use framing::{Long, Profile, Wire, WireError};

use crate::service;

/// The demo's program number (ONC reserves 0x20000000-0x3fffffff for local use).
pub const DEMO_PROGRAM: u32 = 0x2000_7470;
/// Default bound on keys in the store (`--max-keys`).
pub const DEFAULT_MAX_KEYS: usize = 10_000;
/// Longest `sleep` allowed: a sleeping call holds an in-flight slot.
pub const MAX_SLEEP_MS: u32 = 60_000;

/// The demo service's own errors, carried back to the caller as values.
///
/// On the wire: a u32 tag (1 `DivisionByZero`, 2 `Overflow`, 3 `StoreFull` followed by
/// u32 `limit`, 4 `TooLong` followed by u32 `max_ms`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DemoError {
    /// `divide` by zero.
    DivisionByZero,
    /// The result does not fit in 64 bits.
    Overflow,
    /// `put` of a new key into a full store.
    StoreFull {
        /// The store's key limit.
        limit: u32,
    },
    /// `sleep` longer than [`MAX_SLEEP_MS`].
    TooLong {
        /// The limit.
        max_ms: u32,
    },
}

impl fmt::Display for DemoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DemoError::DivisionByZero => f.write_str("division by zero"),
            DemoError::Overflow => f.write_str("arithmetic overflow"),
            DemoError::StoreFull { limit } => write!(f, "store full ({limit} keys)"),
            DemoError::TooLong { max_ms } => write!(f, "sleep longer than {max_ms} ms"),
        }
    }
}

impl std::error::Error for DemoError {}

impl Wire for DemoError {
    fn encode(&self, out: &mut BytesMut, p: Profile) -> Result<(), WireError> {
        match self {
            DemoError::DivisionByZero => 1u32.encode(out, p),
            DemoError::Overflow => 2u32.encode(out, p),
            DemoError::StoreFull { limit } => (3u32, *limit).encode(out, p),
            DemoError::TooLong { max_ms } => (4u32, *max_ms).encode(out, p),
        }
    }

    fn decode(input: &mut Bytes, p: Profile) -> Result<Self, WireError> {
        Ok(match u32::decode(input, p)? {
            1 => DemoError::DivisionByZero,
            2 => DemoError::Overflow,
            3 => DemoError::StoreFull {
                limit: u32::decode(input, p)?,
            },
            4 => DemoError::TooLong {
                max_ms: u32::decode(input, p)?,
            },
            tag => {
                return Err(WireError::InvalidTag {
                    what: "DemoError",
                    tag,
                });
            }
        })
    }
}

service! {
    /// The demo service: calculator, key-value store, echo, sleep, counter.
    pub mod demo(program = DEMO_PROGRAM, version = 1, error = DemoError) {
        /// `a + b` on C longs.
        fn add(a: Long, b: Long) -> Long = 1;
        /// `a / b`, rounding toward zero.
        fn divide(a: i64, b: i64) -> i64 = 2;
        /// The value stored under `key`.
        fn get(key: String) -> Option<String> = 3;
        /// Stores `value` under `key`; returns the old value.
        fn put(key: String, value: String) -> Option<String> = 4;
        /// Removes `key`; returns whether it was there.
        fn delete(key: String) -> bool = 5;
        /// Returns `data` unchanged.
        fn echo(data: Bytes) -> Bytes = 6;
        /// Waits `ms` milliseconds, then returns `ms`.
        fn sleep(ms: u32) -> u32 = 7;
        /// Adds `by` to a server-side counter and returns the new total.
        fn incr(by: u64) -> u64 = 8;
    }
}

/// The demo service's state.
#[derive(Debug)]
pub struct DemoService {
    store: Mutex<HashMap<String, String>>,
    max_keys: usize,
    counter: AtomicU64,
    incr_calls: AtomicU64,
}

impl Default for DemoService {
    fn default() -> Self {
        DemoService::new(DEFAULT_MAX_KEYS)
    }
}

impl DemoService {
    /// A service whose store holds at most `max_keys` keys.
    pub fn new(max_keys: usize) -> DemoService {
        DemoService {
            store: Mutex::new(HashMap::new()),
            max_keys,
            counter: AtomicU64::new(0),
            incr_calls: AtomicU64::new(0),
        }
    }

    /// The counter `incr` adds to.
    pub fn counter(&self) -> u64 {
        self.counter.load(Ordering::SeqCst)
    }

    /// How many times `incr` has been executed.
    pub fn incr_executions(&self) -> u64 {
        self.incr_calls.load(Ordering::SeqCst)
    }

    fn store(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl demo::Service for DemoService {
    async fn add(&self, a: Long, b: Long) -> Result<Long, DemoError> {
        a.0.checked_add(b.0).map(Long).ok_or(DemoError::Overflow)
    }

    async fn divide(&self, a: i64, b: i64) -> Result<i64, DemoError> {
        if b == 0 {
            return Err(DemoError::DivisionByZero);
        }
        a.checked_div(b).ok_or(DemoError::Overflow)
    }

    async fn get(&self, key: String) -> Result<Option<String>, DemoError> {
        Ok(self.store().get(&key).cloned())
    }

    async fn put(&self, key: String, value: String) -> Result<Option<String>, DemoError> {
        let mut store = self.store();
        if !store.contains_key(&key) && store.len() >= self.max_keys {
            let limit = u32::try_from(self.max_keys).unwrap_or(u32::MAX);
            return Err(DemoError::StoreFull { limit });
        }
        Ok(store.insert(key, value))
    }

    async fn delete(&self, key: String) -> Result<bool, DemoError> {
        Ok(self.store().remove(&key).is_some())
    }

    async fn echo(&self, data: Bytes) -> Result<Bytes, DemoError> {
        Ok(data)
    }

    async fn sleep(&self, ms: u32) -> Result<u32, DemoError> {
        if ms > MAX_SLEEP_MS {
            return Err(DemoError::TooLong {
                max_ms: MAX_SLEEP_MS,
            });
        }
        tokio::time::sleep(Duration::from_millis(u64::from(ms))).await;
        Ok(ms)
    }

    async fn incr(&self, by: u64) -> Result<u64, DemoError> {
        self.incr_calls.fetch_add(1, Ordering::SeqCst);
        let mut total = self.counter.load(Ordering::SeqCst);
        loop {
            let new = total.checked_add(by).ok_or(DemoError::Overflow)?;
            match self
                .counter
                .compare_exchange(total, new, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => return Ok(new),
                Err(now) => total = now,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_error_tag_is_named_in_the_decode_error() {
        let mut bytes = framing::to_bytes(&9u32, Profile::LE64).unwrap();
        assert_eq!(
            DemoError::decode(&mut bytes, Profile::LE64),
            Err(WireError::InvalidTag {
                what: "DemoError",
                tag: 9
            })
        );
        let full = DemoError::StoreFull { limit: 7 };
        let mut bytes = framing::to_bytes(&full, Profile::BE32).unwrap();
        assert_eq!(DemoError::decode(&mut bytes, Profile::BE32), Ok(full));
    }
}

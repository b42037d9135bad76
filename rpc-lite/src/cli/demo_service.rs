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
//!
//! It is an application of the library, not part of it: the binary serves it
//! (`rpc-lite serve`), and the tests, the examples and the fuzz target include this one
//! file with `#[path = ".../src/cli/demo_service.rs"] mod demo_service;`, because a
//! package cannot depend on a crate of its own that depends on it. No system calls here.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use framing::{Long, Profile, Wire, WireError};

use rpc_lite::service;

/// The demo's program number (ONC reserves 0x20000000-0x3fffffff for local use).
pub const DEMO_PROGRAM: u32 = 0x2000_7470;
/// Default bound on keys in the store (`--max-keys`).
pub const DEFAULT_MAX_KEYS: usize = 10_000;
/// Default bound on the bytes the store holds (`--max-store-bytes`): keys and values
/// plus [`STORE_ENTRY_OVERHEAD`] per key. Without it 10,000 keys of 1 MiB values would
/// take 10 GB.
pub const DEFAULT_MAX_STORE_BYTES: usize = 64 << 20;
/// Bytes charged per key beside its text: the map entry and two `String` headers.
pub const STORE_ENTRY_OVERHEAD: usize = 64;
/// Longest `sleep` allowed: a sleeping call holds an in-flight slot.
pub const MAX_SLEEP_MS: u32 = 60_000;

/// The demo service's own errors, carried back to the caller as values.
///
/// On the wire: a u32 tag (1 `DivisionByZero`, 2 `Overflow`, 3 `StoreFull` followed by
/// u32 `limit`, 4 `TooLong` followed by u32 `max_ms`, 5 `StoreBytesFull` followed by
/// u64 `max_bytes`).
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
    /// `put` that would take the store above its byte bound.
    StoreBytesFull {
        /// The store's byte bound.
        max_bytes: u64,
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
            DemoError::StoreBytesFull { max_bytes } => {
                write!(f, "store full ({max_bytes} bytes)")
            }
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
            DemoError::StoreBytesFull { max_bytes } => (5u32, *max_bytes).encode(out, p),
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
            5 => DemoError::StoreBytesFull {
                max_bytes: u64::decode(input, p)?,
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
    store: Mutex<Store>,
    max_keys: usize,
    max_bytes: usize,
    counter: AtomicU64,
    incr_calls: AtomicU64,
}

/// The key-value store and the bytes it holds.
#[derive(Debug, Default)]
struct Store {
    map: HashMap<String, String>,
    bytes: usize,
}

/// What one key and value cost in the store's byte bound.
fn entry_bytes(key: &str, value: &str) -> usize {
    key.len() + value.len() + STORE_ENTRY_OVERHEAD
}

impl Default for DemoService {
    fn default() -> Self {
        DemoService::new(DEFAULT_MAX_KEYS)
    }
}

impl DemoService {
    /// A service whose store holds at most `max_keys` keys (and the default bytes).
    pub fn new(max_keys: usize) -> DemoService {
        DemoService::with_limits(max_keys, DEFAULT_MAX_STORE_BYTES)
    }

    /// A service whose store holds at most `max_keys` keys and `max_bytes` bytes.
    pub fn with_limits(max_keys: usize, max_bytes: usize) -> DemoService {
        DemoService {
            store: Mutex::new(Store::default()),
            max_keys,
            max_bytes,
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

    /// Bytes the store holds now (keys, values, per-key overhead).
    pub fn store_bytes(&self) -> usize {
        self.store().bytes
    }

    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
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
        Ok(self.store().map.get(&key).cloned())
    }

    async fn put(&self, key: String, value: String) -> Result<Option<String>, DemoError> {
        let mut store = self.store();
        let old = store.map.get(&key).map(|old| entry_bytes(&key, old));
        if old.is_none() && store.map.len() >= self.max_keys {
            let limit = u32::try_from(self.max_keys).unwrap_or(u32::MAX);
            return Err(DemoError::StoreFull { limit });
        }
        let bytes = store.bytes - old.unwrap_or(0) + entry_bytes(&key, &value);
        if bytes > self.max_bytes {
            let max_bytes = self.max_bytes as u64;
            return Err(DemoError::StoreBytesFull { max_bytes });
        }
        store.bytes = bytes;
        Ok(store.map.insert(key, value))
    }

    async fn delete(&self, key: String) -> Result<bool, DemoError> {
        let mut store = self.store();
        let Some(value) = store.map.remove(&key) else {
            return Ok(false);
        };
        store.bytes -= entry_bytes(&key, &value);
        Ok(true)
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

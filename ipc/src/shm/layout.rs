//! The fixed layout of a ring segment: where each field lives, and the checks a segment must pass
//! before anything past its header is read.
//!
//! All fields are 32-bit little-endian words (the byte order of x86-64 and aarch64 Linux, the
//! only hosts that build this); PROTOCOL.md draws the same layout for other languages.
//!
//! ```text
//! byte 0     64         128        192        256                    256 + capacity * (8 + slot_bytes)
//!      +----------+----------+----------+----------+------+------+---  ...  ---+
//!      | identity | tail     | head     | wakeups  | slot | slot |             |
//!      | magic    | (enqueue | (dequeue | items    | 0    | 1    |             |
//!      | version  |  counter)|  counter)| spaces   |      |      |             |
//!      | capacity |          |          | waiters  |      |      |             |
//!      | slot_bytes          |          |          |      |      |             |
//!      +----------+----------+----------+----------+------+------+---  ...  ---+
//! slot: | seq u32 | len u32 | payload: slot_bytes bytes |
//! ```
//! Each counter sits alone on its 64-byte cache line so that producers (tail) and consumers (head)
//! do not slow each other down by sharing a line.

use super::atomic::{AtomicU32, Ordering};

/// `"IPCR"` in the first four bytes (the little-endian word 0x5243_5049).
pub const MAGIC: u32 = u32::from_le_bytes(*b"IPCR");
/// The layout version this code reads and writes.
pub const VERSION: u32 = 1;
/// Bytes before slot 0.
pub const HEADER_BYTES: usize = 256;
/// Most slots in one ring.
pub const MAX_CAPACITY: u32 = 65_536;
/// Largest payload of one slot.
pub const MAX_SLOT_BYTES: u32 = 1024 * 1024;
/// Largest segment this code creates or maps.
pub const MAX_SEGMENT_BYTES: u64 = 256 * 1024 * 1024;

/// Word index of the magic number.
pub const W_MAGIC: usize = 0;
/// Word index of the layout version.
pub const W_VERSION: usize = 1;
/// Word index of the capacity (slots; a power of two, at least 2).
pub const W_CAPACITY: usize = 2;
/// Word index of the payload bytes per slot (a multiple of 4).
pub const W_SLOT_BYTES: usize = 3;
/// Word index of the enqueue counter (next position a producer claims).
pub const W_TAIL: usize = 16;
/// Word index of the dequeue counter (next position a consumer claims).
pub const W_HEAD: usize = 32;
/// Word index of the futex word producers bump after publishing, when consumers are asleep.
pub const W_ITEMS: usize = 48;
/// Word index of the futex word consumers bump after freeing a slot, when producers are asleep.
pub const W_SPACES: usize = 49;
/// Word index of the count of consumers asleep on `W_ITEMS`.
pub const W_CONSUMERS_WAITING: usize = 50;
/// Word index of the count of producers asleep on `W_SPACES`.
pub const W_PRODUCERS_WAITING: usize = 51;
/// Words of a slot before its payload: `seq`, `len`.
pub const SLOT_HEADER_WORDS: usize = 2;

/// Why a segment was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    /// Shorter than the header.
    #[error("segment of {0} bytes is smaller than the {HEADER_BYTES}-byte header")]
    TooSmall(u64),
    /// The first word is not [`MAGIC`]: not a ring, or not initialised yet.
    #[error(
        "wrong magic {0:#010x} (expected {MAGIC:#010x}): not an ipc ring, or not initialised yet"
    )]
    BadMagic(u32),
    /// A layout version this code does not know.
    #[error("layout version {0}, this program reads version {VERSION}")]
    BadVersion(u32),
    /// Capacity below 2, not a power of two, or above [`MAX_CAPACITY`].
    #[error("capacity {0} is not a power of two in 2..={MAX_CAPACITY}")]
    BadCapacity(u32),
    /// Slot size zero, not a multiple of 4, or above [`MAX_SLOT_BYTES`].
    #[error("slot size {0} is not a multiple of 4 in 4..={MAX_SLOT_BYTES}")]
    BadSlotBytes(u32),
    /// The header's geometry does not match the segment's real size (a lying header).
    #[error("header says {claimed} bytes, the segment has {actual}")]
    SizeMismatch {
        /// Bytes the header's capacity and slot size imply.
        claimed: u64,
        /// Bytes really mapped.
        actual: u64,
    },
    /// The geometry is bigger than [`MAX_SEGMENT_BYTES`].
    #[error("segment of {0} bytes is above the {MAX_SEGMENT_BYTES}-byte limit")]
    TooLarge(u64),
    /// More messages in flight than slots: the counters were corrupted.
    #[error("counters out of range: tail {tail} - head {head} exceeds capacity {capacity}")]
    CountersOutOfRange {
        /// Enqueue counter.
        tail: u32,
        /// Dequeue counter.
        head: u32,
        /// Slots.
        capacity: u32,
    },
}

/// A ring's shape, read once from a checked header and never again from shared memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    /// Slots (a power of two).
    pub capacity: u32,
    /// Payload bytes per slot.
    pub slot_bytes: u32,
}

impl Geometry {
    /// Checks `capacity` and `slot_bytes` against the bounds.
    pub fn new(capacity: u32, slot_bytes: u32) -> Result<Self, LayoutError> {
        // One slot cannot work: "full for lap n" (seq = pos + 1) would read as "free for lap n + 1".
        if capacity < 2 || !capacity.is_power_of_two() || capacity > MAX_CAPACITY {
            return Err(LayoutError::BadCapacity(capacity));
        }
        if slot_bytes == 0 || !slot_bytes.is_multiple_of(4) || slot_bytes > MAX_SLOT_BYTES {
            return Err(LayoutError::BadSlotBytes(slot_bytes));
        }
        let geometry = Geometry {
            capacity,
            slot_bytes,
        };
        if geometry.segment_bytes() > MAX_SEGMENT_BYTES {
            return Err(LayoutError::TooLarge(geometry.segment_bytes()));
        }
        Ok(geometry)
    }

    /// Words in one slot: `seq`, `len`, payload.
    pub fn slot_words(&self) -> usize {
        SLOT_HEADER_WORDS + self.slot_bytes as usize / 4
    }

    /// The segment size this geometry needs, in bytes.
    pub fn segment_bytes(&self) -> u64 {
        HEADER_BYTES as u64 + u64::from(self.capacity) * (8 + u64::from(self.slot_bytes))
    }

    /// The segment size in 32-bit words.
    pub fn segment_words(&self) -> usize {
        (self.segment_bytes() / 4) as usize
    }

    /// Word index where slot `index` (already reduced modulo capacity) starts.
    pub fn slot_start(&self, index: u32) -> usize {
        HEADER_BYTES / 4 + index as usize * self.slot_words()
    }
}

/// Writes a fresh header and empty slots into `words` (which must be exactly
/// `geometry.segment_words()` long). The magic goes last, with `Release`, so a process that sees
/// it sees a complete header.
pub fn initialise(words: &[AtomicU32], geometry: Geometry) -> Result<(), LayoutError> {
    let actual = words.len() as u64 * 4;
    if actual != geometry.segment_bytes() {
        return Err(LayoutError::SizeMismatch {
            claimed: geometry.segment_bytes(),
            actual,
        });
    }
    for word in words {
        word.store(0, Ordering::Relaxed);
    }
    for index in 0..geometry.capacity {
        // Slot i starts "free for position i" (Vyukov's convention).
        words[geometry.slot_start(index)].store(index, Ordering::Relaxed);
    }
    words[W_VERSION].store(VERSION, Ordering::Relaxed);
    words[W_CAPACITY].store(geometry.capacity, Ordering::Relaxed);
    words[W_SLOT_BYTES].store(geometry.slot_bytes, Ordering::Relaxed);
    words[W_MAGIC].store(MAGIC, Ordering::Release);
    Ok(())
}

/// Checks a segment someone else made: identity, geometry against the real size, counters.
/// Only words inside the header are read, and only after the length check.
pub fn check(words: &[AtomicU32]) -> Result<Geometry, LayoutError> {
    let actual = words.len() as u64 * 4;
    if actual < HEADER_BYTES as u64 {
        return Err(LayoutError::TooSmall(actual));
    }
    let magic = words[W_MAGIC].load(Ordering::Acquire);
    if magic != MAGIC {
        return Err(LayoutError::BadMagic(magic));
    }
    let version = words[W_VERSION].load(Ordering::Relaxed);
    if version != VERSION {
        return Err(LayoutError::BadVersion(version));
    }
    let geometry = Geometry::new(
        words[W_CAPACITY].load(Ordering::Relaxed),
        words[W_SLOT_BYTES].load(Ordering::Relaxed),
    )?;
    if geometry.segment_bytes() != actual {
        return Err(LayoutError::SizeMismatch {
            claimed: geometry.segment_bytes(),
            actual,
        });
    }
    check_counters(words, geometry)?;
    Ok(geometry)
}

/// `tail - head` (modulo 2^32) is the number of claimed positions; more than the capacity is
/// impossible in a healthy ring.
fn check_counters(words: &[AtomicU32], geometry: Geometry) -> Result<(), LayoutError> {
    let tail = words[W_TAIL].load(Ordering::Acquire);
    let head = words[W_HEAD].load(Ordering::Acquire);
    if tail.wrapping_sub(head) > geometry.capacity {
        return Err(LayoutError::CountersOutOfRange {
            tail,
            head,
            capacity: geometry.capacity,
        });
    }
    Ok(())
}

//! The bounded multi-producer, multi-consumer ring (Dmitry Vyukov's bounded MPMC queue) over any
//! [`Region`] of 32-bit atomic words: a shared mapping in production, an ordinary heap buffer in
//! tests.
//!
//! Every slot carries a sequence number that says whose turn it is:
//! - `seq == pos`: free for the producer that claims position `pos`;
//! - `seq == pos + 1`: holds the message of position `pos`, ready for a consumer;
//! - `seq == pos + capacity`: consumed, free for the producer of the next lap.
//!
//! A producer claims a position by a compare-and-swap on `tail`, writes the payload, and only then
//! publishes it with a `Release` store of `seq = pos + 1`. A consumer claims with a CAS on `head`
//! once it has seen (`Acquire`) that `seq`. So a producer killed between its claim and its
//! publish leaves a slot that consumers see as *empty*, never as a whole message: the half-written
//! payload is never read. (The ring does stall at that slot; see the README's limits.)
//!
//! Untrusted peers share the words, so nothing read from them is trusted: slot indices are
//! `pos & (capacity - 1)` with the capacity checked once at attach, a length above the slot size
//! is reported as [`PopError::Corrupt`] (and the slot released), and all accesses are atomic and
//! bounds-checked. Blocking and the policies for a full ring are in [`super::wait`].

use super::atomic::{AtomicU32, Ordering};

use super::Region;
use super::layout::{self, Geometry, LayoutError, SLOT_HEADER_WORDS, W_HEAD, W_TAIL};

/// A ring over `R`'s words.
#[derive(Debug)]
pub struct Ring<R> {
    region: R,
    geometry: Geometry,
}

/// Why [`Ring::try_push`] did not enqueue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    /// Every slot holds a message not yet consumed.
    #[error("ring full")]
    Full,
    /// The message does not fit in a slot.
    #[error("message of {len} bytes is larger than the slot size {max}")]
    TooLarge {
        /// Bytes offered.
        len: usize,
        /// Slot size.
        max: usize,
    },
}

/// Why [`Ring::try_pop`] did not dequeue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PopError {
    /// No published message at the head (none sent, or its producer has not finished writing).
    #[error("ring empty")]
    Empty,
    /// The caller's buffer is shorter than the next message; nothing was consumed.
    #[error("buffer of {buf} bytes is too small for a {len}-byte message")]
    BufferTooSmall {
        /// The message's length.
        len: usize,
        /// The buffer's length.
        buf: usize,
    },
    /// The slot claimed a length above the slot size: a corrupt or hostile writer. The slot was
    /// released and its content dropped.
    #[error("corrupt slot: length {len} above the slot size {max}")]
    Corrupt {
        /// The length found.
        len: u32,
        /// Slot size.
        max: u32,
    },
}

impl<R: Region> Ring<R> {
    /// Lays out a fresh, empty ring in `region`.
    pub fn create(region: R, geometry: Geometry) -> Result<Self, LayoutError> {
        layout::initialise(region.words(), geometry)?;
        Ok(Ring { region, geometry })
    }

    /// Attaches to a ring someone else laid out, after [`layout::check`] accepts it.
    pub fn attach(region: R) -> Result<Self, LayoutError> {
        let geometry = layout::check(region.words())?;
        Ok(Ring { region, geometry })
    }

    /// The ring's shape.
    pub fn geometry(&self) -> Geometry {
        self.geometry
    }

    /// The memory underneath.
    pub fn region(&self) -> &R {
        &self.region
    }

    /// The word at `index` of the region (checked at attach to exist for every index used).
    pub(super) fn word(&self, index: usize) -> &AtomicU32 {
        &self.region.words()[index]
    }

    /// Messages claimed but not yet consumed (a snapshot: other processes move on at once).
    pub fn len(&self) -> u32 {
        let tail = self.word(W_TAIL).load(Ordering::Relaxed);
        let head = self.word(W_HEAD).load(Ordering::Relaxed);
        tail.wrapping_sub(head).min(self.geometry.capacity)
    }

    /// True when no message is claimed or waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Enqueues `message` if a slot is free, without waiting.
    pub fn try_push(&self, message: &[u8]) -> Result<(), PushError> {
        let max = self.geometry.slot_bytes as usize;
        if message.len() > max {
            return Err(PushError::TooLarge {
                len: message.len(),
                max,
            });
        }
        let pos = self.claim(W_TAIL).ok_or(PushError::Full)?;
        let start = self.slot_start(pos);
        self.write_payload(start, message);
        self.word(start)
            .store(pos.wrapping_add(1), Ordering::Release);
        Ok(())
    }

    /// Dequeues the oldest message into `buf`, returning its length, without waiting.
    pub fn try_pop(&self, buf: &mut [u8]) -> Result<usize, PopError> {
        let room = buf.len();
        self.take(|start, len| self.read_payload(start, &mut buf[..len]), room)
    }

    /// Dequeues the oldest message and throws it away (the overwrite-oldest policy).
    pub fn try_discard(&self) -> Result<usize, PopError> {
        self.take(|_, _| {}, usize::MAX)
    }

    /// The consumer half: claim the head position, let `read` copy the payload, free the slot.
    fn take(&self, read: impl FnOnce(usize, usize), room: usize) -> Result<usize, PopError> {
        let max = self.geometry.slot_bytes;
        let mut pos = self.word(W_HEAD).load(Ordering::Relaxed);
        loop {
            let start = self.slot_start(pos);
            let seq = self.word(start).load(Ordering::Acquire);
            let lag = seq.wrapping_sub(pos.wrapping_add(1)) as i32;
            if lag < 0 {
                return Err(PopError::Empty);
            }
            if lag > 0 {
                pos = self.word(W_HEAD).load(Ordering::Relaxed);
                continue;
            }
            let len = self.word(start + 1).load(Ordering::Relaxed);
            if len <= max && len as usize > room {
                return Err(PopError::BufferTooSmall {
                    len: len as usize,
                    buf: room,
                });
            }
            match self.advance(W_HEAD, pos, 1) {
                Err(now) => pos = now,
                Ok(()) => return self.finish_take(pos, start, len, read),
            }
        }
    }

    /// After a consumer's claim: copy (if the length is sane) and hand the slot to the next lap.
    pub(super) fn finish_take(
        &self,
        pos: u32,
        start: usize,
        len: u32,
        read: impl FnOnce(usize, usize),
    ) -> Result<usize, PopError> {
        let max = self.geometry.slot_bytes;
        let outcome = if len <= max {
            read(start, len as usize);
            Ok(len as usize)
        } else {
            Err(PopError::Corrupt { len, max })
        };
        let next_lap = pos.wrapping_add(self.geometry.capacity);
        self.word(start).store(next_lap, Ordering::Release);
        outcome
    }

    /// The producer half of the protocol: find a position whose slot is free (`seq == pos`) and
    /// win the CAS on `counter` for it. `None` when the slot at the tail is still a lap behind.
    fn claim(&self, counter: usize) -> Option<u32> {
        let mut pos = self.word(counter).load(Ordering::Relaxed);
        loop {
            let seq = self.word(self.slot_start(pos)).load(Ordering::Acquire);
            let lag = seq.wrapping_sub(pos) as i32;
            if lag < 0 {
                return None;
            }
            if lag > 0 {
                pos = self.word(counter).load(Ordering::Relaxed);
                continue;
            }
            match self.advance(counter, pos, 1) {
                Ok(()) => return Some(pos),
                Err(now) => pos = now,
            }
        }
    }

    /// `counter: pos -> pos + by` (one compare-and-swap), or the value that beat us.
    pub(super) fn advance(&self, counter: usize, pos: u32, by: u32) -> Result<(), u32> {
        self.word(counter)
            .compare_exchange_weak(
                pos,
                pos.wrapping_add(by),
                Ordering::Relaxed,
                Ordering::Relaxed,
            )
            .map(|_| ())
    }

    /// Word index of the slot of position `pos`.
    pub(super) fn slot_start(&self, pos: u32) -> usize {
        self.geometry.slot_start(pos & (self.geometry.capacity - 1))
    }

    /// Stores `len` and the payload, four bytes per atomic word (little-endian, zero padded).
    /// The payload's words are sliced once, so the loop has no bounds check per word; relaxed
    /// atomic stores compile to plain `mov`s (the release store of `seq` orders them).
    pub(super) fn write_payload(&self, start: usize, message: &[u8]) {
        self.word(start + 1)
            .store(message.len() as u32, Ordering::Relaxed);
        let words = self.payload_words(start, message.len());
        let mut chunks = message.chunks_exact(4);
        for (word, chunk) in words.iter().zip(&mut chunks) {
            let value = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
            word.store(value, Ordering::Relaxed);
        }
        let rest = chunks.remainder();
        if let (false, Some(word)) = (rest.is_empty(), words.last()) {
            let mut last = [0u8; 4];
            last[..rest.len()].copy_from_slice(rest);
            word.store(u32::from_le_bytes(last), Ordering::Relaxed);
        }
    }

    /// Copies a payload of `out.len()` bytes (at most the slot size) out of the slot.
    pub(super) fn read_payload(&self, start: usize, out: &mut [u8]) {
        let words = self.payload_words(start, out.len());
        let mut chunks = out.chunks_exact_mut(4);
        for (word, chunk) in words.iter().zip(&mut chunks) {
            chunk.copy_from_slice(&word.load(Ordering::Relaxed).to_le_bytes());
        }
        let rest = chunks.into_remainder();
        if let (false, Some(word)) = (rest.is_empty(), words.last()) {
            let n = rest.len();
            rest.copy_from_slice(&word.load(Ordering::Relaxed).to_le_bytes()[..n]);
        }
    }

    /// The words holding `len` payload bytes of the slot at `start` (`len` is at most the slot
    /// size, so they lie inside the slot).
    fn payload_words(&self, start: usize, len: usize) -> &[AtomicU32] {
        let first = start + SLOT_HEADER_WORDS;
        &self.region.words()[first..first + len.div_ceil(4)]
    }
}

/// Every interleaving of a few ring operations, explored by loom:
/// `RUSTFLAGS="--cfg ipc_loom" cargo test -p ipc --lib loom`.
#[cfg(all(test, ipc_loom))]
mod loom_tests {
    use loom::sync::Arc;
    use loom::thread;

    use super::{PopError, PushError, Ring};
    use crate::shm::HeapRegion;
    use crate::shm::loom_support::ring;

    fn pop_one(ring: &Ring<HeapRegion>) -> u8 {
        let mut buf = [0u8; 4];
        loop {
            match ring.try_pop(&mut buf) {
                Ok(_) => return buf[0],
                Err(PopError::Empty) => thread::yield_now(),
                Err(other) => panic!("{other}"),
            }
        }
    }

    #[test]
    fn loom_two_producers_one_consumer_deliver_each_message_once() {
        loom::model(|| {
            let ring = ring(2);
            let producers: Vec<_> = [1u8, 2]
                .into_iter()
                .map(|byte| {
                    let ring = Arc::clone(&ring);
                    thread::spawn(move || ring.try_push(&[byte]).unwrap())
                })
                .collect();
            let mut got = [pop_one(&ring), pop_one(&ring)];
            producers.into_iter().for_each(|p| p.join().unwrap());
            got.sort();
            assert_eq!(got, [1, 2]);
        });
    }

    #[test]
    fn loom_one_producer_laps_a_two_slot_ring_in_order() {
        loom::model(|| {
            let ring = ring(2);
            let producer = {
                let ring = Arc::clone(&ring);
                thread::spawn(move || {
                    for byte in 1..=3u8 {
                        while ring.try_push(&[byte]) == Err(PushError::Full) {
                            thread::yield_now();
                        }
                    }
                })
            };
            let got = [pop_one(&ring), pop_one(&ring), pop_one(&ring)];
            producer.join().unwrap();
            assert_eq!(got, [1, 2, 3]);
        });
    }

    #[test]
    fn loom_two_consumers_never_take_the_same_message() {
        loom::model(|| {
            let ring = ring(2);
            ring.try_push(&[1]).unwrap();
            ring.try_push(&[2]).unwrap();
            let other = {
                let ring = Arc::clone(&ring);
                thread::spawn(move || pop_one(&ring))
            };
            let mine = pop_one(&ring);
            let mut got = [mine, other.join().unwrap()];
            got.sort();
            assert_eq!(got, [1, 2]);
        });
    }
}

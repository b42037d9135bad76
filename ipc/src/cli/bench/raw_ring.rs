//! The plain loop of shared memory: a single-producer single-consumer ring as a C textbook
//! writes it, over the same kind of mapped segment as `shm`, through the safe [`Region`] words.
//!
//! ```text
//! word 0        head: messages written (only the producer stores it)
//! word 16       tail: messages read (only the consumer stores it; its own cache line)
//! word 32..=36  ready, closed, count (low, high), done: the bench's handshake
//! word 64...    SLOTS slots of size/4 words each, slot = position % SLOTS
//! ```
//!
//! No per-slot sequence numbers, no compare-and-swap, no futex, no length: the producer waits
//! while `head - tail == SLOTS`, copies the words and publishes with a release store of `head`;
//! the consumer mirrors it with `tail`. Waiting is a spin. No system call per message: what the
//! `shm` mechanism costs beyond this is its multi-producer, multi-consumer protocol and sleeping.

use std::io;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use ipc::shm::Region;

const HEAD: usize = 0;
const TAIL: usize = 16;
const READY: usize = 32;
const CLOSED: usize = 33;
const COUNT_LOW: usize = 34;
const COUNT_HIGH: usize = 35;
const DONE: usize = 36;
const DATA: usize = 64;
/// Longest spin for one event before the run is declared stuck.
const TIMEOUT: Duration = Duration::from_secs(10);
/// Spins between looks at the clock.
const SPINS_PER_CLOCK_CHECK: u32 = 1024;

/// One direction of fixed-size messages over `region`.
pub struct RawRing<R> {
    region: R,
    slots: u32,
    slot_words: usize,
}

impl<R: Region> RawRing<R> {
    /// Views `region` as a ring of `slots` messages of `size` bytes (a multiple of 4).
    pub fn new(region: R, slots: u32, size: usize) -> io::Result<Self> {
        let slot_words = size / 4;
        let needed = DATA + slots as usize * slot_words;
        if !size.is_multiple_of(4) || region.words().len() < needed {
            return Err(io::Error::other(format!(
                "a plain ring of {slots} x {size} bytes needs {needed} words"
            )));
        }
        Ok(RawRing {
            region,
            slots,
            slot_words,
        })
    }

    fn word(&self, index: usize) -> &AtomicU32 {
        &self.region.words()[index]
    }

    fn slot(&self, position: u32) -> &[AtomicU32] {
        let start = DATA + (position % self.slots) as usize * self.slot_words;
        &self.region.words()[start..start + self.slot_words]
    }

    /// Producer: waits for a free slot, copies `msg` in word by word, publishes it.
    pub fn push(&self, msg: &[u8]) -> io::Result<()> {
        let head = self.word(HEAD).load(Ordering::Relaxed);
        let tail = self.word(TAIL);
        spin_until(|| head.wrapping_sub(tail.load(Ordering::Acquire)) < self.slots)?;
        for (word, bytes) in self.slot(head).iter().zip(msg.chunks_exact(4)) {
            let value = u32::from_ne_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
            word.store(value, Ordering::Relaxed);
        }
        self.word(HEAD)
            .store(head.wrapping_add(1), Ordering::Release);
        Ok(())
    }

    /// Consumer: waits for a message and copies it out; `false` once closed and drained.
    pub fn pop(&self, buf: &mut [u8]) -> io::Result<bool> {
        let tail = self.word(TAIL).load(Ordering::Relaxed);
        let head = self.word(HEAD);
        let closed = self.word(CLOSED);
        spin_until(|| head.load(Ordering::Acquire) != tail || closed.load(Ordering::Acquire) == 1)?;
        // `closed` is stored after the last `head`, so this load sees the final head.
        if head.load(Ordering::Acquire) == tail {
            return Ok(false);
        }
        for (word, bytes) in self.slot(tail).iter().zip(buf.chunks_exact_mut(4)) {
            bytes.copy_from_slice(&word.load(Ordering::Relaxed).to_ne_bytes());
        }
        self.word(TAIL)
            .store(tail.wrapping_add(1), Ordering::Release);
        Ok(true)
    }

    /// Consumer: says it is attached.
    pub fn set_ready(&self) {
        self.word(READY).store(1, Ordering::Release);
    }

    /// Producer: waits until the consumer is attached.
    pub fn wait_ready(&self) -> io::Result<()> {
        spin_until(|| self.word(READY).load(Ordering::Acquire) == 1)
    }

    /// Producer: no more messages.
    pub fn close(&self) {
        self.word(CLOSED).store(1, Ordering::Release);
    }

    /// Consumer: reports how many messages it took.
    pub fn report(&self, count: u64) {
        self.word(COUNT_LOW).store(count as u32, Ordering::Relaxed);
        self.word(COUNT_HIGH)
            .store((count >> 32) as u32, Ordering::Relaxed);
        self.word(DONE).store(1, Ordering::Release);
    }

    /// Producer: waits for the consumer's report.
    pub fn wait_report(&self) -> io::Result<u64> {
        spin_until(|| self.word(DONE).load(Ordering::Acquire) == 1)?;
        let low = u64::from(self.word(COUNT_LOW).load(Ordering::Relaxed));
        let high = u64::from(self.word(COUNT_HIGH).load(Ordering::Relaxed));
        Ok(high << 32 | low)
    }
}

/// Spins until `done()`, at most [`TIMEOUT`].
fn spin_until(mut done: impl FnMut() -> bool) -> io::Result<()> {
    let start = Instant::now();
    let mut spins = 0u32;
    while !done() {
        std::hint::spin_loop();
        spins = spins.wrapping_add(1);
        if spins.is_multiple_of(SPINS_PER_CLOCK_CHECK) && start.elapsed() > TIMEOUT {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the other side of the plain ring stopped",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ipc::shm::HeapRegion;

    #[test]
    fn messages_come_out_in_order_and_close_ends_the_stream() {
        let ring = RawRing::new(HeapRegion::new(DATA + 4 * 2), 4, 8).expect("fits");
        for i in 0..3u8 {
            ring.push(&[i; 8]).expect("room");
        }
        ring.close();
        let mut buf = [0u8; 8];
        for i in 0..3u8 {
            assert!(ring.pop(&mut buf).expect("a message"));
            assert_eq!(buf, [i; 8]);
        }
        assert!(!ring.pop(&mut buf).expect("closed"));
    }

    #[test]
    fn a_region_too_small_for_the_slots_is_refused() {
        assert!(RawRing::new(HeapRegion::new(DATA + 7), 4, 8).is_err());
    }

    #[test]
    fn the_report_carries_64_bits() {
        let ring = RawRing::new(HeapRegion::new(DATA + 2), 1, 8).expect("fits");
        ring.report(5 << 32 | 7);
        assert_eq!(ring.wait_report().expect("done"), 5 << 32 | 7);
    }
}

//! The tuned variant of the ring: many messages per compare-and-swap.
//!
//! [`Ring::try_push`] and [`Ring::try_pop`] (the plain lesson) pay one compare-and-swap on the
//! shared counter per message. A batch claims `k` consecutive positions with ONE
//! compare-and-swap, `tail: pos -> pos + k` (or `head`), after checking that each of the `k`
//! slots is ready: free (`seq == pos + i`) for producers, published (`seq == pos + i + 1`) for
//! consumers. That is sound in Vyukov's queue because a free slot can change owner only
//! through the CAS on `tail` and a published one only through the CAS on `head`: if the CAS
//! from `pos` succeeds, nobody else claimed any of the `k` positions in between, so all `k` are
//! still ready and now ours. Each slot is still published (or freed) by its own release store
//! of `seq`, so a consumer never sees a half-written slot, exactly as in the plain version.
//!
//! A batch is *short* when fewer slots are ready than asked for: the run stops at the first slot
//! that is not, and only the ready prefix is claimed. The wakeups are batched too: the waiting
//! calls [`super::wait::push_batch`] and [`super::wait::pop_batch`] notify once per batch.
//! `ipc bench` measures what this buys (`shm-batch` against `shm`); the README gives the ratio.

use super::Region;
use super::atomic::Ordering;
use super::layout::{W_HEAD, W_TAIL};
use super::ring::{PopError, PushError, Ring};

/// A free slot of position `pos` has `seq == pos + FREE`.
const FREE: u32 = 0;
/// A published slot of position `pos` has `seq == pos + PUBLISHED`.
const PUBLISHED: u32 = 1;

impl<R: Region> Ring<R> {
    /// Enqueues the longest prefix of `messages` that has free slots, in order, with one
    /// compare-and-swap on `tail`, without waiting; returns how many were enqueued (at least
    /// one, unless `messages` is empty). A message larger than a slot refuses the whole batch
    /// before anything is written.
    pub fn try_push_batch(&self, messages: &[&[u8]]) -> Result<usize, PushError> {
        let max = self.geometry().slot_bytes as usize;
        if let Some(big) = messages.iter().find(|m| m.len() > max) {
            return Err(PushError::TooLarge {
                len: big.len(),
                max,
            });
        }
        if messages.is_empty() {
            return Ok(0);
        }
        let (pos, n) = self
            .claim_run(W_TAIL, FREE, messages.len())
            .ok_or(PushError::Full)?;
        for (i, message) in messages[..n as usize].iter().enumerate() {
            let at = pos.wrapping_add(i as u32);
            let start = self.slot_start(at);
            self.write_payload(start, message);
            self.word(start)
                .store(at.wrapping_add(1), Ordering::Release);
        }
        Ok(n as usize)
    }

    /// Dequeues up to `max` published messages from the head, in order, with one
    /// compare-and-swap on `head`, without waiting. Each is copied into `scratch` (which must
    /// hold a whole slot) and handed to `each`: `Ok(payload)`, or `Err(PopError::Corrupt)` for a
    /// slot whose length lies (that slot is dropped, the rest of the batch is delivered).
    /// Returns how many slots were taken, corrupt ones included.
    pub fn try_pop_batch(
        &self,
        max: usize,
        scratch: &mut [u8],
        mut each: impl FnMut(Result<&[u8], PopError>),
    ) -> Result<usize, PopError> {
        let slot = self.geometry().slot_bytes as usize;
        if scratch.len() < slot {
            return Err(PopError::BufferTooSmall {
                len: slot,
                buf: scratch.len(),
            });
        }
        if max == 0 {
            return Ok(0);
        }
        let (pos, n) = self
            .claim_run(W_HEAD, PUBLISHED, max)
            .ok_or(PopError::Empty)?;
        for i in 0..n {
            let at = pos.wrapping_add(i);
            let start = self.slot_start(at);
            // Relaxed: claim_run's acquire load of this slot's seq saw the producer's publish.
            let len = self.word(start + 1).load(Ordering::Relaxed);
            let copy = |start, len| self.read_payload(start, &mut scratch[..len]);
            let outcome = self.finish_take(at, start, len, copy);
            each(outcome.map(|len| &scratch[..len]));
        }
        Ok(n as usize)
    }

    /// Claims the longest run, at most `want` (and at most the capacity), of consecutive slots
    /// ready at `counter` (`seq == pos + i + ready`) with one compare-and-swap. `None` when the
    /// slot at the counter is not ready (full for producers, empty for consumers).
    fn claim_run(&self, counter: usize, ready: u32, want: usize) -> Option<(u32, u32)> {
        let want = want.min(self.geometry().capacity as usize) as u32;
        let mut pos = self.word(counter).load(Ordering::Relaxed);
        loop {
            let lag = self.lag(pos, ready);
            if lag < 0 {
                return None;
            }
            if lag > 0 {
                // Another party claimed `pos` already: look at the counter again.
                pos = self.word(counter).load(Ordering::Relaxed);
                continue;
            }
            let run = 1
                + (1..want)
                    .take_while(|&i| self.lag(pos.wrapping_add(i), ready) == 0)
                    .count() as u32;
            match self.advance(counter, pos, run) {
                Ok(()) => return Some((pos, run)),
                Err(now) => pos = now,
            }
        }
    }

    /// How far the slot of `pos` is from ready (`seq - (pos + ready)` as a signed number):
    /// negative, a lap behind; zero, ready; positive, already taken by someone else.
    fn lag(&self, pos: u32, ready: u32) -> i32 {
        let seq = self.word(self.slot_start(pos)).load(Ordering::Acquire);
        seq.wrapping_sub(pos.wrapping_add(ready)) as i32
    }
}

/// Every interleaving of a batch producer lapping a two-slot ring against a batch consumer:
/// `RUSTFLAGS="--cfg ipc_loom" cargo test -p ipc --lib loom`.
#[cfg(all(test, ipc_loom))]
mod loom_tests {
    use loom::sync::Arc;
    use loom::thread;

    use crate::shm::loom_support::ring;
    use crate::shm::{PopError, PushError};

    #[test]
    fn loom_a_batch_producer_lapping_the_ring_meets_a_batch_consumer_in_order() {
        loom::model(|| {
            let ring = ring(2);
            let producer = {
                let ring = Arc::clone(&ring);
                thread::spawn(move || {
                    let messages: [&[u8]; 3] = [&[1], &[2], &[3]];
                    let mut sent = 0;
                    while sent < messages.len() {
                        match ring.try_push_batch(&messages[sent..]) {
                            Ok(n) => sent += n,
                            Err(PushError::Full) => thread::yield_now(),
                            Err(other) => panic!("{other}"),
                        }
                    }
                })
            };
            let mut got = Vec::new();
            let mut scratch = [0u8; 4];
            while got.len() < 3 {
                match ring.try_pop_batch(2, &mut scratch, |m| got.push(m.unwrap()[0])) {
                    Ok(_) => {}
                    Err(PopError::Empty) => thread::yield_now(),
                    Err(other) => panic!("{other}"),
                }
            }
            producer.join().unwrap();
            assert_eq!(got, [1, 2, 3]);
        });
    }
}

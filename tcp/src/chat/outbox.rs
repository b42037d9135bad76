//! A member's bounded outgoing queue: shared lines wait here until the member's writer
//! task hands them to the kernel.
//!
//! Why bounded: a member that stops reading would otherwise make the server hold every
//! line ever sent to it, until memory runs out. Why evict instead of wait: if the sender
//! waited for room, one stalled reader would slow the whole room down. So a push never
//! waits: when a member's queue already holds its byte budget, the member is evicted
//! (its writer stops at once, its connection is closed, the reason is logged) and
//! everybody else carries on at full speed.
//!
//! The budget counts memory, not text: each queued line costs its bytes plus the
//! [`ENTRY_BYTES`] of its handle in the queue, so a flood of tiny lines (join notices,
//! one-letter messages) is bounded by the budget like a few long ones.
//!
//! The writer takes everything queued at once ([`Outbox::next_batch`]) and writes the batch
//! with one `writev(2)` (see [`write_batch`]), so a burst of a thousand lines costs a few
//! system calls instead of a thousand.

use bytes::{Buf, Bytes};
use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::sync::Mutex;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Queue entries an outbox keeps room for once drained. A burst (a storm of join notices:
/// one entry each, for every member) grows the queue's buffer to thousands of entries; a
/// buffer never shrinks by itself, so without this a member would hold that memory, 32
/// bytes per entry, for as long as it stays.
const KEEP_ENTRIES: usize = 64;

/// What one queued line costs besides its bytes: its `Bytes` handle in the queue's buffer
/// (32 bytes on a 64-bit machine). Without it, 10,000 one-byte lines would count as 10 KB
/// of a budget while holding 330 KB.
pub const ENTRY_BYTES: usize = std::mem::size_of::<Bytes>();

/// What `line` costs the budget while it waits in a queue.
fn cost(line: &Bytes) -> usize {
    line.len() + ENTRY_BYTES
}

/// What happened to a pushed line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Push {
    /// Queued for the writer.
    Queued,
    /// The queue was over its budget: the outbox is now closed with [`Closed::Evicted`].
    Evicted,
    /// The outbox was already closed; the line was dropped.
    Closed,
}

/// Why an outbox stopped taking lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closed {
    /// The member is leaving normally: the writer sends what is queued, then stops.
    Finish,
    /// The member fell too far behind: the queue was dropped, the writer stops at once.
    Evicted,
}

#[derive(Debug, Default)]
struct State {
    queue: VecDeque<Bytes>,
    queued_bytes: usize,
    /// Most bytes ever queued at once (for tests and logs: proof that memory stayed bounded).
    peak_bytes: usize,
    closed: Option<Closed>,
}

/// One member's queue of outgoing lines, bounded in bytes.
#[derive(Debug)]
pub struct Outbox {
    state: Mutex<State>,
    wake_writer: Notify,
    /// Cancelled on eviction, so a writer stuck in a `write` to a full socket stops too.
    evicted: CancellationToken,
    budget: usize,
}

impl Outbox {
    /// An empty outbox that evicts once its lines would cost more than `budget` bytes.
    pub fn new(budget: usize) -> Self {
        Outbox {
            state: Mutex::new(State::default()),
            wake_writer: Notify::new(),
            evicted: CancellationToken::new(),
            budget,
        }
    }

    /// Queues `line` (a cheap reference-count increment, not a copy). Never waits.
    pub fn push(&self, line: Bytes) -> Push {
        let mut state = self.lock();
        if state.closed.is_some() {
            return Push::Closed;
        }
        if state.queued_bytes + cost(&line) > self.budget {
            state.closed = Some(Closed::Evicted);
            state.queue = VecDeque::new();
            state.queued_bytes = 0;
            drop(state);
            self.evicted.cancel();
            self.wake_writer.notify_one();
            return Push::Evicted;
        }
        state.queued_bytes += cost(&line);
        state.peak_bytes = state.peak_bytes.max(state.queued_bytes);
        state.queue.push_back(line);
        drop(state);
        self.wake_writer.notify_one();
        Push::Queued
    }

    /// Stops taking lines. With [`Closed::Finish`] the writer still sends what is queued.
    /// An earlier eviction is not overridden.
    pub fn close(&self, how: Closed) {
        let mut state = self.lock();
        if state.closed.is_none() {
            state.closed = Some(how);
        }
        if how == Closed::Evicted {
            state.queue.clear();
            state.queued_bytes = 0;
            self.evicted.cancel();
        }
        drop(state);
        self.wake_writer.notify_one();
    }

    /// Why the outbox is closed, if it is.
    pub fn closed(&self) -> Option<Closed> {
        self.lock().closed
    }

    /// Resolves once the member is evicted: a writer waits on this next to its `write`,
    /// which may be stuck on a peer that does not read.
    pub async fn evicted(&self) {
        self.evicted.cancelled().await;
    }

    /// Most bytes that were ever queued at once, handles included.
    pub fn peak_bytes(&self) -> usize {
        self.lock().peak_bytes
    }

    /// Waits for lines and moves all of them into `batch`. Returns `false` when the writer
    /// should stop: evicted, or finished with nothing left to send.
    pub async fn next_batch(&self, batch: &mut VecDeque<Bytes>) -> bool {
        loop {
            {
                let mut state = self.lock();
                match state.closed {
                    Some(Closed::Evicted) => return false,
                    _ if !state.queue.is_empty() => {
                        state.queued_bytes = 0;
                        if batch.is_empty() {
                            // No copy: the writer takes the queue's buffer, the queue the
                            // writer's, both cut back to idle size first.
                            batch.shrink_to(KEEP_ENTRIES);
                            std::mem::swap(batch, &mut state.queue);
                        } else {
                            batch.append(&mut state.queue);
                        }
                        state.queue.shrink_to(KEEP_ENTRIES);
                        return true;
                    }
                    Some(Closed::Finish) => return false,
                    None => {}
                }
            }
            // `notify_one` stores a permit when the writer is not waiting yet, so a push
            // between the check above and this wait is not lost.
            self.wake_writer.notified().await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the queue half-updated in a way
        // that matters, so a poisoned lock is simply taken over.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Most buffers handed to one `writev(2)`; Linux accepts up to 1024 (`IOV_MAX`).
const MAX_IOVECS: usize = 256;

/// Writes every line in `batch` with as few `writev(2)` calls as the kernel allows,
/// emptying `batch`. Partial writes are resumed where they stopped.
pub async fn write_batch<W: AsyncWrite + Unpin>(
    out: &mut W,
    batch: &mut VecDeque<Bytes>,
) -> io::Result<()> {
    while !batch.is_empty() {
        let slices: Vec<IoSlice<'_>> = batch
            .iter()
            .take(MAX_IOVECS)
            .map(|b| IoSlice::new(b))
            .collect();
        let written = out.write_vectored(&slices).await?;
        if written == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        consume(batch, written);
    }
    Ok(())
}

/// Drops `n` written bytes from the front of `batch`.
fn consume(batch: &mut VecDeque<Bytes>, mut n: usize) {
    while n > 0 {
        let Some(front) = batch.front_mut() else {
            return;
        };
        if front.len() <= n {
            n -= front.len();
            batch.pop_front();
        } else {
            front.advance(n);
            n = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_push_over_the_budget_evicts_and_frees_the_queue() {
        let outbox = Outbox::new(2 * (5 + ENTRY_BYTES));
        assert_eq!(outbox.push(Bytes::from_static(b"12345")), Push::Queued);
        assert_eq!(outbox.push(Bytes::from_static(b"12345")), Push::Queued);
        assert_eq!(outbox.push(Bytes::from_static(b"1")), Push::Evicted);
        assert_eq!(outbox.push(Bytes::from_static(b"1")), Push::Closed);
        assert_eq!(outbox.closed(), Some(Closed::Evicted));
        assert_eq!(outbox.peak_bytes(), 2 * (5 + ENTRY_BYTES));
    }

    #[test]
    fn tiny_lines_are_charged_their_handle_too() {
        const BUDGET: usize = 64 * 1024;
        let outbox = Outbox::new(BUDGET);
        let mut queued = 0;
        while outbox.push(Bytes::from_static(b"x")) == Push::Queued {
            queued += 1;
        }
        // Counted by text alone, 65,536 one-byte lines would fit (2 MiB of handles).
        assert_eq!(queued, BUDGET / (1 + ENTRY_BYTES));
        assert!(outbox.peak_bytes() <= BUDGET);
    }

    #[tokio::test]
    async fn the_writer_gets_everything_queued_in_one_batch_then_stops_after_finish() {
        let outbox = Outbox::new(100);
        outbox.push(Bytes::from_static(b"a\n"));
        outbox.push(Bytes::from_static(b"b\n"));
        outbox.close(Closed::Finish);
        let mut batch = VecDeque::new();
        assert!(outbox.next_batch(&mut batch).await);
        assert_eq!(batch.len(), 2);
        let mut out = Vec::new();
        write_batch(&mut out, &mut batch).await.unwrap();
        assert_eq!(out, b"a\nb\n");
        assert!(!outbox.next_batch(&mut batch).await);
    }

    #[tokio::test]
    async fn a_drained_burst_gives_its_queue_memory_back() {
        let outbox = Outbox::new(1 << 20);
        for _ in 0..10_000 {
            outbox.push(Bytes::from_static(b"* x joined\n"));
        }
        let mut batch = VecDeque::new();
        assert!(outbox.next_batch(&mut batch).await);
        assert_eq!(
            batch.len(),
            10_000,
            "the whole burst, in order, in one batch"
        );
        write_batch(&mut Vec::new(), &mut batch).await.unwrap();
        outbox.push(Bytes::from_static(b"a\n"));
        assert!(outbox.next_batch(&mut batch).await);
        assert_eq!(batch, VecDeque::from([Bytes::from_static(b"a\n")]));
        let queue_room = outbox.lock().queue.capacity();
        assert!(
            queue_room <= 2 * KEEP_ENTRIES,
            "queue keeps room for {queue_room}"
        );
        assert!(
            batch.capacity() <= 2 * KEEP_ENTRIES,
            "batch keeps {}",
            batch.capacity()
        );
    }

    #[test]
    fn consume_resumes_inside_a_line() {
        let mut batch: VecDeque<Bytes> = ["abc", "de", "f"]
            .iter()
            .map(|s| Bytes::from_static(s.as_bytes()))
            .collect();
        consume(&mut batch, 4);
        assert_eq!(
            batch,
            VecDeque::from([Bytes::from_static(b"e"), Bytes::from_static(b"f")])
        );
    }
}

//! Cutting a byte stream into lines, with a length limit and a deadline for half lines.
//!
//! TCP delivers a stream of bytes, not messages: one `read(2)` may return half a line or
//! twenty lines. The reader keeps a buffer, hands out every complete line (ending in
//! `\n`, a `\r` before it dropped), and protects the server from two hostile peers:
//! - one that never sends `\n`: once the buffer holds more than the line limit, the rest
//!   of that line is thrown away as it arrives and the caller gets [`Line::TooLong`] once;
//! - one that sends half a line and stalls, or dribbles it a byte at a time (slowloris):
//!   a line must be complete within the read deadline of its first byte, however its bytes
//!   are spread over `read(2)` calls, or the read fails with
//!   [`std::io::ErrorKind::TimedOut`]. The deadline is per whole line, like rpc-lite's per
//!   whole frame: a deadline per `read(2)` would restart with every byte.
//!
//! An idle peer with nothing pending is left alone when `idle_ok` is set: a chat member may
//! read for an hour without typing. With an input rate ([`LineReader::with_rate`]) every
//! byte read is charged, those of a line being thrown away too, so an endless line costs
//! the server no more than the rate.

use bytes::buf::BufMut;
use bytes::{Bytes, BytesMut};
use std::io;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::time::Instant;

use super::rate::TokenBucket;

/// Most the reader asks the kernel for at a time. 8 KiB holds a few hundred chat lines;
/// bigger buffers only help bulk transfers. It is also the most one read can overdraw the
/// input rate by.
pub const READ_CHUNK: usize = 8 * 1024;

/// One unit handed out by [`LineReader::next_line`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// A complete line without its `\n` (and without a `\r` just before it).
    Complete(Bytes),
    /// A line longer than the limit; its bytes were discarded.
    TooLong,
}

/// Reads lines of at most `max_len` bytes from any async byte stream.
#[derive(Debug)]
pub struct LineReader<R> {
    inner: R,
    buf: BytesMut,
    max_len: usize,
    read_timeout: Duration,
    /// True while throwing away the rest of an over-long line.
    discarding: bool,
    /// When the first byte of the line now pending arrived (or when we began waiting for
    /// the rest of it): its read deadline counts from here.
    line_started: Option<Instant>,
    /// The input rate, charged for every byte read.
    rate: Option<TokenBucket>,
    /// No read before this: the rate's debt is being paid off.
    resume_at: Option<Instant>,
}

impl<R: AsyncRead + Unpin> LineReader<R> {
    /// Wraps `inner`; lines longer than `max_len` bytes (not counting `\r\n`) are refused,
    /// and a half line must be completed within `read_timeout`.
    pub fn new(inner: R, max_len: usize, read_timeout: Duration) -> Self {
        LineReader {
            inner,
            buf: BytesMut::with_capacity(READ_CHUNK),
            max_len,
            read_timeout,
            discarding: false,
            line_started: None,
            rate: None,
            resume_at: None,
        }
    }

    /// Charges every byte read to `rate`: once it is spent, the next `read(2)` waits, and
    /// the peer's bytes stay in the kernel (TCP flow control slows the peer down).
    pub fn with_rate(mut self, rate: TokenBucket) -> Self {
        self.rate = Some(rate);
        self
    }

    /// The next line, or `Ok(None)` at end of stream (a half line before it is dropped).
    ///
    /// With `idle_ok` the call may wait forever while no bytes are pending; otherwise it
    /// waits at most one read deadline for a line to begin. Once part of a line has
    /// arrived, the whole line must be complete within the read deadline of its first
    /// byte. Waiting longer is an error of kind `TimedOut`.
    pub async fn next_line(&mut self, idle_ok: bool) -> io::Result<Option<Line>> {
        let start_by = (!idle_ok).then(|| Instant::now() + self.read_timeout);
        self.next_line_by(start_by).await
    }

    /// Like [`next_line`](Self::next_line), but with `Some(deadline)` the line must also be
    /// complete by `deadline` (the chat's deadline for joining); `None` may wait forever
    /// while nothing is pending.
    pub async fn next_line_by(&mut self, deadline: Option<Instant>) -> io::Result<Option<Line>> {
        loop {
            if let Some(line) = self.take_buffered() {
                return Ok(Some(line));
            }
            let pending = !self.buf.is_empty() || self.discarding;
            let line_deadline = pending
                .then(|| *self.line_started.get_or_insert_with(Instant::now) + self.read_timeout);
            let by = match (deadline, line_deadline) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            if self.fill(by).await? == 0 {
                return Ok(None);
            }
        }
    }

    /// Charges `bytes` more to the input rate (what a line costs beyond its own bytes) and
    /// returns how long the peer is now in debt; the next read waits that long.
    pub fn charge(&mut self, bytes: usize) -> Duration {
        let Some(rate) = self.rate.as_mut() else {
            return Duration::ZERO;
        };
        let pause = rate.take(bytes);
        if !pause.is_zero() {
            self.resume_at = Some(Instant::now() + pause);
        }
        pause
    }

    /// The next line if one is already buffered, without reading: lets a caller handle
    /// every line that arrived in one `read(2)` before it waits again.
    pub fn next_buffered(&mut self) -> Option<Line> {
        self.take_buffered()
    }

    /// Takes one line out of the buffer if there is one, handling the length limit.
    fn take_buffered(&mut self) -> Option<Line> {
        match self.buf.iter().position(|&b| b == b'\n') {
            Some(end) => {
                self.line_started = None; // the line is complete (or its rest discarded)
                let mut line = self.buf.split_to(end + 1);
                if std::mem::take(&mut self.discarding) {
                    return self.take_buffered();
                }
                line.truncate(end);
                if line.last() == Some(&b'\r') {
                    line.truncate(end - 1);
                }
                if line.len() > self.max_len {
                    return Some(Line::TooLong);
                }
                Some(Line::Complete(line.freeze()))
            }
            // Allow one extra byte for a `\r` that may still be followed by `\n`.
            None if self.buf.len() > self.max_len + 1 => {
                self.buf.clear();
                let first_time = !self.discarding;
                self.discarding = true;
                first_time.then_some(Line::TooLong)
            }
            None => None,
        }
    }

    /// One `read(2)` of at most [`READ_CHUNK`] into the buffer, after paying off any debt
    /// to the input rate, and by `deadline` if there is one; returns the byte count
    /// (0 = end of stream).
    async fn fill(&mut self, deadline: Option<Instant>) -> io::Result<usize> {
        if let Some(resume_at) = self.resume_at.take() {
            tokio::time::sleep_until(resume_at).await;
        }
        if self.discarding {
            self.buf.clear();
        }
        self.buf.reserve(READ_CHUNK);
        let mut room = (&mut self.buf).limit(READ_CHUNK);
        let read = self.inner.read_buf(&mut room);
        let n = match deadline {
            None => read.await?,
            Some(deadline) => match tokio::time::timeout_at(deadline, read).await {
                Ok(result) => result?,
                Err(_) => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "read deadline passed before a line was complete",
                    ));
                }
            },
        };
        self.charge(n);
        Ok(n)
    }

    /// Gives back the stream, dropping anything buffered.
    pub fn into_inner(self) -> R {
        self.inner
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(input: &'static [u8], max: usize) -> LineReader<&'static [u8]> {
        LineReader::new(input, max, Duration::from_secs(5))
    }

    async fn all_lines(mut r: LineReader<&'static [u8]>) -> Vec<Line> {
        let mut out = Vec::new();
        while let Some(line) = r.next_line(true).await.unwrap() {
            out.push(line);
        }
        out
    }

    fn text(s: &'static str) -> Line {
        Line::Complete(Bytes::from_static(s.as_bytes()))
    }

    #[tokio::test]
    async fn lines_lose_their_newline_and_carriage_return() {
        let lines = all_lines(reader(b"alice\r\nhi there\n\nhalf", 64)).await;
        assert_eq!(lines, vec![text("alice"), text("hi there"), text("")]);
    }

    #[tokio::test]
    async fn an_over_long_line_is_reported_once_and_the_next_line_survives() {
        let lines = all_lines(reader(b"12345678901234567890\nok\n", 8)).await;
        assert_eq!(lines, vec![Line::TooLong, text("ok")]);
    }

    #[tokio::test]
    async fn a_line_of_exactly_the_limit_passes_with_or_without_cr() {
        let lines = all_lines(reader(b"12345678\n12345678\r\n123456789\n", 8)).await;
        assert_eq!(
            lines,
            vec![text("12345678"), text("12345678"), Line::TooLong]
        );
    }

    #[tokio::test]
    async fn input_split_at_every_byte_gives_the_same_lines() {
        let input: &[u8] = b"bob\r\nhello\nxxxxxxxxxxxxxxxxxxxxxxxx\n/who\n";
        for split in 0..input.len() {
            let (a, b) = input.split_at(split);
            let stream = tokio_test_stream(a, b);
            let mut r = LineReader::new(stream, 10, Duration::from_secs(5));
            let mut got = Vec::new();
            while let Some(line) = r.next_line(true).await.unwrap() {
                got.push(line);
            }
            assert_eq!(
                got,
                vec![text("bob"), text("hello"), Line::TooLong, text("/who")],
                "split at {split}"
            );
        }
    }

    /// A stream that returns `a` and `b` in two separate reads.
    fn tokio_test_stream(a: &[u8], b: &[u8]) -> impl AsyncRead + Unpin {
        let (mut tx, rx) = tokio::io::duplex(1024);
        let (a, b) = (a.to_vec(), b.to_vec());
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            tx.write_all(&a).await.unwrap();
            tokio::task::yield_now().await;
            tx.write_all(&b).await.unwrap();
        });
        rx
    }

    #[tokio::test(start_paused = true)]
    async fn a_line_dribbled_a_byte_at_a_time_times_out_a_deadline_after_its_first_byte() {
        let (mut tx, rx) = tokio::io::duplex(64);
        let mut r = LineReader::new(rx, 64, Duration::from_secs(1));
        let started = Instant::now();
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            // Ten bytes 0.3 s apart, then the newline: each read(2) comes well within the
            // deadline, the whole line takes 3 s.
            for _ in 0..10 {
                if tx.write_all(b"x").await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            let _ = tx.write_all(b"\n").await;
        });
        let err = r
            .next_line(true)
            .await
            .expect_err("a 3 s line passed a 1 s deadline");
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert_eq!(started.elapsed(), Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn discarded_bytes_are_charged_to_the_input_rate() {
        const RATE: u64 = 64 * 1024;
        let (mut tx, rx) = tokio::io::duplex(64 * 1024);
        let mut r = LineReader::new(rx, 1024, Duration::from_secs(3600))
            .with_rate(TokenBucket::new(RATE, 16 * 1024));
        let started = Instant::now();
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            let endless = vec![b'x'; 64 * 1024];
            for _ in 0..16 {
                tx.write_all(&endless).await.unwrap(); // 1 MiB without a newline
            }
            tx.write_all(b"\nok\n").await.unwrap();
        });
        assert_eq!(r.next_line(true).await.unwrap(), Some(Line::TooLong));
        assert_eq!(r.next_line(true).await.unwrap(), Some(text("ok")));
        // 1 MiB at 64 KiB/s, less the 16 KiB burst and one read of overdraft.
        let least = Duration::from_secs_f64((1 << 20) as f64 / RATE as f64 - 0.5);
        assert!(
            started.elapsed() >= least,
            "1 MiB of a discarded line went through in {:?}",
            started.elapsed()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_half_line_that_stalls_times_out_but_silence_does_not() {
        let (mut tx, rx) = tokio::io::duplex(64);
        let mut r = LineReader::new(rx, 64, Duration::from_secs(1));
        // Silence with nothing pending: still waiting after a long time.
        let idle = tokio::time::timeout(Duration::from_secs(3600), r.next_line(true)).await;
        assert!(idle.is_err(), "an idle reader must not time out");
        use tokio::io::AsyncWriteExt;
        tx.write_all(b"half a li").await.unwrap();
        let err = r.next_line(true).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    }
}

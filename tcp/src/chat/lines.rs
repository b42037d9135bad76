//! Cutting a byte stream into lines, with a length limit and a deadline for half lines.
//!
//! TCP delivers a stream of bytes, not messages: one `read(2)` may return half a line or
//! twenty lines. The reader keeps a buffer, hands out every complete line (ending in
//! `\n`, a `\r` before it dropped), and protects the server from two hostile peers:
//! - one that never sends `\n`: once the buffer holds more than the line limit, the rest
//!   of that line is thrown away as it arrives and the caller gets [`Line::TooLong`] once;
//! - one that sends half a line and stalls (slowloris): a half line must be completed
//!   within the read deadline, or the read fails with [`std::io::ErrorKind::TimedOut`].
//!
//! An idle peer with nothing pending is left alone when `idle_ok` is set: a chat member may
//! read for an hour without typing.

use bytes::{Bytes, BytesMut};
use std::io;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt};

/// How much the reader asks the kernel for at a time. 8 KiB holds a few hundred chat lines;
/// bigger buffers only help bulk transfers.
const READ_CHUNK: usize = 8 * 1024;

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
        }
    }

    /// The next line, or `Ok(None)` at end of stream (a half line before it is dropped).
    ///
    /// With `idle_ok` the call may wait forever while no bytes are pending; otherwise, and
    /// always once part of a line has arrived, waiting longer than the read deadline is an
    /// error of kind `TimedOut`.
    pub async fn next_line(&mut self, idle_ok: bool) -> io::Result<Option<Line>> {
        loop {
            if let Some(line) = self.take_buffered() {
                return Ok(Some(line));
            }
            let pending = !self.buf.is_empty() || self.discarding;
            if self.fill(idle_ok && !pending).await? == 0 {
                return Ok(None);
            }
        }
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

    /// One `read(2)` into the buffer; returns the byte count (0 = end of stream).
    async fn fill(&mut self, wait_forever: bool) -> io::Result<usize> {
        if self.discarding {
            self.buf.clear();
        }
        self.buf.reserve(READ_CHUNK);
        let read = self.inner.read_buf(&mut self.buf);
        if wait_forever {
            return read.await;
        }
        match tokio::time::timeout(self.read_timeout, read).await {
            Ok(result) => result,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "read deadline passed before a line was complete",
            )),
        }
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

//! The blocking face of the decoding core: frames over any `std::io::Read` / `Write`,
//! such as a `std::net::TcpStream` (each call may block in `read(2)` / `write(2)`).
//!
//! ```no_run
//! use framing::{FrameFormat, FrameReader, write_frame};
//! let mut stream = std::net::TcpStream::connect("127.0.0.1:7000")?;
//! write_frame(&mut stream, &FrameFormat::default(), b"hello")?;
//! let mut reader = FrameReader::new(stream, FrameFormat::default());
//! while let Some(frame) = reader.read_frame()? {
//!     println!("{} bytes", frame.len());
//! }
//! # Ok::<(), framing::FrameError>(())
//! ```

use std::io::{Read, Write};

use bytes::{Bytes, BytesMut};

use crate::error::FrameError;
use crate::format::FrameFormat;

/// How much a reader asks `read(2)` for when it does not yet know a frame's length.
/// 8 KiB is a common default (std's `BufReader`); real applications tune it.
pub const READ_CHUNK: usize = 8 * 1024;

/// The most one `read(2)` asks for, even when a large frame is still missing more.
pub const MAX_READ: usize = 256 * 1024;

/// Payloads up to this size are copied behind their header and sent in one `write(2)`:
/// two small writes would meet Nagle's algorithm and the peer's delayed ACK, costing
/// tens of milliseconds per frame on a connection without `TCP_NODELAY`.
pub const COALESCE_LIMIT: usize = 4 * 1024;

/// Reads frames from a blocking byte stream.
#[derive(Debug)]
pub struct FrameReader<R> {
    inner: R,
    format: FrameFormat,
    buf: BytesMut,
}

impl<R: Read> FrameReader<R> {
    /// Wraps `inner`; frames are read in `format`.
    pub fn new(inner: R, format: FrameFormat) -> Self {
        FrameReader {
            inner,
            format,
            buf: BytesMut::with_capacity(READ_CHUNK),
        }
    }

    /// Reads the next frame. `Ok(None)` means the stream ended cleanly between frames;
    /// an end inside a frame is [`FrameError::Truncated`].
    pub fn read_frame(&mut self) -> Result<Option<Bytes>, FrameError> {
        loop {
            if let Some(frame) = self.format.decode(&mut self.buf)? {
                return Ok(Some(frame));
            }
            if self.fill()? == 0 {
                return match self.format.truncation(&self.buf) {
                    Some(err) => Err(err),
                    None => Ok(None),
                };
            }
        }
    }

    /// One `read(2)` into the buffer's spare room: what the decoder reserved for the
    /// current frame, at least [`READ_CHUNK`] and at most [`MAX_READ`] (the room is
    /// zero-filled first, safe Rust's price for reading into a `BytesMut`, so it is
    /// kept small). Returns the number of bytes read; 0 means end of stream.
    fn fill(&mut self) -> Result<usize, FrameError> {
        let start = self.buf.len();
        let room = (self.buf.capacity() - start).clamp(READ_CHUNK, MAX_READ);
        self.buf.resize(start + room, 0);
        loop {
            match self.inner.read(&mut self.buf[start..]) {
                Ok(n) => {
                    self.buf.truncate(start + n);
                    return Ok(n);
                }
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(err) => {
                    self.buf.truncate(start);
                    return Err(err.into());
                }
            }
        }
    }

    /// The wrapped reader.
    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    /// Unwraps the reader; bytes already buffered are lost.
    pub fn into_inner(self) -> R {
        self.inner
    }
}

/// Writes one frame to a blocking byte stream.
///
/// Nothing is written if the payload is refused (too large for the format).
pub fn write_frame<W: Write>(
    out: &mut W,
    format: &FrameFormat,
    payload: &[u8],
) -> Result<(), FrameError> {
    let header = format.header_bytes(payload.len())?;
    let header = &header[..format.header_len()];
    if payload.len() <= COALESCE_LIMIT {
        let mut frame = Vec::with_capacity(header.len() + payload.len());
        frame.extend_from_slice(header);
        frame.extend_from_slice(payload);
        out.write_all(&frame)?;
    } else {
        out.write_all(header)?;
        out.write_all(payload)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// A reader that hands out at most `step` bytes per read, like a slow network.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.step.min(buf.len()).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    #[test]
    fn frames_arriving_a_byte_at_a_time_decode() {
        let mut wire = Vec::new();
        for payload in [&b"alpha"[..], b"", &[9u8; 20_000]] {
            write_frame(&mut wire, &FrameFormat::default(), payload).unwrap();
        }
        let mut reader = FrameReader::new(
            Trickle {
                data: &wire,
                step: 1,
            },
            FrameFormat::default(),
        );
        assert_eq!(reader.read_frame().unwrap().unwrap(), &b"alpha"[..]);
        assert_eq!(reader.read_frame().unwrap().unwrap(), &b""[..]);
        assert_eq!(reader.read_frame().unwrap().unwrap().len(), 20_000);
        assert!(reader.read_frame().unwrap().is_none());
    }

    #[test]
    fn eof_mid_frame_reports_missing_bytes() {
        let mut reader = FrameReader::new(Cursor::new(vec![0, 0, 0, 4, 1]), FrameFormat::default());
        let err = reader.read_frame().unwrap_err();
        assert!(
            matches!(err, FrameError::Truncated { missing: 3, .. }),
            "{err}"
        );
    }

    #[test]
    fn refused_payload_writes_nothing() {
        let format = FrameFormat::default().with_max_frame(2).unwrap();
        let mut out = Vec::new();
        assert!(write_frame(&mut out, &format, b"abc").is_err());
        assert!(out.is_empty());
    }
}

//! What can go wrong with a frame: typed, so a server can tell a hostile peer from a
//! closed one and say which in its log.

use std::io;

use crate::format::LengthWidth;

/// An error while encoding or decoding a length-prefixed frame.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The peer announced a payload larger than the configured maximum. Raised as soon as
    /// the length field has arrived, before any buffer of that size is allocated.
    #[error("frame of {declared} bytes exceeds the maximum of {max} bytes")]
    TooLarge {
        /// The length the peer announced (or the payload we were asked to send).
        declared: u64,
        /// The configured maximum.
        max: usize,
    },
    /// The stream ended inside a frame.
    #[error("stream ended inside a frame: {missing} more bytes were expected ({context})")]
    Truncated {
        /// How many bytes were still missing when the stream ended.
        missing: u64,
        /// Which part was cut short, e.g. "4-byte length field" or "payload of 10 bytes".
        context: String,
    },
    /// The payload is longer than the length field can express; writing it would
    /// desynchronise the peer, so nothing is written.
    #[error("a payload of {len} bytes cannot be announced in a {width} length field")]
    Unrepresentable {
        /// The payload length.
        len: usize,
        /// The length field's width.
        width: LengthWidth,
    },
    /// The underlying reader or writer failed.
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
}

impl From<FrameError> for io::Error {
    fn from(err: FrameError) -> io::Error {
        match err {
            FrameError::Io(inner) => inner,
            FrameError::Truncated { .. } => io::Error::new(io::ErrorKind::UnexpectedEof, err),
            other => io::Error::new(io::ErrorKind::InvalidData, other),
        }
    }
}

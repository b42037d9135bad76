//! The shape of a length-prefixed frame: how wide the length is, in which byte order,
//! and the largest payload a receiver accepts.
//!
//! TCP delivers a stream of bytes, not messages: one `send(2)` may arrive as three
//! `recv(2)`s, and three sends as one. A length prefix puts the message boundaries back.
//!
//! ```text
//! +---------------------------+---------------------------------+
//! | length (width bytes,      | payload (length bytes)          |
//! |  in the chosen byte order)|                                 |
//! +---------------------------+---------------------------------+
//! default: width 4, big-endian, max 16 MiB  ==  Java DataOutputStream.writeInt(n); write(b)
//! ```

use std::fmt;

use crate::order::Endian;

/// How many bytes the length field takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LengthWidth {
    /// One byte: payloads up to 255 bytes.
    U8,
    /// Two bytes: payloads up to 65,535 bytes (Java's `writeShort`).
    U16,
    /// Four bytes: the contract default (Java's `writeInt`).
    U32,
    /// Eight bytes (Java's `writeLong`).
    U64,
}

impl LengthWidth {
    /// The width in bytes.
    pub const fn bytes(self) -> usize {
        match self {
            LengthWidth::U8 => 1,
            LengthWidth::U16 => 2,
            LengthWidth::U32 => 4,
            LengthWidth::U64 => 8,
        }
    }

    /// The largest length this field can express.
    pub const fn max_value(self) -> u64 {
        match self {
            LengthWidth::U8 => u8::MAX as u64,
            LengthWidth::U16 => u16::MAX as u64,
            LengthWidth::U32 => u32::MAX as u64,
            LengthWidth::U64 => u64::MAX,
        }
    }

    /// The width for a byte count of 1, 2, 4 or 8.
    pub fn from_bytes(bytes: usize) -> Result<Self, FormatError> {
        match bytes {
            1 => Ok(LengthWidth::U8),
            2 => Ok(LengthWidth::U16),
            4 => Ok(LengthWidth::U32),
            8 => Ok(LengthWidth::U64),
            other => Err(FormatError::BadWidth(other)),
        }
    }
}

impl fmt::Display for LengthWidth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-byte", self.bytes())
    }
}

/// A frame format that cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// The length field must be 1, 2, 4 or 8 bytes wide.
    #[error("length width must be 1, 2, 4 or 8 bytes, not {0}")]
    BadWidth(usize),
    /// The maximum frame could never be announced by the length field.
    #[error(
        "a max frame of {max} bytes cannot be expressed in a {width} length field (at most {limit})"
    )]
    MaxExceedsWidth {
        /// The requested maximum.
        max: u64,
        /// The length field's width.
        width: LengthWidth,
        /// The largest value the width can express.
        limit: u64,
    },
    /// The maximum frame does not fit this machine's address space.
    #[error("a max frame of {0} bytes does not fit in this machine's memory addressing")]
    MaxExceedsMemory(u64),
}

/// The shape of a frame: length width, byte order and the largest accepted payload.
///
/// ```
/// use framing::{Endian, FrameFormat, LengthWidth};
/// // The contract default: Java's DataOutputStream.writeInt(len) then the bytes.
/// let java = FrameFormat::default();
/// assert_eq!((java.width(), java.order(), java.max_frame()), (LengthWidth::U32, Endian::Big, 16 << 20));
///
/// // A 1-byte length cannot announce 300 bytes, so such a format is refused when built.
/// assert!(FrameFormat::new(LengthWidth::U8, Endian::Little, 300).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameFormat {
    width: LengthWidth,
    order: Endian,
    max_frame: usize,
}

impl FrameFormat {
    /// The default largest payload: 16 MiB. A peer can make a receiver hold this much per
    /// connection, so it is a bound, not a convenience.
    pub const DEFAULT_MAX_FRAME: usize = 16 << 20;

    /// The contract default: a 4-byte big-endian length, at most 16 MiB.
    pub const NETWORK: FrameFormat = FrameFormat {
        width: LengthWidth::U32,
        order: Endian::Big,
        max_frame: Self::DEFAULT_MAX_FRAME,
    };

    /// Builds a format, refusing a maximum the length field could never express.
    pub fn new(width: LengthWidth, order: Endian, max_frame: u64) -> Result<Self, FormatError> {
        if max_frame > width.max_value() {
            return Err(FormatError::MaxExceedsWidth {
                max: max_frame,
                width,
                limit: width.max_value(),
            });
        }
        let max_frame =
            usize::try_from(max_frame).map_err(|_| FormatError::MaxExceedsMemory(max_frame))?;
        Ok(FrameFormat {
            width,
            order,
            max_frame,
        })
    }

    /// The same format with another maximum (checked as in [`FrameFormat::new`]).
    pub fn with_max_frame(self, max_frame: u64) -> Result<Self, FormatError> {
        FrameFormat::new(self.width, self.order, max_frame)
    }

    /// The length field's width.
    pub const fn width(&self) -> LengthWidth {
        self.width
    }

    /// The length field's byte order.
    pub const fn order(&self) -> Endian {
        self.order
    }

    /// The largest payload accepted, in bytes.
    pub const fn max_frame(&self) -> usize {
        self.max_frame
    }

    /// Bytes taken by the length field.
    pub const fn header_len(&self) -> usize {
        self.width.bytes()
    }
}

impl Default for FrameFormat {
    fn default() -> Self {
        FrameFormat::NETWORK
    }
}

impl fmt::Display for FrameFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} length, max {} bytes",
            self.width,
            self.order.short_name(),
            self.max_frame
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_width_accepts_its_own_limit_and_refuses_one_more() {
        for width in [LengthWidth::U8, LengthWidth::U16, LengthWidth::U32] {
            let limit = width.max_value();
            assert!(FrameFormat::new(width, Endian::Big, limit).is_ok());
            assert_eq!(
                FrameFormat::new(width, Endian::Big, limit + 1),
                Err(FormatError::MaxExceedsWidth {
                    max: limit + 1,
                    width,
                    limit
                })
            );
        }
    }

    #[test]
    fn widths_come_only_in_four_sizes() {
        assert_eq!(LengthWidth::from_bytes(2), Ok(LengthWidth::U16));
        assert_eq!(LengthWidth::from_bytes(3), Err(FormatError::BadWidth(3)));
    }
}

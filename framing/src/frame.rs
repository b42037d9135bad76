//! The one decoding core behind every API in this crate: a frame is recognised in two
//! steps, "enough bytes yet?" and then "are they valid?".
//!
//! ```text
//!   buffer: [len][payload....][len][pay
//!            ^ step 1: is the whole length field here?  no -> Incomplete (wait for more)
//!            ^ step 2: is the length <= max?             no -> TooLarge (before allocating)
//!                 ^ step 3: is the whole payload here?   no -> Incomplete (reserve at most
//!                                                              RESERVE_CHUNK, wait)
//!                                                        yes -> split it off, zero-copy
//! ```
//! The blocking [`FrameReader`](crate::FrameReader), the tokio
//! [`FrameCodec`](crate::FrameCodec) and the borrowed [`Frames`] iterator all call
//! [`FrameFormat::decode`] or [`FrameFormat::parse_header`].

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::error::FrameError;
use crate::format::FrameFormat;

/// The most the decoder reserves at once for a frame that is still arriving: 64 KiB,
/// a typical `read(2)` size. A peer that announces a large frame gets room for it only
/// as it actually sends bytes (the buffer grows by doubling as they arrive), so a
/// 4-byte lie costs at most this much, however large the maximum.
pub const RESERVE_CHUNK: usize = 64 * 1024;

/// What the first step found at the front of a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Header {
    /// Fewer bytes than the length field; `missing` more are needed.
    Incomplete {
        /// Bytes still missing from the length field.
        missing: usize,
    },
    /// A valid length field announcing `len` payload bytes (already checked against the max).
    Complete {
        /// The payload length.
        len: usize,
    },
}

impl FrameFormat {
    /// Steps 1 and 2: reads and validates the length field at the front of `buf`.
    ///
    /// ```
    /// use framing::{FrameFormat, Header};
    /// let f = FrameFormat::default();
    /// assert_eq!(f.parse_header(&[0, 0]).unwrap(), Header::Incomplete { missing: 2 });
    /// assert_eq!(f.parse_header(&[0, 0, 0, 5, b'h']).unwrap(), Header::Complete { len: 5 });
    /// assert!(f.parse_header(&[0xFF, 0, 0, 0]).is_err()); // 4 GiB > 16 MiB: refused
    /// ```
    pub fn parse_header(&self, buf: &[u8]) -> Result<Header, FrameError> {
        let header_len = self.header_len();
        if buf.len() < header_len {
            return Ok(Header::Incomplete {
                missing: header_len - buf.len(),
            });
        }
        let declared = self.order().read_uint(&buf[..header_len]);
        match usize::try_from(declared) {
            Ok(len) if len <= self.max_frame() => Ok(Header::Complete { len }),
            _ => Err(FrameError::TooLarge {
                declared,
                max: self.max_frame(),
            }),
        }
    }

    /// Decodes one frame from the front of `buf`, if a whole one is there.
    ///
    /// Returns `Ok(None)` when more bytes are needed; then `buf` has been given room for
    /// more of the frame, at most [`RESERVE_CHUNK`] at a time: memory follows the bytes
    /// that actually arrived, not the length the peer announced. A returned payload
    /// shares `buf`'s memory: no copy is made.
    pub fn decode(&self, buf: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
        let len = match self.parse_header(buf)? {
            Header::Incomplete { .. } => return Ok(None),
            Header::Complete { len } => len,
        };
        // `header_len + len` could overflow when the maximum is as large as the length
        // field allows, so compare what arrived of the payload with `len` instead.
        let arrived = buf.len() - self.header_len();
        if arrived < len {
            buf.reserve((len - arrived).min(RESERVE_CHUNK));
            return Ok(None);
        }
        buf.advance(self.header_len());
        Ok(Some(buf.split_to(len).freeze()))
    }

    /// Describes what is missing from a buffer the stream ended on, or `None` if empty.
    pub fn truncation(&self, buf: &[u8]) -> Option<FrameError> {
        if buf.is_empty() {
            return None;
        }
        let header_len = self.header_len();
        let (missing, context) = match self.parse_header(buf) {
            Ok(Header::Incomplete { missing }) => {
                (missing, format!("{header_len}-byte length field"))
            }
            Ok(Header::Complete { len }) => (
                len.saturating_sub(buf.len() - header_len),
                format!("payload of {len} bytes"),
            ),
            Err(err) => return Some(err),
        };
        Some(FrameError::Truncated {
            missing: missing as u64,
            context,
        })
    }

    /// Writes the length field for a payload of `len` bytes.
    ///
    /// Refuses, writing nothing, a length above the maximum (the peer would reject it)
    /// or one the length field cannot express (the peer would misread the stream).
    pub fn encode_header(&self, len: usize, out: &mut BytesMut) -> Result<(), FrameError> {
        let header = self.header_bytes(len)?;
        out.put_slice(&header[..self.header_len()]);
        Ok(())
    }

    /// Writes one frame, length field then payload.
    ///
    /// ```
    /// use bytes::BytesMut;
    /// use framing::FrameFormat;
    /// let mut out = BytesMut::new();
    /// FrameFormat::default().encode(b"hi", &mut out).unwrap();
    /// assert_eq!(&out[..], b"\x00\x00\x00\x02hi");
    /// ```
    pub fn encode(&self, payload: &[u8], out: &mut BytesMut) -> Result<(), FrameError> {
        let header = self.header_bytes(payload.len())?;
        out.reserve(self.header_len() + payload.len());
        out.put_slice(&header[..self.header_len()]);
        out.put_slice(payload);
        Ok(())
    }

    /// The length field for `len` in a stack buffer; only the first `header_len()` count.
    pub(crate) fn header_bytes(&self, len: usize) -> Result<[u8; 8], FrameError> {
        if len as u64 > self.width().max_value() {
            return Err(FrameError::Unrepresentable {
                len,
                width: self.width(),
            });
        }
        if len > self.max_frame() {
            return Err(FrameError::TooLarge {
                declared: len as u64,
                max: self.max_frame(),
            });
        }
        let mut header = [0u8; 8];
        self.order()
            .write_uint(&mut header[..self.header_len()], len as u64);
        Ok(header)
    }

    /// Iterates over the frames of a buffer held whole in memory (a capture, a file),
    /// borrowing each payload: no allocation, no reference counting.
    ///
    /// ```
    /// use framing::FrameFormat;
    /// let stream = b"\x00\x00\x00\x01a\x00\x00\x00\x00";
    /// let frames: Vec<&[u8]> = FrameFormat::default().frames(stream).map(|f| f.unwrap()).collect();
    /// assert_eq!(frames, [&b"a"[..], &b""[..]]);
    /// ```
    pub fn frames<'a>(&self, buf: &'a [u8]) -> Frames<'a> {
        Frames {
            format: *self,
            rest: buf,
            failed: false,
        }
    }
}

/// Borrowed frames of an in-memory buffer; see [`FrameFormat::frames`].
///
/// Yields `Err` once (too large, or truncated at the end) and then stops.
#[derive(Debug, Clone)]
pub struct Frames<'a> {
    format: FrameFormat,
    rest: &'a [u8],
    failed: bool,
}

impl<'a> Frames<'a> {
    /// The bytes not consumed yet.
    pub fn remainder(&self) -> &'a [u8] {
        self.rest
    }

    fn fail(&mut self, err: FrameError) -> Option<Result<&'a [u8], FrameError>> {
        self.failed = true;
        Some(Err(err))
    }
}

impl<'a> Iterator for Frames<'a> {
    type Item = Result<&'a [u8], FrameError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        let len = match self.format.parse_header(self.rest) {
            Ok(Header::Complete { len }) => len,
            Ok(Header::Incomplete { .. }) => return self.fail(self.format.truncation(self.rest)?),
            Err(err) => return self.fail(err),
        };
        let header_len = self.format.header_len();
        if self.rest.len() - header_len < len {
            return self.fail(self.format.truncation(self.rest)?);
        }
        let (payload, rest) = self.rest[header_len..].split_at(len);
        self.rest = rest;
        Some(Ok(payload))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Endian, LengthWidth};

    fn format(width: LengthWidth, order: Endian, max: u64) -> FrameFormat {
        FrameFormat::new(width, order, max).unwrap()
    }

    #[test]
    fn default_frame_is_what_java_data_output_stream_writes() {
        // new DataOutputStream(out).writeInt(5); out.write("hello".getBytes(UTF_8));
        let mut out = BytesMut::new();
        FrameFormat::default().encode(b"hello", &mut out).unwrap();
        assert_eq!(&out[..], [0, 0, 0, 5, b'h', b'e', b'l', b'l', b'o']);
    }

    #[test]
    fn empty_frames_are_legal() {
        let mut buf = BytesMut::from(&[0u8, 0, 0, 0][..]);
        let frame = FrameFormat::default().decode(&mut buf).unwrap();
        assert_eq!(frame, Some(Bytes::new()));
        assert!(buf.is_empty());
    }

    #[test]
    fn oversized_length_is_refused_before_any_allocation() {
        let f = format(LengthWidth::U32, Endian::Big, 1024);
        let mut buf = BytesMut::from(&[0x7F, 0xFF, 0xFF, 0xFF][..]);
        let err = f.decode(&mut buf).unwrap_err();
        assert!(matches!(
            err,
            FrameError::TooLarge {
                declared: 0x7FFF_FFFF,
                max: 1024
            }
        ));
        assert!(buf.capacity() < 1024, "nothing was reserved for the lie");
    }

    #[test]
    fn u64_length_beyond_usize_is_too_large_not_a_panic() {
        let f = format(LengthWidth::U64, Endian::Little, 1 << 20);
        let mut buf = BytesMut::from(&[0xFF; 8][..]);
        assert!(matches!(
            f.decode(&mut buf),
            Err(FrameError::TooLarge {
                declared: u64::MAX,
                ..
            })
        ));
    }

    #[test]
    fn encoder_refuses_what_the_width_cannot_say() {
        let f = format(LengthWidth::U8, Endian::Big, 255);
        let mut out = BytesMut::new();
        let err = f.encode(&[0u8; 300], &mut out).unwrap_err();
        assert!(matches!(
            err,
            FrameError::Unrepresentable {
                len: 300,
                width: LengthWidth::U8
            }
        ));
        assert!(out.is_empty(), "nothing half-written");
    }

    #[test]
    fn encoder_refuses_what_the_peer_would_refuse() {
        let f = format(LengthWidth::U32, Endian::Big, 10);
        let err = f.encode(&[0u8; 11], &mut BytesMut::new()).unwrap_err();
        assert!(matches!(
            err,
            FrameError::TooLarge {
                declared: 11,
                max: 10
            }
        ));
    }

    #[test]
    fn every_width_and_order_round_trips() {
        for width in [
            LengthWidth::U8,
            LengthWidth::U16,
            LengthWidth::U32,
            LengthWidth::U64,
        ] {
            for order in [Endian::Big, Endian::Little] {
                let f = format(width, order, 200);
                let mut buf = BytesMut::new();
                f.encode(b"abc", &mut buf).unwrap();
                f.encode(b"", &mut buf).unwrap();
                assert_eq!(buf.len(), 2 * width.bytes() + 3);
                assert_eq!(f.decode(&mut buf).unwrap().unwrap(), &b"abc"[..]);
                assert_eq!(f.decode(&mut buf).unwrap().unwrap(), &b""[..]);
                assert_eq!(f.decode(&mut buf).unwrap(), None);
            }
        }
    }

    #[test]
    fn little_endian_two_byte_length_layout() {
        let f = format(LengthWidth::U16, Endian::Little, 1000);
        let mut out = BytesMut::new();
        f.encode(&[7u8; 258], &mut out).unwrap();
        assert_eq!(&out[..3], [0x02, 0x01, 7]);
    }

    #[test]
    fn truncation_says_how_much_is_missing() {
        let f = FrameFormat::default();
        let err = f.truncation(&[0, 0, 0, 10, 1, 2, 3]).unwrap();
        assert_eq!(
            err.to_string(),
            "stream ended inside a frame: 7 more bytes were expected (payload of 10 bytes)"
        );
        let err = f.truncation(&[0]).unwrap();
        assert!(matches!(err, FrameError::Truncated { missing: 3, .. }));
        assert!(f.truncation(&[]).is_none());
    }

    #[test]
    fn borrowed_frames_stop_at_the_first_error() {
        let f = FrameFormat::default();
        let items: Vec<_> = f.frames(b"\x00\x00\x00\x01a\x00\x00\x00\x09abc").collect();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].as_ref().unwrap(), b"a");
        assert!(matches!(
            items[1],
            Err(FrameError::Truncated { missing: 6, .. })
        ));
    }
}

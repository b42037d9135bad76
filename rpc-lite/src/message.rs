//! Marshalling: the message header every call, reply and error starts with.
//!
//! A message is a 36-byte header and a body. The header opens with 4 magic bytes and the
//! sender's *data representation label* (from `framing`); every later number is written
//! in the byte order the label declares, so a big-endian 32-bit caller and a
//! little-endian 64-bit caller both write in their own representation and the receiver
//! converts ("receiver makes right", as DCE/RPC's NDR). The full format, with hex
//! examples, is in `PROTOCOL.md`.
//!
//! ```text
//!  0        4        8    9    10   12                 20       24       28       32       36
//! +--------+--------+----+----+----+------------------+--------+--------+--------+--------+------
//! | "RPCL" | label  |ver |kind|rsvd|     call id      |program |version |  proc  |deadline| body
//! +--------+--------+----+----+----+------------------+--------+--------+--------+--------+------
//!   raw      raw     u8   u8   u16        u64            u32      u32      u32      u32
//! ```
//! On TCP each message travels in one `framing` frame (4-byte big-endian length first);
//! on UDP one datagram is one message, with no length prefix.

use std::ops::Range;

use bytes::{BufMut, Bytes, BytesMut};
use framing::{LABEL_LEN, LabelError, Profile, Wire, WireError, label_bytes, parse_label};

/// The first four bytes of every message: ASCII `RPCL`, the same in every byte order.
pub const MAGIC: [u8; 4] = *b"RPCL";
/// The protocol version this code speaks (byte 8).
pub const PROTOCOL_VERSION: u8 = 1;
/// Bytes in the header; the body starts here.
pub const HEADER_LEN: usize = 36;
/// The call id no call may carry: answers with it are connection-level errors (the
/// server could not tell which call, if any, was meant). Callers use 1..=u64::MAX.
pub const RESERVED_CALL_ID: u64 = 0;

/// Byte ranges of the header fields (the smoltcp way: named ranges, explicit byte order).
pub mod field {
    use super::Range;
    /// Magic `RPCL`.
    pub const MAGIC: Range<usize> = 0..4;
    /// The sender's data representation label.
    pub const LABEL: Range<usize> = 4..8;
    /// Protocol version.
    pub const VERSION: usize = 8;
    /// Message kind.
    pub const KIND: usize = 9;
    /// Reserved, zero.
    pub const RESERVED: Range<usize> = 10..12;
    /// Call id chosen by the caller, echoed in the reply.
    pub const CALL_ID: Range<usize> = 12..20;
    /// Program (service) number.
    pub const PROGRAM: Range<usize> = 20..24;
    /// Program version.
    pub const PROGRAM_VERSION: Range<usize> = 24..28;
    /// Procedure number.
    pub const PROCEDURE: Range<usize> = 28..32;
    /// Remaining time in milliseconds (calls); zero in replies.
    pub const DEADLINE_MS: Range<usize> = 32..36;
}

/// What a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A request to run a procedure (body: the arguments).
    Call = 1,
    /// A successful result (body: the result value).
    Reply = 2,
    /// A failed call (body: a [`crate::Fault`]).
    Error = 3,
}

impl Kind {
    /// The kind for a wire byte, if it is one.
    pub fn from_byte(byte: u8) -> Option<Kind> {
        match byte {
            1 => Some(Kind::Call),
            2 => Some(Kind::Reply),
            3 => Some(Kind::Error),
            _ => None,
        }
    }
}

/// The decoded header of one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The sender's representation: how every number in this message is written.
    pub profile: Profile,
    /// Call, reply or error.
    pub kind: Kind,
    /// Matches a reply to its call; chosen by the caller, unique per connection/socket.
    pub call_id: u64,
    /// Program (service) number.
    pub program: u32,
    /// Program version.
    pub version: u32,
    /// Procedure number inside the program.
    pub procedure: u32,
    /// Calls: milliseconds the caller will still wait (0 = no deadline). Replies: 0.
    pub deadline_ms: u32,
}

impl Header {
    /// The header of the reply (or error) to the call `self`, written in the caller's
    /// representation.
    pub fn answer(&self, kind: Kind) -> Header {
        Header {
            kind,
            deadline_ms: 0,
            ..*self
        }
    }

    /// Appends the 36 header bytes to `out`.
    pub fn encode(&self, out: &mut BytesMut) {
        let p = self.profile;
        out.reserve(HEADER_LEN);
        out.put_slice(&MAGIC);
        out.put_slice(&label_bytes(p));
        out.put_u8(PROTOCOL_VERSION);
        out.put_u8(self.kind as u8);
        out.put_u16(0);
        // Encoding a fixed-width integer into a BytesMut cannot fail.
        let _ = self.call_id.encode(out, p);
        let _ = self.program.encode(out, p);
        let _ = self.version.encode(out, p);
        let _ = self.procedure.encode(out, p);
        let _ = self.deadline_ms.encode(out, p);
    }

    /// Reads a header from the front of `bytes`: enough bytes first, then each field valid.
    pub fn decode(bytes: &[u8]) -> Result<Header, MessageError> {
        if bytes.len() < HEADER_LEN {
            return Err(MessageError::TooShort(bytes.len()));
        }
        if bytes[field::MAGIC] != MAGIC {
            let mut seen = [0u8; 4];
            seen.copy_from_slice(&bytes[field::MAGIC]);
            return Err(MessageError::BadMagic(seen));
        }
        let profile = parse_label(&bytes[field::LABEL])?;
        if bytes[field::VERSION] != PROTOCOL_VERSION {
            return Err(MessageError::UnsupportedVersion(bytes[field::VERSION]));
        }
        let kind = Kind::from_byte(bytes[field::KIND])
            .ok_or(MessageError::UnknownKind(bytes[field::KIND]))?;
        if bytes[field::RESERVED] != [0, 0] {
            return Err(MessageError::ReservedNotZero);
        }
        Ok(Header {
            profile,
            kind,
            call_id: read(bytes, field::CALL_ID, profile)?,
            program: read(bytes, field::PROGRAM, profile)?,
            version: read(bytes, field::PROGRAM_VERSION, profile)?,
            procedure: read(bytes, field::PROCEDURE, profile)?,
            deadline_ms: read(bytes, field::DEADLINE_MS, profile)?,
        })
    }
}

/// Reads one number from a named range in the sender's byte order.
fn read<T: Wire>(bytes: &[u8], range: Range<usize>, profile: Profile) -> Result<T, MessageError> {
    let mut slice = Bytes::copy_from_slice(&bytes[range]);
    Ok(T::decode(&mut slice, profile)?)
}

/// A whole message: header and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The header.
    pub header: Header,
    /// Everything after the header: arguments, result or fault, in `header.profile`.
    pub body: Bytes,
}

impl Message {
    /// A message from its parts.
    pub fn new(header: Header, body: Bytes) -> Message {
        Message { header, body }
    }

    /// Decodes a message that fills all of `bytes` (one frame or one datagram).
    pub fn decode(mut bytes: Bytes) -> Result<Message, MessageError> {
        let header = Header::decode(&bytes)?;
        let body = bytes.split_off(HEADER_LEN);
        Ok(Message { header, body })
    }

    /// Decodes a message a *server* received: as [`Message::decode`], and call id 0 is
    /// refused too ([`RESERVED_CALL_ID`]: an answer on it would read as a
    /// connection-level error). Replies and errors from a server may carry id 0; requests
    /// may not.
    pub fn decode_request(bytes: Bytes) -> Result<Message, MessageError> {
        let message = Message::decode(bytes)?;
        if message.header.call_id == RESERVED_CALL_ID {
            return Err(MessageError::ReservedCallId);
        }
        Ok(message)
    }

    /// Bytes this message takes on the wire (without a frame's length prefix).
    pub fn len(&self) -> usize {
        HEADER_LEN + self.body.len()
    }

    /// Never true: a message always has its header.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Appends header and body to `out`.
    pub fn encode(&self, out: &mut BytesMut) {
        out.reserve(self.len());
        self.header.encode(out);
        out.put_slice(&self.body);
    }

    /// Header and body as one buffer (a UDP datagram, a snapshot).
    pub fn to_bytes(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(self.len());
        self.encode(&mut out);
        out.freeze()
    }
}

/// Why bytes are not a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// Fewer bytes than a header.
    #[error("{0} bytes is shorter than the 36-byte message header")]
    TooShort(usize),
    /// The first four bytes are not `RPCL`.
    #[error("bad magic {0:02x?}, expected \"RPCL\"")]
    BadMagic([u8; 4]),
    /// The data representation label is unreadable.
    #[error("bad data representation label: {0}")]
    Label(#[from] LabelError),
    /// A protocol version this code does not speak.
    #[error("protocol version {0}, only version 1 is defined")]
    UnsupportedVersion(u8),
    /// A kind byte other than 1, 2, 3.
    #[error("message kind {0}, expected 1 (call), 2 (reply) or 3 (error)")]
    UnknownKind(u8),
    /// The reserved bytes are not zero.
    #[error("reserved header bytes 10..12 are not zero")]
    ReservedNotZero,
    /// A request with call id 0, which is reserved for connection-level errors.
    #[error("call id 0 is reserved for connection-level errors; use 1 or above")]
    ReservedCallId,
    /// A header number could not be read (cannot happen once the length is checked).
    #[error("header field: {0}")]
    Field(#[from] WireError),
}

/// The label length, restated so the header layout above is checkable at compile time.
const _: () = assert!(LABEL_LEN == 4 && HEADER_LEN == 36);

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(profile: Profile) -> Message {
        let header = Header {
            profile,
            kind: Kind::Call,
            call_id: 0x0102_0304_0506_0708,
            program: 0x2000_0001,
            version: 1,
            procedure: 1,
            deadline_ms: 5000,
        };
        Message::new(header, Bytes::from_static(b"args"))
    }

    #[test]
    fn round_trips_in_every_profile() {
        for profile in [Profile::BE32, Profile::LE32, Profile::BE64, Profile::LE64] {
            let message = sample(profile);
            assert_eq!(Message::decode(message.to_bytes()).unwrap(), message);
        }
    }

    #[test]
    fn numbers_follow_the_label() {
        let be = sample(Profile::BE32).to_bytes();
        let le = sample(Profile::LE64).to_bytes();
        assert_eq!(&be[field::CALL_ID], &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(&le[field::CALL_ID], &[8, 7, 6, 5, 4, 3, 2, 1]);
        assert_eq!(&be[field::MAGIC], &le[field::MAGIC]);
    }

    #[test]
    fn every_prefix_of_a_header_is_too_short() {
        let bytes = sample(Profile::BE32).to_bytes();
        for cut in 0..HEADER_LEN {
            assert_eq!(
                Header::decode(&bytes[..cut]),
                Err(MessageError::TooShort(cut))
            );
        }
    }

    #[test]
    fn invalid_fields_are_named() {
        let good = sample(Profile::LE32).to_bytes().to_vec();
        let corrupt = |at: usize, byte: u8| {
            let mut bytes = good.clone();
            bytes[at] = byte;
            Header::decode(&bytes).unwrap_err()
        };
        assert!(matches!(corrupt(0, b'X'), MessageError::BadMagic(_)));
        assert!(matches!(corrupt(6, 7), MessageError::Label(_)));
        assert_eq!(corrupt(8, 2), MessageError::UnsupportedVersion(2));
        assert_eq!(corrupt(9, 9), MessageError::UnknownKind(9));
        assert_eq!(corrupt(11, 1), MessageError::ReservedNotZero);
    }

    #[test]
    fn call_id_0_is_refused_in_requests_but_read_in_answers() {
        let mut message = sample(Profile::BE64);
        message.header.call_id = RESERVED_CALL_ID;
        let bytes = message.to_bytes();
        assert_eq!(
            Message::decode_request(bytes.clone()),
            Err(MessageError::ReservedCallId)
        );
        assert_eq!(Message::decode(bytes).unwrap().header.call_id, 0);
        message.header.call_id = 1;
        assert!(Message::decode_request(message.to_bytes()).is_ok());
    }
}

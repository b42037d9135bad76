//! The quote protocol's three messages, one per datagram, big-endian (network order).
//!
//! ```text
//! Request, 5 + p bytes (p <= 503)        Quote reply, 9 + n bytes (n <= 499)
//! +------+--------------+---------+      +------+--------------+--------------+---------------+
//! | 'Q'  | id (u32 BE)  | p zeros |      | 'A'  | id (u32 BE)  | number u32BE | quote (UTF-8) |
//! +------+--------------+---------+      +------+--------------+--------------+---------------+
//!  0      1            5         5+p      0      1            5              9               9+n
//!
//! Error reply, 5 + n bytes (n <= 64):  'E' | id (u32 BE) | message (UTF-8)
//! ```
//!
//! The zero padding is what earns a reply: the server never answers with more bytes than the
//! request had, so a forged source address cannot turn a small datagram into a big one aimed
//! at someone else (an amplification attack). [`padded_request`] pads to [`MAX_REQUEST_LEN`],
//! enough for any reply.
//!
//! A datagram is a whole message: there is no "incomplete", only the wrong length. Decoding checks
//! length and type before reading any field.

use std::ops::Range;

/// Type byte of a request (`'Q'`).
pub const TYPE_REQUEST: u8 = b'Q';
/// Type byte of a quote reply (`'A'`).
pub const TYPE_QUOTE: u8 = b'A';
/// Type byte of an error reply (`'E'`).
pub const TYPE_ERROR: u8 = b'E';

/// Message type: byte 0.
const TYPE: usize = 0;
/// Request id: bytes 1..5, in every message.
const ID: Range<usize> = 1..5;
/// Quote number: bytes 5..9 of a quote reply.
const NUMBER: Range<usize> = 5..9;

/// Length of a request without padding: the type byte and the id.
pub const REQUEST_LEN: usize = ID.end;
/// Header of a quote reply.
pub const QUOTE_HEADER_LEN: usize = NUMBER.end;
/// A whole reply stays within 508 bytes, the payload every IPv4 path must carry unfragmented
/// (576-byte minimum reassembly size - 60 IP header - 8 UDP header).
pub const MAX_REPLY_LEN: usize = 508;
/// Longest quote text, in bytes: what fits in [`MAX_REPLY_LEN`].
pub const MAX_QUOTE_BYTES: usize = MAX_REPLY_LEN - QUOTE_HEADER_LEN;
/// Longest error message, in bytes.
pub const MAX_ERROR_BYTES: usize = 64;
/// Longest request, padding included: as long as the longest reply, so a request padded to it
/// earns any reply.
pub const MAX_REQUEST_LEN: usize = MAX_REPLY_LEN;

/// One protocol message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// "Send me a quote"; `id` is echoed in the reply. Decoding accepts any zero padding up to
    /// [`MAX_REQUEST_LEN`]; [`Message::encode`] writes none (see [`padded_request`]).
    Request {
        /// Chosen by the client; a retry reuses it.
        id: u32,
    },
    /// A quote.
    Quote {
        /// The request's id.
        id: u32,
        /// Position of the quote in the server's book.
        number: u32,
        /// The quote, at most [`MAX_QUOTE_BYTES`] of UTF-8.
        text: String,
    },
    /// The request was not understood.
    Error {
        /// The request's id, or 0 if it could not be read.
        id: u32,
        /// Why, at most [`MAX_ERROR_BYTES`] of UTF-8.
        message: String,
    },
}

/// Why a datagram is not a valid message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Zero bytes.
    #[error("empty datagram")]
    Empty,
    /// The first byte is not `Q`, `A` or `E`.
    #[error("unknown message type 0x{0:02x}")]
    UnknownType(u8),
    /// Wrong length for the message type.
    #[error("{kind} of {got} bytes; expected {expected}")]
    BadLength {
        /// Message kind.
        kind: &'static str,
        /// What was received.
        got: usize,
        /// What the protocol allows, in words.
        expected: &'static str,
    },
    /// Text that is not UTF-8.
    #[error("text is not valid UTF-8")]
    InvalidUtf8,
    /// A request whose padding is not all zero bytes.
    #[error("request padding holds a non-zero byte")]
    BadPadding,
}

impl Message {
    /// The bytes of this message, ready to send. Text beyond the limits is cut at a character
    /// boundary.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Message::Request { id } => header(TYPE_REQUEST, *id),
            Message::Quote { id, number, text } => {
                let mut out = header(TYPE_QUOTE, *id);
                out.extend_from_slice(&number.to_be_bytes());
                out.extend_from_slice(cut(text, MAX_QUOTE_BYTES).as_bytes());
                out
            }
            Message::Error { id, message } => {
                let mut out = header(TYPE_ERROR, *id);
                out.extend_from_slice(cut(message, MAX_ERROR_BYTES).as_bytes());
                out
            }
        }
    }

    /// Reads one datagram: length and type first, then the fields.
    pub fn decode(bytes: &[u8]) -> Result<Message, WireError> {
        let kind = *bytes.first().ok_or(WireError::Empty)?;
        match kind {
            TYPE_REQUEST => decode_request(bytes),
            TYPE_QUOTE => decode_quote(bytes),
            TYPE_ERROR => decode_error(bytes),
            other => Err(WireError::UnknownType(other)),
        }
    }
}

/// A request for `id` padded with zero bytes to [`MAX_REQUEST_LEN`]: long enough to earn any
/// reply the server may send.
pub fn padded_request(id: u32) -> Vec<u8> {
    let mut out = Message::Request { id }.encode();
    out.resize(MAX_REQUEST_LEN, 0);
    out
}

/// The id of a reply (quote or error), if `bytes` looks like one; for matching replies to
/// requests without decoding the text.
pub fn reply_id(bytes: &[u8]) -> Option<u32> {
    match bytes.get(TYPE) {
        Some(&TYPE_QUOTE) | Some(&TYPE_ERROR) => bytes.get(ID).map(read_u32),
        _ => None,
    }
}

fn decode_request(bytes: &[u8]) -> Result<Message, WireError> {
    if !(REQUEST_LEN..=MAX_REQUEST_LEN).contains(&bytes.len()) {
        return Err(bad_len("request", bytes, "5 to 508"));
    }
    if bytes[REQUEST_LEN..].iter().any(|&b| b != 0) {
        return Err(WireError::BadPadding);
    }
    Ok(Message::Request {
        id: read_u32(&bytes[ID]),
    })
}

fn decode_quote(bytes: &[u8]) -> Result<Message, WireError> {
    if !(QUOTE_HEADER_LEN..=MAX_REPLY_LEN).contains(&bytes.len()) {
        return Err(bad_len("quote reply", bytes, "9 to 508"));
    }
    Ok(Message::Quote {
        id: read_u32(&bytes[ID]),
        number: read_u32(&bytes[NUMBER]),
        text: utf8(&bytes[QUOTE_HEADER_LEN..])?,
    })
}

fn decode_error(bytes: &[u8]) -> Result<Message, WireError> {
    if !(REQUEST_LEN..=REQUEST_LEN + MAX_ERROR_BYTES).contains(&bytes.len()) {
        return Err(bad_len("error reply", bytes, "5 to 69"));
    }
    Ok(Message::Error {
        id: read_u32(&bytes[ID]),
        message: utf8(&bytes[REQUEST_LEN..])?,
    })
}

fn header(kind: u8, id: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(MAX_REPLY_LEN);
    out.push(kind);
    out.extend_from_slice(&id.to_be_bytes());
    out
}

fn read_u32(field: &[u8]) -> u32 {
    let mut be = [0u8; 4];
    be.copy_from_slice(field);
    u32::from_be_bytes(be)
}

fn utf8(bytes: &[u8]) -> Result<String, WireError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| WireError::InvalidUtf8)
}

fn bad_len(kind: &'static str, bytes: &[u8], expected: &'static str) -> WireError {
    WireError::BadLength {
        kind,
        got: bytes.len(),
        expected,
    }
}

/// The longest prefix of `text` of at most `max` bytes that ends on a character boundary.
pub fn cut(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request for id 0x01020304.
    static REQUEST: [u8; 5] = [
        0x51, // type 'Q'
        0x01, 0x02, 0x03, 0x04, // id = 16909060, big-endian
    ];

    /// Quote number 2, text "Hi" in reply to id 7.
    static QUOTE: [u8; 11] = [
        0x41, // type 'A'
        0x00, 0x00, 0x00, 0x07, // id = 7
        0x00, 0x00, 0x00, 0x02, // number = 2
        0x48, 0x69, // "Hi"
    ];

    #[test]
    fn golden_request() {
        assert_eq!(Message::Request { id: 0x0102_0304 }.encode(), REQUEST);
        assert_eq!(
            Message::decode(&REQUEST),
            Ok(Message::Request { id: 0x0102_0304 })
        );
    }

    #[test]
    fn a_padded_request_is_the_same_request() {
        let padded = padded_request(0x0102_0304);
        assert_eq!(padded.len(), MAX_REQUEST_LEN);
        assert_eq!(&padded[..REQUEST_LEN], REQUEST);
        assert!(padded[REQUEST_LEN..].iter().all(|&b| b == 0));
        assert_eq!(
            Message::decode(&padded),
            Ok(Message::Request { id: 0x0102_0304 })
        );
        let mut bad = padded.clone();
        bad[100] = 1;
        assert_eq!(Message::decode(&bad), Err(WireError::BadPadding));
        let mut long = padded;
        long.push(0);
        assert!(matches!(
            Message::decode(&long),
            Err(WireError::BadLength { got: 509, .. })
        ));
    }

    #[test]
    fn golden_quote() {
        let m = Message::Quote {
            id: 7,
            number: 2,
            text: "Hi".into(),
        };
        assert_eq!(m.encode(), QUOTE);
        assert_eq!(Message::decode(&QUOTE), Ok(m));
        assert_eq!(reply_id(&QUOTE), Some(7));
    }

    #[test]
    fn golden_error() {
        let bytes = Message::Error {
            id: 0,
            message: "bad".into(),
        }
        .encode();
        assert_eq!(bytes, [0x45, 0, 0, 0, 0, b'b', b'a', b'd']);
    }

    #[test]
    fn every_prefix_of_a_request_is_rejected_without_panic() {
        for n in 0..REQUEST.len() {
            assert!(Message::decode(&REQUEST[..n]).is_err(), "prefix {n}");
        }
        for n in 0..QUOTE.len() {
            let _ = Message::decode(&QUOTE[..n]);
            let _ = reply_id(&QUOTE[..n]);
        }
    }

    #[test]
    fn garbage_is_typed_error() {
        assert_eq!(Message::decode(&[]), Err(WireError::Empty));
        assert_eq!(Message::decode(b"xyz"), Err(WireError::UnknownType(b'x')));
        assert_eq!(Message::decode(b"Q1234567"), Err(WireError::BadPadding));
        assert!(matches!(
            Message::decode(b"Q12"),
            Err(WireError::BadLength { got: 3, .. })
        ));
        let mut bad = QUOTE.to_vec();
        bad.push(0xff);
        assert_eq!(Message::decode(&bad), Err(WireError::InvalidUtf8));
        let mut long = QUOTE.to_vec();
        long.resize(MAX_REPLY_LEN + 1, b'a');
        assert!(matches!(
            Message::decode(&long),
            Err(WireError::BadLength { .. })
        ));
    }

    #[test]
    fn long_text_is_cut_at_a_char_boundary() {
        let text = "é".repeat(400); // 800 bytes
        let bytes = Message::Quote {
            id: 1,
            number: 1,
            text,
        }
        .encode();
        assert!(bytes.len() <= MAX_REPLY_LEN);
        assert!(Message::decode(&bytes).is_ok());
    }
}

//! The multicast chat's datagram: one UTF-8 line with a small header naming the sender.
//!
//! ```text
//! chat/1 9f3c2a1b00d4e5f6 17 alice: hello there
//! ^^^^^^ ^^^^^^^^^^^^^^^^ ^^ ^^^^^  ^^^^^^^^^^^
//! magic  instance id      seq name  text (the rest of the datagram)
//!        16 lowercase hex  decimal u64, 1 for the first datagram
//!
//! chat/1 9f3c2a1b00d4e5f6 1 alice +join      presence: joined, still here, left
//! chat/1 9f3c2a1b00d4e5f6 9 alice +here      (`+here` every HEARTBEAT, and in answer to a join)
//! chat/1 9f3c2a1b00d4e5f6 12 alice +leave
//! ```
//!
//! Every chat instance picks a random 64-bit *instance id* at start. It recognises its own
//! datagrams (which multicast loopback hands back to it) by that id, NOT by the source address:
//! every instance on one host shares the source IP, and a datagram's source port says which
//! socket sent it, not which program. The *sequence number* lets a receiver notice loss and
//! duplication, which UDP does not hide. The exact rules are in `multicast/PROTOCOL.md`.
//!
//! Decoding untrusted bytes never panics: a datagram that is too long, not UTF-8 or not a
//! chat line gives a [`ChatDecodeError`].

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};

/// The first word of every chat datagram; the `1` is the protocol version.
pub const MAGIC: &str = "chat/1";

/// Longest chat datagram, header included, in bytes. 1200 bytes fit in one unfragmented
/// packet on any IPv6 link (minimum MTU 1280, minus 48 bytes of IPv6 and UDP headers) and on
/// any ordinary IPv4 link. Longer datagrams are refused when sending and dropped when received.
pub const MAX_CHAT_DATAGRAM: usize = 1200;

/// Longest sender name, in characters (the same rule as the tcp chat).
pub const MAX_NAME_CHARS: usize = 32;

/// How many senders a receiver keeps sequence numbers for; the oldest is forgotten beyond that,
/// so a flood of forged instance ids cannot grow memory.
pub const MAX_TRACKED_SENDERS: usize = 256;

/// One chat datagram: who sent it, its number, and what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    /// The sending instance's random id.
    pub instance: u64,
    /// 1 for an instance's first datagram, then +1 per datagram (of every kind).
    pub seq: u64,
    /// The sender's chosen name (not unique: two people may pick the same one).
    pub name: String,
    /// A line of text, or a presence notice.
    pub body: Body,
}

/// What a chat datagram carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// `NAME: TEXT`: a message, one line, no line break.
    Text(String),
    /// `NAME +join`: the instance just joined the group.
    Join,
    /// `NAME +here`: still here (a heartbeat, or the answer to someone's join).
    Here,
    /// `NAME +leave`: the instance is leaving.
    Leave,
}

impl Body {
    /// The presence word after `+`, or `None` for text.
    fn presence_word(&self) -> Option<&'static str> {
        match self {
            Body::Text(_) => None,
            Body::Join => Some("join"),
            Body::Here => Some("here"),
            Body::Leave => Some("leave"),
        }
    }

    fn from_presence_word(word: &str) -> Option<Body> {
        [Body::Join, Body::Here, Body::Leave]
            .into_iter()
            .find(|body| body.presence_word() == Some(word))
    }
}

/// Why a datagram is not a valid chat message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChatDecodeError {
    /// Longer than [`MAX_CHAT_DATAGRAM`].
    #[error("datagram of {len} bytes is longer than the chat limit of {MAX_CHAT_DATAGRAM}")]
    TooLong {
        /// Its length.
        len: usize,
    },
    /// The bytes are not UTF-8.
    #[error("datagram is not UTF-8")]
    NotUtf8,
    /// It does not begin with `chat/1 `: plain text from `multicast send`, or another program.
    #[error("datagram does not begin with `{MAGIC} `")]
    NotChat,
    /// The header is cut short or a field is malformed; the field is named.
    #[error("malformed chat header: bad {field}")]
    BadHeader {
        /// "instance id", "sequence number", "name", "separator" or "presence".
        field: &'static str,
    },
    /// The text holds a line break or another control character.
    #[error("chat text holds a control character")]
    ControlInText,
}

impl ChatMessage {
    /// Encodes the message as the bytes of one datagram.
    ///
    /// # Errors
    /// [`ChatDecodeError`] if the message could not be decoded again: a bad name, control
    /// characters in the text, or a datagram longer than [`MAX_CHAT_DATAGRAM`].
    pub fn encode(&self) -> Result<Vec<u8>, ChatDecodeError> {
        check_name(&self.name)?;
        let header = format!("{MAGIC} {:016x} {} {}", self.instance, self.seq, self.name);
        let line = match &self.body {
            Body::Text(text) => {
                check_text(text)?;
                format!("{header}: {text}")
            }
            presence => format!("{header} +{}", presence.presence_word().unwrap_or_default()),
        };
        if line.len() > MAX_CHAT_DATAGRAM {
            return Err(ChatDecodeError::TooLong { len: line.len() });
        }
        Ok(line.into_bytes())
    }

    /// Decodes one received datagram.
    ///
    /// # Errors
    /// [`ChatDecodeError`] naming the first thing wrong with it.
    pub fn decode(datagram: &[u8]) -> Result<ChatMessage, ChatDecodeError> {
        if datagram.len() > MAX_CHAT_DATAGRAM {
            return Err(ChatDecodeError::TooLong {
                len: datagram.len(),
            });
        }
        let line = std::str::from_utf8(datagram).map_err(|_| ChatDecodeError::NotUtf8)?;
        let rest = line.strip_prefix(MAGIC).and_then(|r| r.strip_prefix(' '));
        let rest = rest.ok_or(ChatDecodeError::NotChat)?;
        let (instance, rest) = split_word(rest, "instance id")?;
        let (seq, rest) = split_word(rest, "sequence number")?;
        let (name, body) = split_body(rest)?;
        check_name(name)?;
        Ok(ChatMessage {
            instance: parse_instance(instance)?,
            seq: parse_seq(seq)?,
            name: name.into(),
            body,
        })
    }

    /// The text of a message, or `None` for a presence notice.
    pub fn text(&self) -> Option<&str> {
        match &self.body {
            Body::Text(text) => Some(text),
            _ => None,
        }
    }
}

/// `NAME: TEXT` (the name ends at the FIRST `: `) or `NAME +WORD`, a presence notice.
fn split_body(rest: &str) -> Result<(&str, Body), ChatDecodeError> {
    if let Some((name, text)) = rest.split_once(": ")
        && !name.contains(' ')
    {
        check_text(text)?;
        return Ok((name, Body::Text(text.into())));
    }
    let Some((name, word)) = rest.split_once(" +") else {
        return Err(ChatDecodeError::BadHeader { field: "separator" });
    };
    let body =
        Body::from_presence_word(word).ok_or(ChatDecodeError::BadHeader { field: "presence" })?;
    Ok((name, body))
}

/// Splits off one space-terminated header word.
fn split_word<'a>(s: &'a str, field: &'static str) -> Result<(&'a str, &'a str), ChatDecodeError> {
    s.split_once(' ')
        .ok_or(ChatDecodeError::BadHeader { field })
}

/// Exactly 16 lowercase hex digits.
fn parse_instance(word: &str) -> Result<u64, ChatDecodeError> {
    let bad = ChatDecodeError::BadHeader {
        field: "instance id",
    };
    let hex = |c: char| c.is_ascii_digit() || ('a'..='f').contains(&c);
    if word.len() != 16 || !word.chars().all(hex) {
        return Err(bad);
    }
    u64::from_str_radix(word, 16).map_err(|_| bad)
}

/// Decimal digits only (no sign, no spaces), fitting in a u64.
fn parse_seq(word: &str) -> Result<u64, ChatDecodeError> {
    let bad = ChatDecodeError::BadHeader {
        field: "sequence number",
    };
    if word.is_empty() || !word.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad);
    }
    word.parse().map_err(|_| bad)
}

/// 1 to [`MAX_NAME_CHARS`] characters, none of them whitespace, a control character or `:`.
pub fn check_name(name: &str) -> Result<(), ChatDecodeError> {
    let count = name.chars().count();
    let bad_char = |c: char| c.is_whitespace() || c.is_control() || c == ':';
    if count == 0 || count > MAX_NAME_CHARS || name.chars().any(bad_char) {
        return Err(ChatDecodeError::BadHeader { field: "name" });
    }
    Ok(())
}

fn check_text(text: &str) -> Result<(), ChatDecodeError> {
    if text.chars().any(char::is_control) {
        return Err(ChatDecodeError::ControlInText);
    }
    Ok(())
}

/// A fresh random instance id, from the standard library's randomly keyed hasher (no extra
/// crate needed; two instances pick the same id with probability 2^-64).
pub fn new_instance_id() -> u64 {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    hasher.finish()
}

/// What a receiver learns from one message's sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqCheck {
    /// The first message seen from this sender, or the next one in order.
    InOrder,
    /// `missed` messages from this sender never arrived (or are still on their way).
    Gap {
        /// How many numbers were skipped.
        missed: u64,
    },
    /// A number at or below the last one: a duplicate or a late, reordered datagram.
    Old,
}

/// Remembers the last sequence number of each sender, for at most `capacity` senders
/// ([`MAX_TRACKED_SENDERS`] by default); beyond that the least recently heard is forgotten.
#[derive(Debug)]
pub struct SeqTracker {
    capacity: usize,
    last: HashMap<u64, (u64, u64)>, // instance -> (last seq, age stamp)
    clock: u64,
}

impl Default for SeqTracker {
    fn default() -> Self {
        SeqTracker::with_capacity(MAX_TRACKED_SENDERS)
    }
}

impl SeqTracker {
    /// A tracker for at most `capacity` senders (at least 1).
    pub fn with_capacity(capacity: usize) -> SeqTracker {
        SeqTracker {
            capacity: capacity.max(1),
            last: HashMap::new(),
            clock: 0,
        }
    }

    /// Records `msg` and says whether it came in order.
    pub fn check(&mut self, msg: &ChatMessage) -> SeqCheck {
        self.clock += 1;
        let verdict = match self.last.get(&msg.instance) {
            None => SeqCheck::InOrder,
            Some(&(last, _)) if msg.seq <= last => return SeqCheck::Old,
            Some(&(last, _)) if msg.seq == last + 1 => SeqCheck::InOrder,
            Some(&(last, _)) => SeqCheck::Gap {
                missed: msg.seq - last - 1,
            },
        };
        if !self.last.contains_key(&msg.instance) && self.last.len() >= self.capacity {
            self.forget_oldest();
        }
        self.last.insert(msg.instance, (msg.seq, self.clock));
        verdict
    }

    /// How many senders are remembered.
    pub fn len(&self) -> usize {
        self.last.len()
    }

    /// True when no sender is remembered.
    pub fn is_empty(&self) -> bool {
        self.last.is_empty()
    }

    fn forget_oldest(&mut self) {
        let oldest = self
            .last
            .iter()
            .min_by_key(|(_, (_, age))| *age)
            .map(|(id, _)| *id);
        if let Some(id) = oldest {
            self.last.remove(&id);
        }
    }
}

/// Makes text from the network safe to print on a terminal: control characters (escape
/// sequences, carriage returns, line breaks) are shown escaped, the rest as is.
pub fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

impl fmt::Display for ChatMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.body {
            Body::Text(text) => write!(f, "{}: {text}", self.name),
            presence => write!(
                f,
                "{} +{}",
                self.name,
                presence.presence_word().unwrap_or_default()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of PROTOCOL.md, byte for byte.
    const GOLDEN: &[u8] = b"chat/1 9f3c2a1b00d4e5f6 17 alice: hello there";

    fn alice() -> ChatMessage {
        ChatMessage {
            instance: 0x9f3c_2a1b_00d4_e5f6,
            seq: 17,
            name: "alice".into(),
            body: Body::Text("hello there".into()),
        }
    }

    #[test]
    fn golden_presence_datagrams() {
        for (body, bytes) in [
            (Body::Join, &b"chat/1 9f3c2a1b00d4e5f6 1 alice +join"[..]),
            (Body::Here, b"chat/1 9f3c2a1b00d4e5f6 1 alice +here"),
            (Body::Leave, b"chat/1 9f3c2a1b00d4e5f6 1 alice +leave"),
        ] {
            let msg = ChatMessage {
                seq: 1,
                body,
                ..alice()
            };
            assert_eq!(msg.encode().unwrap(), bytes);
            assert_eq!(ChatMessage::decode(bytes).unwrap(), msg);
        }
        assert_eq!(
            ChatMessage::decode(b"chat/1 9f3c2a1b00d4e5f6 1 alice +dance").unwrap_err(),
            ChatDecodeError::BadHeader { field: "presence" }
        );
        // Text that merely looks like presence is text.
        let msg = ChatMessage::decode(b"chat/1 9f3c2a1b00d4e5f6 2 alice: +join").unwrap();
        assert_eq!(msg.text(), Some("+join"));
    }

    #[test]
    fn golden_encode_and_decode() {
        assert_eq!(alice().encode().unwrap(), GOLDEN);
        assert_eq!(ChatMessage::decode(GOLDEN).unwrap(), alice());
    }

    #[test]
    fn text_may_contain_colons_and_be_empty() {
        let msg = ChatMessage::decode(b"chat/1 0000000000000001 1 bob: a: b").unwrap();
        assert_eq!(msg.text(), Some("a: b"));
        let msg = ChatMessage::decode(b"chat/1 0000000000000001 2 bob: ").unwrap();
        assert_eq!(msg.text(), Some(""));
    }

    #[test]
    fn every_truncation_of_the_golden_datagram_is_rejected_without_panic() {
        for cut in 0..GOLDEN.len() {
            let result = ChatMessage::decode(&GOLDEN[..cut]);
            // Cutting inside the text still gives a valid (shorter) message; before it, an error.
            if cut >= GOLDEN.len() - "hello there".len() {
                assert!(result.is_ok(), "cut {cut}");
            } else {
                assert!(result.is_err(), "cut {cut}");
            }
        }
    }

    #[test]
    fn malformed_headers_name_the_field() {
        let cases: [(&[u8], ChatDecodeError); 8] = [
            (b"hello", ChatDecodeError::NotChat),
            (b"chat/2 0000000000000001 1 a: x", ChatDecodeError::NotChat),
            (
                b"chat/1 00000000000000zz 1 a: x",
                ChatDecodeError::BadHeader {
                    field: "instance id",
                },
            ),
            (
                b"chat/1 0000000000000ABC 1 a: x",
                ChatDecodeError::BadHeader {
                    field: "instance id",
                },
            ),
            (
                b"chat/1 0000000000000001 -1 a: x",
                ChatDecodeError::BadHeader {
                    field: "sequence number",
                },
            ),
            (
                b"chat/1 0000000000000001 99999999999999999999 a: x",
                ChatDecodeError::BadHeader {
                    field: "sequence number",
                },
            ),
            (
                b"chat/1 0000000000000001 1 a x",
                ChatDecodeError::BadHeader { field: "separator" },
            ),
            (
                b"chat/1 0000000000000001 1 a: x\ny",
                ChatDecodeError::ControlInText,
            ),
        ];
        for (bytes, want) in cases {
            assert_eq!(
                ChatMessage::decode(bytes).unwrap_err(),
                want,
                "{}",
                String::from_utf8_lossy(bytes)
            );
        }
        assert_eq!(
            ChatMessage::decode(&[0xff, 0xfe]).unwrap_err(),
            ChatDecodeError::NotUtf8
        );
    }

    #[test]
    fn names_are_bounded_and_clean() {
        check_name(&"n".repeat(MAX_NAME_CHARS)).unwrap();
        for bad in [
            String::new(),
            "n".repeat(MAX_NAME_CHARS + 1),
            "a b".into(),
            "a:b".into(),
            "a\u{1b}".into(),
        ] {
            assert!(check_name(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_datagram_limit_is_enforced_both_ways() {
        let header_len = "chat/1 0000000000000001 1 a: ".len();
        let mut msg = ChatMessage {
            instance: 1,
            seq: 1,
            name: "a".into(),
            body: Body::Text("x".repeat(MAX_CHAT_DATAGRAM - header_len)),
        };
        let at_limit = msg.encode().unwrap();
        assert_eq!(at_limit.len(), MAX_CHAT_DATAGRAM);
        ChatMessage::decode(&at_limit).unwrap();
        msg.body = Body::Text("x".repeat(MAX_CHAT_DATAGRAM - header_len + 1));
        assert_eq!(
            msg.encode().unwrap_err(),
            ChatDecodeError::TooLong {
                len: MAX_CHAT_DATAGRAM + 1
            }
        );
        let mut over = at_limit;
        over.push(b'x');
        assert_eq!(
            ChatMessage::decode(&over).unwrap_err(),
            ChatDecodeError::TooLong {
                len: MAX_CHAT_DATAGRAM + 1
            }
        );
    }

    #[test]
    fn sequence_tracking_reports_gaps_and_old_messages() {
        let mut tracker = SeqTracker::default();
        let mut msg = alice();
        msg.seq = 1;
        assert_eq!(tracker.check(&msg), SeqCheck::InOrder);
        msg.seq = 2;
        assert_eq!(tracker.check(&msg), SeqCheck::InOrder);
        msg.seq = 5;
        assert_eq!(tracker.check(&msg), SeqCheck::Gap { missed: 2 });
        msg.seq = 5;
        assert_eq!(tracker.check(&msg), SeqCheck::Old);
        msg.seq = 3;
        assert_eq!(tracker.check(&msg), SeqCheck::Old);
    }

    #[test]
    fn the_tracker_forgets_beyond_its_bound() {
        let mut tracker = SeqTracker::default();
        for id in 0..(MAX_TRACKED_SENDERS as u64 + 10) {
            tracker.check(&ChatMessage {
                instance: id,
                seq: 1,
                name: "x".into(),
                body: Body::Here,
            });
        }
        assert_eq!(tracker.len(), MAX_TRACKED_SENDERS);

        // A small bound forgets the least recently heard sender first.
        let mut small = SeqTracker::with_capacity(2);
        let msg = |instance, seq| ChatMessage {
            instance,
            seq,
            name: "x".into(),
            body: Body::Here,
        };
        small.check(&msg(1, 1));
        small.check(&msg(2, 1));
        small.check(&msg(1, 2)); // 1 heard again: 2 is now the oldest
        small.check(&msg(3, 1)); // forgets 2
        assert_eq!(small.len(), 2);
        assert_eq!(small.check(&msg(1, 3)), SeqCheck::InOrder, "1 was kept");
        assert_eq!(
            small.check(&msg(2, 5)),
            SeqCheck::InOrder,
            "2 was forgotten: a fresh start, no gap"
        );
    }

    #[test]
    fn control_characters_are_escaped_for_the_terminal() {
        assert_eq!(printable("hi\u{1b}[2Jthere\r\n"), "hi\\u{1b}[2Jthere\\r\\n");
        assert_eq!(printable("grüße"), "grüße");
    }

    #[test]
    fn instance_ids_differ() {
        assert_ne!(new_instance_id(), new_instance_id());
    }
}

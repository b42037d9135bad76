//! The chat wire format: what each line means, checked and encoded in one place.
//!
//! Everything is UTF-8 text, one line per `\n` (see `PROTOCOL.md`). From the client: the
//! first line is a name, later lines are messages or `/` commands. From the server:
//! messages `NAME: text`, notices `* ...`, errors `! ...`. Names never contain spaces, so
//! the three kinds cannot be confused: a message's first word ends in `:`, a notice's first
//! word is exactly `*`, an error's exactly `!`.
//!
//! Outgoing lines are built once as [`Bytes`]: a message to 99 members is one allocation
//! whose reference count goes up 99 times, never 99 copies.

use bytes::{BufMut, Bytes, BytesMut};
use std::fmt;

/// Longest name in characters (Unicode scalar values), fixed by the wire contract.
pub const MAX_NAME_CHARS: usize = 32;

/// Why a name line was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The line was empty.
    #[error("invalid name: empty (use 1-32 characters, no spaces or control characters)")]
    Empty,
    /// More than [`MAX_NAME_CHARS`] characters.
    #[error("invalid name: longer than 32 characters")]
    TooLong,
    /// Contains a space, tab or other whitespace.
    #[error("invalid name: no spaces allowed")]
    Whitespace,
    /// Contains a control character.
    #[error("invalid name: no control characters allowed")]
    Control,
}

/// Checks a name: 1-32 characters, no whitespace, no control characters.
pub fn validate_name(name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(NameError::TooLong);
    }
    if name.chars().any(char::is_whitespace) {
        return Err(NameError::Whitespace);
    }
    if name.chars().any(char::is_control) {
        return Err(NameError::Control);
    }
    Ok(())
}

/// What a member's line (after the name) asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input<'a> {
    /// Text for everyone else. A leading `//` is sent as a single `/`.
    Message(&'a str),
    /// An empty line: ignored.
    Empty,
    /// `/who`: list the members.
    Who,
    /// `/quit`: leave.
    Quit,
    /// Any other `/word`.
    Unknown(&'a str),
}

/// Classifies one line from a member.
pub fn parse_input(line: &str) -> Input<'_> {
    if line.is_empty() {
        return Input::Empty;
    }
    if line.starts_with("//") {
        return Input::Message(&line[1..]);
    }
    match line.strip_prefix('/') {
        None => Input::Message(line),
        Some(command) => match command.split_whitespace().next().unwrap_or("") {
            "who" => Input::Who,
            "quit" => Input::Quit,
            _ => Input::Unknown(line),
        },
    }
}

/// Checks message text: control characters (other than tab) could drive other members'
/// terminals (ANSI escapes), so they are refused.
pub fn message_is_clean(text: &str) -> bool {
    !text.chars().any(|c| c.is_control() && c != '\t')
}

/// `NAME: text\n`, the line every other member receives.
pub fn message_line(name: &str, text: &str) -> Bytes {
    let mut line = BytesMut::with_capacity(name.len() + text.len() + 3);
    put_message_line(&mut line, name, text);
    line.freeze()
}

/// Appends `NAME: text\n` to `buf` (to build one buffer holding several messages).
pub fn put_message_line(buf: &mut BytesMut, name: &str, text: &str) {
    buf.reserve(name.len() + text.len() + 3);
    buf.put_slice(name.as_bytes());
    buf.put_slice(b": ");
    buf.put_slice(text.as_bytes());
    buf.put_u8(b'\n');
}

/// `* text\n`, a server notice.
pub fn notice_line(text: impl fmt::Display) -> Bytes {
    Bytes::from(format!("* {text}\n"))
}

/// `! text\n`, an error for the one member who caused it.
pub fn error_line(text: impl fmt::Display) -> Bytes {
    Bytes::from(format!("! {text}\n"))
}

/// Notice sent to everyone (the new member included) when `name` joins.
pub fn joined(name: &str) -> Bytes {
    notice_line(format_args!("{name} joined"))
}

/// Notice sent to the others when `name` leaves (quit, disconnect or eviction).
pub fn left(name: &str) -> Bytes {
    notice_line(format_args!("{name} left"))
}

/// The `/who` answer: `* online: alice bob carol` (names sorted).
pub fn who(names: &[String]) -> Bytes {
    notice_line(format_args!("online: {}", names.join(" ")))
}

/// A line as a client sees it (for the client, the bench, tests and the demo).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerLine<'a> {
    /// `NAME: text` from another member.
    Message {
        /// Who sent it.
        from: &'a str,
        /// What they wrote.
        text: &'a str,
    },
    /// `* text`.
    Notice(&'a str),
    /// `! text`.
    Error(&'a str),
    /// Anything else (a server speaking another protocol).
    Other(&'a str),
}

/// Classifies one line from the server (without its `\n`).
pub fn parse_server_line(line: &str) -> ServerLine<'_> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    if let Some(text) = line.strip_prefix("* ") {
        return ServerLine::Notice(text);
    }
    if let Some(text) = line.strip_prefix("! ") {
        return ServerLine::Error(text);
    }
    match line.split_once(": ") {
        Some((from, text)) if validate_name(from).is_ok() => ServerLine::Message { from, text },
        _ => ServerLine::Other(line),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_contract() {
        assert_eq!(validate_name("alice"), Ok(()));
        assert_eq!(validate_name("élodie_42"), Ok(()));
        assert_eq!(validate_name(&"x".repeat(32)), Ok(()));
        assert_eq!(
            validate_name(&"é".repeat(32)),
            Ok(()),
            "32 characters, 64 bytes"
        );
        assert_eq!(validate_name(&"x".repeat(33)), Err(NameError::TooLong));
        assert_eq!(validate_name(""), Err(NameError::Empty));
        assert_eq!(validate_name("al ice"), Err(NameError::Whitespace));
        assert_eq!(validate_name("al\u{a0}ice"), Err(NameError::Whitespace));
        assert_eq!(validate_name("al\u{7}ice"), Err(NameError::Control));
    }

    #[test]
    fn commands_and_messages_are_told_apart() {
        assert_eq!(parse_input("hi"), Input::Message("hi"));
        assert_eq!(parse_input("/who"), Input::Who);
        assert_eq!(parse_input("/quit"), Input::Quit);
        assert_eq!(parse_input("/quit now"), Input::Quit);
        assert_eq!(parse_input("/nick x"), Input::Unknown("/nick x"));
        assert_eq!(parse_input("//who"), Input::Message("/who"));
        assert_eq!(parse_input(""), Input::Empty);
        assert_eq!(parse_input("/"), Input::Unknown("/"));
    }

    #[test]
    fn outgoing_lines_have_the_documented_bytes() {
        assert_eq!(&message_line("alice", "hi bob")[..], b"alice: hi bob\n");
        assert_eq!(&joined("alice")[..], b"* alice joined\n");
        assert_eq!(&left("alice")[..], b"* alice left\n");
        assert_eq!(&error_line("name taken")[..], b"! name taken\n");
        assert_eq!(
            &who(&["alice".into(), "bob".into()])[..],
            b"* online: alice bob\n"
        );
    }

    #[test]
    fn server_lines_parse_back() {
        assert_eq!(
            parse_server_line("alice: a: b"),
            ServerLine::Message {
                from: "alice",
                text: "a: b"
            }
        );
        assert_eq!(
            parse_server_line("*: hi"),
            ServerLine::Message {
                from: "*",
                text: "hi"
            }
        );
        assert_eq!(
            parse_server_line("* alice joined"),
            ServerLine::Notice("alice joined")
        );
        assert_eq!(
            parse_server_line("! name taken\r"),
            ServerLine::Error("name taken")
        );
        assert_eq!(
            parse_server_line("hello world: x"),
            ServerLine::Other("hello world: x")
        );
    }

    #[test]
    fn control_characters_are_refused_in_messages_but_tab_is_fine() {
        assert!(message_is_clean("a\tb"));
        assert!(!message_is_clean("\u{1b}[2J"));
    }
}

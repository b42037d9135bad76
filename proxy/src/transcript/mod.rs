//! Transcripts: a human-readable, replayable record of the bytes a proxy forwarded.
//!
//! `proxy tcp --record FILE` (and `proxy udp`, once per datagram) writes every chunk it
//! forwards as a hex + ASCII dump, with the connection number, the direction and the byte
//! offset inside that direction's stream. There are no timestamps and no addresses, so the
//! same conversation always gives the same file: it can be a test snapshot, and the
//! `tests` crate replays it against a server. The format is specified in `PROTOCOL.md`
//! ("Transcript format"); this module is its one writer ([`TranscriptWriter`]) and its one
//! parser ([`Transcript::parse`]).
//!
//! ```text
//! # transcript v1
//! [1] open
//! [1] client>server offset 0 len 6
//!   00000000  68 65 6c 6c 6f 0a                                 |hello.|
//! [1] server>client offset 0 len 6
//!   00000000  68 65 6c 6c 6f 0a                                 |hello.|
//! [1] client>server offset 6 eof
//! [1] server>client offset 6 eof
//! [1] close
//! ```
//!
//! The format itself involves no system calls: it is plain text I/O on top of whatever
//! [`std::io::Write`] the caller gives (a file for `--record`, a `Vec<u8>` in tests).
//! [`replay`] plays one recorded connection back against a server over a blocking
//! `std::net::TcpStream` and checks every byte the server answers.
//!
//! # Layout
//! - this file: [`Record`], [`Direction`], [`TranscriptWriter`], [`Transcript::parse`].
//! - [`replay`]: replaying a recorded connection and comparing the answers.

pub mod replay;

use std::collections::HashMap;
use std::fmt;
use std::io::{self, Write};

/// The first line of every transcript (format version 1).
pub const HEADER: &str = "# transcript v1";

/// Bytes per hex dump line, as in `hexdump -C`.
pub const BYTES_PER_LINE: usize = 16;

/// Which way the bytes went through the proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From the proxy's client towards the server it forwards to (`client>server`).
    ClientToServer,
    /// From the server back towards the client (`server>client`).
    ServerToClient,
}

impl Direction {
    /// The word used in the transcript (`client>server` or `server>client`).
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::ClientToServer => "client>server",
            Direction::ServerToClient => "server>client",
        }
    }

    /// The opposite direction.
    pub fn reverse(self) -> Direction {
        match self {
            Direction::ClientToServer => Direction::ServerToClient,
            Direction::ServerToClient => Direction::ClientToServer,
        }
    }

    fn parse(word: &str) -> Option<Direction> {
        match word {
            "client>server" => Some(Direction::ClientToServer),
            "server>client" => Some(Direction::ServerToClient),
            _ => None,
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One event of a transcript. Connections are numbered from 1 in the order the proxy
/// accepted them (for UDP: in the order a new client address was first seen).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// A connection started (the proxy reached the server).
    Open {
        /// Connection number.
        conn: u64,
    },
    /// Bytes forwarded in one direction (for UDP: exactly one datagram).
    Data {
        /// Connection number.
        conn: u64,
        /// Which way the bytes went.
        dir: Direction,
        /// Offset of the first byte inside this direction's stream (bytes before it).
        offset: u64,
        /// The bytes themselves (may be empty only for an empty UDP datagram).
        bytes: Vec<u8>,
    },
    /// The sender half-closed this direction (TCP FIN) after `offset` bytes.
    Eof {
        /// Connection number.
        conn: u64,
        /// The direction that ended.
        dir: Direction,
        /// Total bytes sent in this direction.
        offset: u64,
    },
    /// This direction ended with an error (connection reset, ...) after `offset` bytes.
    Reset {
        /// Connection number.
        conn: u64,
        /// The direction that failed.
        dir: Direction,
        /// Bytes forwarded in this direction before the error.
        offset: u64,
    },
    /// The connection is finished; nothing more is recorded for it.
    Close {
        /// Connection number.
        conn: u64,
    },
}

impl Record {
    /// The connection this record belongs to.
    pub fn conn(&self) -> u64 {
        match self {
            Record::Open { conn }
            | Record::Data { conn, .. }
            | Record::Eof { conn, .. }
            | Record::Reset { conn, .. }
            | Record::Close { conn } => *conn,
        }
    }
}

/// Writes records in the transcript format to any [`Write`].
///
/// Each call writes one complete record; call [`TranscriptWriter::flush`] (or drop the
/// writer's inner buffer) when done. The writer does not check that offsets are
/// consistent: that is the caller's bookkeeping ([`Transcript::parse`] checks it).
#[derive(Debug)]
pub struct TranscriptWriter<W: Write> {
    out: W,
}

impl<W: Write> TranscriptWriter<W> {
    /// Starts a transcript: writes the [`HEADER`] line.
    pub fn new(mut out: W) -> io::Result<Self> {
        writeln!(out, "{HEADER}")?;
        Ok(TranscriptWriter { out })
    }

    /// A writer that continues a transcript whose [`HEADER`] line (and any comments) the
    /// caller has already written.
    pub fn without_header(out: W) -> Self {
        TranscriptWriter { out }
    }

    /// Writes a `# ...` comment line (ignored by the parser). `text` must be one line.
    pub fn comment(&mut self, text: &str) -> io::Result<()> {
        let one_line: String = text
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        writeln!(self.out, "# {one_line}")
    }

    /// Writes one record: its header line and, for data, the hex dump lines.
    pub fn write(&mut self, record: &Record) -> io::Result<()> {
        match record {
            Record::Open { conn } => writeln!(self.out, "[{conn}] open"),
            Record::Close { conn } => writeln!(self.out, "[{conn}] close"),
            Record::Eof { conn, dir, offset } => {
                writeln!(self.out, "[{conn}] {dir} offset {offset} eof")
            }
            Record::Reset { conn, dir, offset } => {
                writeln!(self.out, "[{conn}] {dir} offset {offset} reset")
            }
            Record::Data {
                conn,
                dir,
                offset,
                bytes,
            } => {
                writeln!(
                    self.out,
                    "[{conn}] {dir} offset {offset} len {}",
                    bytes.len()
                )?;
                self.hex_dump(*offset, bytes)
            }
        }
    }

    /// Flushes the underlying writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Gives back the underlying writer.
    pub fn into_inner(self) -> W {
        self.out
    }

    fn hex_dump(&mut self, offset: u64, bytes: &[u8]) -> io::Result<()> {
        for (i, chunk) in bytes.chunks(BYTES_PER_LINE).enumerate() {
            let line_offset = offset + (i * BYTES_PER_LINE) as u64;
            writeln!(self.out, "{}", hex_line(line_offset, chunk))?;
        }
        Ok(())
    }
}

/// Formats one dump line: `  OFFSET  HEX (two groups of 8)  |ASCII|`, like `hexdump -C`.
fn hex_line(offset: u64, chunk: &[u8]) -> String {
    let mut hex = String::with_capacity(3 * BYTES_PER_LINE + 1);
    for i in 0..BYTES_PER_LINE {
        match chunk.get(i) {
            Some(b) => hex.push_str(&format!("{b:02x} ")),
            None => hex.push_str("   "),
        }
        if i == 7 {
            hex.push(' ');
        }
    }
    let ascii: String = chunk.iter().map(|&b| printable(b)).collect();
    format!("  {offset:08x}  {hex} |{ascii}|")
}

/// The ASCII column shows printable ASCII as itself and everything else as `.`.
fn printable(b: u8) -> char {
    if (0x20..0x7f).contains(&b) {
        b as char
    } else {
        '.'
    }
}

/// Why a transcript could not be parsed. Every variant carries the 1-based line number.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParseError {
    /// The first line is not [`HEADER`].
    #[error("line 1: not a transcript (expected `{HEADER}`)")]
    MissingHeader,
    /// A record header line that does not follow the grammar.
    #[error("line {line}: bad record line: {text}")]
    BadRecord {
        /// Line number.
        line: usize,
        /// The offending line.
        text: String,
    },
    /// A hex dump line that does not follow the grammar.
    #[error("line {line}: bad hex line: {text}")]
    BadHex {
        /// Line number.
        line: usize,
        /// The offending line.
        text: String,
    },
    /// An offset that does not continue the stream where the previous record ended.
    #[error("line {line}: offset {found}, expected {expected}")]
    Offset {
        /// Line number.
        line: usize,
        /// The offset that would continue the stream.
        expected: u64,
        /// The offset written in the file.
        found: u64,
    },
    /// A data record whose hex lines do not add up to its `len`.
    #[error("line {line}: record declares {declared} bytes but its hex lines hold {found}")]
    Length {
        /// Line number of the record header.
        line: usize,
        /// The `len` on the header.
        declared: u64,
        /// Bytes found in the hex lines.
        found: u64,
    },
}

/// A parsed transcript: the records in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transcript {
    /// Every record, in the order the proxy saw them.
    pub records: Vec<Record>,
}

impl Transcript {
    /// Parses a transcript, checking that offsets run on without gaps in each direction
    /// of each connection and that every data record holds exactly `len` bytes.
    pub fn parse(text: &str) -> Result<Transcript, ParseError> {
        let mut parser = Parser::default();
        let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
        match lines.next() {
            Some((_, first)) if first.trim_end() == HEADER => {}
            _ => return Err(ParseError::MissingHeader),
        }
        for (number, line) in lines {
            parser.line(number, line)?;
        }
        parser.finish()
    }

    /// Renders the transcript in the file format (what [`TranscriptWriter`] writes).
    pub fn to_text(&self) -> String {
        let mut writer = TranscriptWriter::new(Vec::new()).expect("writing to a Vec cannot fail");
        for record in &self.records {
            writer.write(record).expect("writing to a Vec cannot fail");
        }
        String::from_utf8(writer.into_inner()).expect("the format is ASCII")
    }

    /// All bytes sent in one direction of one connection, concatenated (what a replay sends
    /// or expects back).
    pub fn stream(&self, conn: u64, dir: Direction) -> Vec<u8> {
        let mut out = Vec::new();
        for record in &self.records {
            if let Record::Data {
                conn: c,
                dir: d,
                bytes,
                ..
            } = record
                && *c == conn
                && *d == dir
            {
                out.extend_from_slice(bytes);
            }
        }
        out
    }

    /// Connection numbers in order of first appearance.
    pub fn connections(&self) -> Vec<u64> {
        let mut seen = Vec::new();
        for record in &self.records {
            if !seen.contains(&record.conn()) {
                seen.push(record.conn());
            }
        }
        seen
    }
}

/// A data record whose hex lines are still being read.
struct PendingData {
    record: Record,
    /// Line number of the record header (for error messages).
    line: usize,
    /// The `len` its header declared.
    declared: u64,
}

/// What a record header line announces: a complete record, or data whose bytes follow.
enum Header {
    Complete(Record),
    Data {
        conn: u64,
        dir: Direction,
        offset: u64,
        len: u64,
    },
}

/// Parser state: the data record being filled and where each stream has got to.
#[derive(Default)]
struct Parser {
    records: Vec<Record>,
    pending: Option<PendingData>,
    /// Next expected offset per (connection, direction).
    next_offset: HashMap<(u64, Direction), u64>,
}

impl Parser {
    fn line(&mut self, number: usize, line: &str) -> Result<(), ParseError> {
        if line.trim().is_empty() || line.starts_with('#') {
            return Ok(());
        }
        if line.starts_with(' ') {
            return self.hex(number, line);
        }
        self.close_pending()?;
        match parse_record_line(number, line)? {
            Header::Complete(record) => {
                if let Record::Eof { conn, dir, offset } | Record::Reset { conn, dir, offset } =
                    record
                {
                    self.advance(number, conn, dir, offset, 0)?;
                }
                self.records.push(record);
            }
            Header::Data {
                conn,
                dir,
                offset,
                len,
            } => {
                self.advance(number, conn, dir, offset, len)?;
                // A lying `len` must not make us allocate: cap the up-front reservation.
                let bytes = Vec::with_capacity(len.min(MAX_PREALLOCATE) as usize);
                let record = Record::Data {
                    conn,
                    dir,
                    offset,
                    bytes,
                };
                self.pending = Some(PendingData {
                    record,
                    line: number,
                    declared: len,
                });
            }
        }
        Ok(())
    }

    /// Checks that a record starts where its stream left off, then moves the stream on.
    fn advance(
        &mut self,
        number: usize,
        conn: u64,
        dir: Direction,
        offset: u64,
        len: u64,
    ) -> Result<(), ParseError> {
        let expected = self.next_offset.entry((conn, dir)).or_insert(0);
        if *expected != offset {
            return Err(ParseError::Offset {
                line: number,
                expected: *expected,
                found: offset,
            });
        }
        *expected = offset.saturating_add(len);
        Ok(())
    }

    fn hex(&mut self, number: usize, line: &str) -> Result<(), ParseError> {
        let bad = || ParseError::BadHex {
            line: number,
            text: line.to_string(),
        };
        let Some(PendingData {
            record: Record::Data { offset, bytes, .. },
            declared,
            ..
        }) = self.pending.as_mut()
        else {
            return Err(bad());
        };
        let (line_offset, line_bytes) = parse_hex_line(line).ok_or_else(bad)?;
        let expected = *offset + bytes.len() as u64;
        if line_offset != expected {
            return Err(ParseError::Offset {
                line: number,
                expected,
                found: line_offset,
            });
        }
        if bytes.len() as u64 + line_bytes.len() as u64 > *declared {
            return Err(bad());
        }
        bytes.extend_from_slice(&line_bytes);
        Ok(())
    }

    fn close_pending(&mut self) -> Result<(), ParseError> {
        let Some(PendingData {
            record,
            line,
            declared,
        }) = self.pending.take()
        else {
            return Ok(());
        };
        if let Record::Data { bytes, .. } = &record
            && bytes.len() as u64 != declared
        {
            return Err(ParseError::Length {
                line,
                declared,
                found: bytes.len() as u64,
            });
        }
        self.records.push(record);
        Ok(())
    }

    fn finish(mut self) -> Result<Transcript, ParseError> {
        self.close_pending()?;
        Ok(Transcript {
            records: self.records,
        })
    }
}

/// Largest buffer the parser reserves up front for one data record; longer records still
/// parse (the buffer grows as hex lines arrive), so a lying `len` cannot force an allocation.
const MAX_PREALLOCATE: u64 = 1 << 16;

/// Parses `[CONN] open|close` and `[CONN] DIR offset N (len M|eof|reset)`.
fn parse_record_line(number: usize, line: &str) -> Result<Header, ParseError> {
    let bad = || ParseError::BadRecord {
        line: number,
        text: line.to_string(),
    };
    let words: Vec<&str> = line.split_whitespace().collect();
    let conn = words
        .first()
        .and_then(|w| w.strip_prefix('['))
        .and_then(|w| w.strip_suffix(']'))
        .and_then(|n| n.parse::<u64>().ok())
        .ok_or_else(bad)?;
    let complete = |r| Ok(Header::Complete(r));
    match words[1..] {
        ["open"] => complete(Record::Open { conn }),
        ["close"] => complete(Record::Close { conn }),
        [dir, "offset", offset, "eof"] => {
            let (dir, offset) = dir_offset(dir, offset).ok_or_else(bad)?;
            complete(Record::Eof { conn, dir, offset })
        }
        [dir, "offset", offset, "reset"] => {
            let (dir, offset) = dir_offset(dir, offset).ok_or_else(bad)?;
            complete(Record::Reset { conn, dir, offset })
        }
        [dir, "offset", offset, "len", len] => {
            let (dir, offset) = dir_offset(dir, offset).ok_or_else(bad)?;
            let len = len.parse().map_err(|_| bad())?;
            Ok(Header::Data {
                conn,
                dir,
                offset,
                len,
            })
        }
        _ => Err(bad()),
    }
}
fn dir_offset(dir: &str, offset: &str) -> Option<(Direction, u64)> {
    Some((Direction::parse(dir)?, offset.parse().ok()?))
}

/// Parses `  OFFSET  HEX HEX ...  |ASCII|`; the ASCII column is informative and skipped.
fn parse_hex_line(line: &str) -> Option<(u64, Vec<u8>)> {
    let mut words = line.split_whitespace();
    let offset = u64::from_str_radix(words.next()?, 16).ok()?;
    let mut bytes = Vec::with_capacity(BYTES_PER_LINE);
    for word in words {
        if word.starts_with('|') {
            break;
        }
        if word.len() != 2 {
            return None;
        }
        bytes.push(u8::from_str_radix(word, 16).ok()?);
    }
    if bytes.is_empty() || bytes.len() > BYTES_PER_LINE {
        return None;
    }
    Some((offset, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const GOLDEN: &str = "\
# transcript v1
[1] open
[1] client>server offset 0 len 18
  00000000  68 65 6c 6c 6f 2c 20 77  6f 72 6c 64 21 0d 0a 00  |hello, world!...|
  00000010  ff 0a                                             |..|
[1] server>client offset 0 len 0
[1] client>server offset 18 eof
[1] server>client offset 0 reset
[1] close
";

    fn golden_records() -> Vec<Record> {
        vec![
            Record::Open { conn: 1 },
            Record::Data {
                conn: 1,
                dir: Direction::ClientToServer,
                offset: 0,
                bytes: b"hello, world!\r\n\0\xff\n".to_vec(),
            },
            Record::Data {
                conn: 1,
                dir: Direction::ServerToClient,
                offset: 0,
                bytes: Vec::new(),
            },
            Record::Eof {
                conn: 1,
                dir: Direction::ClientToServer,
                offset: 18,
            },
            Record::Reset {
                conn: 1,
                dir: Direction::ServerToClient,
                offset: 0,
            },
            Record::Close { conn: 1 },
        ]
    }

    #[test]
    fn the_writer_produces_the_documented_text() {
        let transcript = Transcript {
            records: golden_records(),
        };
        assert_eq!(transcript.to_text(), GOLDEN);
    }

    #[test]
    fn the_parser_reads_the_documented_text() {
        assert_eq!(Transcript::parse(GOLDEN).unwrap().records, golden_records());
    }

    #[test]
    fn the_example_in_protocol_md_parses_and_is_written_back_identically() {
        let doc = include_str!("../../PROTOCOL.md");
        let start = doc.find("### 1.1 Example").expect("section 1.1");
        let block = &doc[start..];
        let begin = block.find("```text\n").expect("example block") + "```text\n".len();
        let example = &block[begin..begin + block[begin..].find("```").expect("block end")];
        let parsed = Transcript::parse(example).unwrap();
        assert_eq!(parsed.to_text(), example);
        assert_eq!(
            parsed.stream(1, Direction::ServerToClient),
            b"got 12 bytes\ngot 14 bytes\nbye\n"
        );
    }

    #[test]
    fn comments_and_blank_lines_are_ignored_and_the_ascii_column_is_informative() {
        let text = "# transcript v1\n# a note\n\n[2] server>client offset 0 len 2\n  00000000  6f 6b   |whatever|\n";
        let parsed = Transcript::parse(text).unwrap();
        assert_eq!(parsed.stream(2, Direction::ServerToClient), b"ok");
        assert_eq!(parsed.connections(), vec![2]);
    }

    #[test]
    fn broken_transcripts_are_refused_with_the_line_number() {
        let header = "# transcript v1\n";
        let cases = [
            ("hello\n".to_string(), ParseError::MissingHeader),
            (
                format!("{header}[1] client>server offset 5 len 1\n  00000005  61  |a|\n"),
                ParseError::Offset {
                    line: 2,
                    expected: 0,
                    found: 5,
                },
            ),
            (
                format!("{header}[1] client>server offset 0 len 3\n  00000000  61  |a|\n"),
                ParseError::Length {
                    line: 2,
                    declared: 3,
                    found: 1,
                },
            ),
            (
                format!("{header}[1] client>server offset 0 len 1\n  00000001  61  |a|\n"),
                ParseError::Offset {
                    line: 3,
                    expected: 0,
                    found: 1,
                },
            ),
            (
                format!("{header}[x] open\n"),
                ParseError::BadRecord {
                    line: 2,
                    text: "[x] open".into(),
                },
            ),
            (
                format!("{header}[1] sideways offset 0 eof\n"),
                ParseError::BadRecord {
                    line: 2,
                    text: "[1] sideways offset 0 eof".into(),
                },
            ),
            (
                format!("{header}  00000000  61  |a|\n"),
                ParseError::BadHex {
                    line: 2,
                    text: "  00000000  61  |a|".into(),
                },
            ),
            (
                format!("{header}[1] client>server offset 0 len 1\n  00000000  6g  |a|\n"),
                ParseError::BadHex {
                    line: 3,
                    text: "  00000000  6g  |a|".into(),
                },
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(Transcript::parse(&text), Err(expected), "for {text:?}");
        }
    }

    #[test]
    fn a_lying_length_does_not_allocate_it() {
        let text = format!("{HEADER}\n[1] client>server offset 0 len {}\n", u64::MAX);
        assert!(matches!(
            Transcript::parse(&text),
            Err(ParseError::Length { .. })
        ));
    }

    /// Any sequence of events, with offsets kept the way a recorder keeps them.
    fn transcripts() -> impl Strategy<Value = Vec<Record>> {
        let event = (
            1u64..4,
            any::<bool>(),
            0u8..4,
            proptest::collection::vec(any::<u8>(), 0..70),
        );
        proptest::collection::vec(event, 0..20).prop_map(|events| {
            let mut offsets: HashMap<(u64, Direction), u64> = HashMap::new();
            events
                .into_iter()
                .map(|(conn, to_server, kind, bytes)| {
                    let dir = if to_server {
                        Direction::ClientToServer
                    } else {
                        Direction::ServerToClient
                    };
                    let offset = offsets.entry((conn, dir)).or_insert(0);
                    let at = *offset;
                    match kind {
                        0 => Record::Open { conn },
                        1 => Record::Close { conn },
                        2 => Record::Eof {
                            conn,
                            dir,
                            offset: at,
                        },
                        _ => {
                            *offset += bytes.len() as u64;
                            Record::Data {
                                conn,
                                dir,
                                offset: at,
                                bytes,
                            }
                        }
                    }
                })
                .collect()
        })
    }

    proptest! {
        #[test]
        fn parse_of_write_gives_back_the_records(records in transcripts()) {
            let text = Transcript { records: records.clone() }.to_text();
            let parsed = Transcript::parse(&text).unwrap();
            prop_assert_eq!(&parsed.records, &records);
            prop_assert_eq!(parsed.to_text(), text);
        }
    }
}

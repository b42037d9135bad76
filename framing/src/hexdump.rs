//! Hex dumps for people: the classic 16-bytes-a-line layout with an ASCII column, and an
//! annotated form that writes each record field's name beside its bytes. This is the
//! suite's one hex dump: every crate that shows bytes to a person uses it.
//!
//! ```text
//! 0000  00 00 00 05 68 65 6c 6c  6f                       |....hello|
//! ```
//!
//! - [`hex_dump`]: a whole buffer as a `String`, offsets from 0;
//! - [`HexDump`]: the same lines as a `Display` value, with a starting offset (a dump of a
//!   stream's later bytes), a wider offset column and an indent, written straight into any
//!   `fmt::Write` or, via `write!`, any `io::Write`;
//! - [`hex_line`]: one line of at most [`BYTES_PER_LINE`] bytes;
//! - [`hex_bytes`]: `00 01 ff`, for bytes inside a sentence or a table;
//! - [`ascii`]: the ASCII column alone;
//! - [`annotated_dump`]: a record, one line per field, with the field's name.

use std::fmt::{self, Write as _};

use crate::profile::Profile;
use crate::record::Record;
use crate::wire::WireError;

/// Bytes shown per line.
pub const BYTES_PER_LINE: usize = 16;

/// The classic dump: offset, 16 hex bytes (split in two groups of 8), ASCII column.
///
/// ```
/// let dump = framing::hex_dump(b"hi\n");
/// assert!(dump.starts_with("0000  68 69 0a   "));
/// assert!(dump.ends_with("   |hi.|\n"));
/// ```
pub fn hex_dump(bytes: &[u8]) -> String {
    HexDump::new(bytes).to_string()
}

/// A hex dump as a `Display` value: the lines of [`hex_dump`], each ending in `\n`,
/// optionally starting at another offset, with a wider offset column or an indent.
///
/// ```
/// use framing::HexDump;
/// // Bytes 4096.. of a stream, 8 offset digits, indented under a heading.
/// let dump = HexDump::new(b"hello").starting_at(4096).offset_width(8).indent("  ");
/// assert_eq!(
///     dump.to_string(),
///     "  00001000  68 65 6c 6c 6f                                   |hello|\n"
/// );
/// // Into an io::Write without building a String first:
/// use std::io::Write;
/// let mut out = Vec::new();
/// write!(out, "{}", HexDump::new(&[0xff])).unwrap();
/// assert_eq!(out, b"0000  ff                                               |.|\n");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct HexDump<'a> {
    bytes: &'a [u8],
    start: u64,
    offset_width: usize,
    indent: &'a str,
}

impl<'a> HexDump<'a> {
    /// A dump of `bytes`, offsets from 0 in 4 hex digits (more when needed), no indent.
    pub const fn new(bytes: &'a [u8]) -> Self {
        HexDump {
            bytes,
            start: 0,
            offset_width: 4,
            indent: "",
        }
    }

    /// Numbers the first byte `offset` (a dump of a stream's later part).
    pub const fn starting_at(self, offset: u64) -> Self {
        HexDump {
            start: offset,
            ..self
        }
    }

    /// Pads offsets to at least `digits` hex digits (`hexdump -C` uses 8).
    pub const fn offset_width(self, digits: usize) -> Self {
        HexDump {
            offset_width: digits,
            ..self
        }
    }

    /// Writes `prefix` at the start of every line.
    pub const fn indent(self, prefix: &'a str) -> Self {
        HexDump {
            indent: prefix,
            ..self
        }
    }
}

impl fmt::Display for HexDump<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut offset = self.start;
        for chunk in self.bytes.chunks(BYTES_PER_LINE) {
            let width = self.offset_width;
            writeln!(
                f,
                "{}{offset:0width$x}  {:<48} |{}|",
                self.indent,
                hex_columns(chunk),
                ascii(chunk)
            )?;
            offset += chunk.len() as u64;
        }
        Ok(())
    }
}

/// One dump line, without its newline, for at most [`BYTES_PER_LINE`] bytes at `offset`.
///
/// ```
/// assert_eq!(
///     framing::hexdump::hex_line(0x10, b"AB"),
///     "0010  41 42                                            |AB|"
/// );
/// ```
pub fn hex_line(offset: u64, chunk: &[u8]) -> String {
    let chunk = &chunk[..chunk.len().min(BYTES_PER_LINE)];
    let line = HexDump::new(chunk).starting_at(offset).to_string();
    line.trim_end_matches('\n').to_owned()
}

/// `68 69 0a` with an extra space after the eighth byte.
fn hex_columns(chunk: &[u8]) -> String {
    let mut out = String::with_capacity(3 * BYTES_PER_LINE + 1);
    for (i, byte) in chunk.iter().enumerate() {
        if i == 8 {
            out.push(' ');
        }
        let _ = write!(out, "{byte:02x} ");
    }
    out.trim_end().to_owned()
}

/// The ASCII column: printable ASCII as itself, everything else as `.`.
///
/// ```
/// assert_eq!(framing::hexdump::ascii(b"a\x00 b\xff"), "a. b.");
/// ```
pub fn ascii(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '.'
            }
        })
        .collect()
}

/// Space-separated hex bytes, for bytes inside a sentence or a table.
///
/// ```
/// assert_eq!(framing::hex_bytes(&[0, 1, 0xff]), "00 01 ff");
/// ```
pub fn hex_bytes(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A record, one line per field: offset, the field's bytes in hex, and its name
/// (a field longer than [`BYTES_PER_LINE`] continues on unlabelled lines).
///
/// ```text
/// 0000  12 34 56 78                          id
/// 0004  64 65 70 6f 74 2d 37 00              sender
/// ```
pub fn annotated_dump<R: Record>(record: &R, profile: Profile) -> Result<String, WireError> {
    let mut out = String::new();
    let mut offset = 0;
    for (name, bytes) in record.encode_fields(profile)? {
        let mut chunks = bytes.chunks(BYTES_PER_LINE).peekable();
        if chunks.peek().is_none() {
            let _ = writeln!(out, "{offset:04x}  {:<47}  {name} (empty)", "");
        }
        let mut label = name;
        for chunk in chunks {
            let _ = writeln!(out, "{offset:04x}  {:<47}  {label}", hex_bytes(chunk));
            offset += chunk.len();
            label = "";
        }
    }
    Ok(out
        .lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
        + "\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_input_wraps_with_offsets() {
        let dump = hex_dump(&[0x41; 20]);
        let lines: Vec<_> = dump.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("0000  41 41"));
        assert!(lines[1].starts_with("0010  41 41 41 41"));
        assert!(lines[1].ends_with("|AAAA|"));
    }

    #[test]
    fn a_dump_from_a_later_offset_counts_on_from_there() {
        let dump = HexDump::new(&[0x41; 17]).starting_at(0xfff0).to_string();
        let lines: Vec<_> = dump.lines().collect();
        assert!(lines[0].starts_with("fff0  41"), "{dump}");
        assert!(lines[1].starts_with("10000  41 "), "{dump}");
    }

    #[test]
    fn the_default_dump_and_the_builder_agree() {
        let bytes: Vec<u8> = (0..=255).collect();
        assert_eq!(hex_dump(&bytes), HexDump::new(&bytes).to_string());
        assert_eq!(
            hex_dump(&bytes).lines().nth(2).unwrap(),
            hex_line(32, &bytes[32..48])
        );
    }
}

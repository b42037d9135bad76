//! Hex dumps for people: the classic 16-bytes-a-line layout with an ASCII column, and an
//! annotated form that writes each record field's name beside its bytes.
//!
//! ```text
//! 0000  00 00 00 05 68 65 6c 6c  6f                       |....hello|
//! ```

use std::fmt::Write as _;

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
    let mut out = String::new();
    for (line, chunk) in bytes.chunks(BYTES_PER_LINE).enumerate() {
        let _ = writeln!(
            out,
            "{:04x}  {:<48} |{}|",
            line * BYTES_PER_LINE,
            hex_columns(chunk),
            ascii(chunk)
        );
    }
    out
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

/// Printable ASCII as itself, everything else as `.`.
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

/// Space-separated hex bytes: `00 01 ff`.
pub fn hex_bytes(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// One line per field: offset, the field's bytes in hex, and its name.
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
}

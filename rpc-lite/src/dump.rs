//! Annotated hex dumps of messages: each header field's bytes beside its name and
//! value, then the body. Used by the demo, the snapshot tests and `PROTOCOL.md`.

use std::fmt::Write as _;
use std::ops::Range;

use framing::hexdump::hex_bytes;

use crate::message::{HEADER_LEN, Message, field};

/// An annotated dump of `message` as it goes on the wire (without a frame prefix).
///
/// ```text
/// 00..04  52 50 43 4c               magic      "RPCL"
/// 04..08  4c 01 00 04               label      be32
/// ...
/// ```
pub fn annotated(message: &Message) -> String {
    let bytes = message.to_bytes();
    let h = &message.header;
    let rows: [(Range<usize>, &str, String); 10] = [
        (field::MAGIC, "magic", "\"RPCL\"".into()),
        (field::LABEL, "label", h.profile.to_string()),
        (8..9, "protocol", "1".into()),
        (9..10, "kind", format!("{:?}", h.kind)),
        (field::RESERVED, "reserved", "0".into()),
        (field::CALL_ID, "call id", h.call_id.to_string()),
        (field::PROGRAM, "program", format!("{:#x}", h.program)),
        (field::PROGRAM_VERSION, "prog vers", h.version.to_string()),
        (field::PROCEDURE, "procedure", h.procedure.to_string()),
        (
            field::DEADLINE_MS,
            "deadline",
            format!("{} ms", h.deadline_ms),
        ),
    ];
    let mut out = String::new();
    for (range, name, value) in rows {
        let hex = hex_bytes(&bytes[range.clone()]);
        let _ = writeln!(
            out,
            "{:02}..{:02}  {hex:<24}  {name:<9}  {value}",
            range.start, range.end
        );
    }
    let body = &bytes[HEADER_LEN..];
    let _ = writeln!(out, "body ({} bytes):", body.len());
    for (i, chunk) in body.chunks(16).enumerate() {
        let offset = format!("{}..", HEADER_LEN + i * 16);
        let _ = writeln!(out, "{offset:<8}{}", hex_bytes(chunk));
    }
    out
}

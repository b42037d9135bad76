//! `framing demo`: why a struct cannot just be sent, and the two cures.

use std::io::Write;

use anyhow::Result;
use framing::{
    Profile, Record, Shipment, Wire, from_canonical, from_labelled, hex_dump, hexdump::hex_bytes,
    to_bytes, to_canonical, to_labelled,
};

/// Width of one hex column in the side-by-side table (16 bytes).
const COLUMN: usize = 47;

/// Writes the whole demo transcript to `out`.
pub fn run(out: &mut impl Write) -> Result<()> {
    let record = Shipment::reference()?;
    writeln!(out, "framing demo: one record, two machines\n")?;
    writeln!(out, "record: {record:?}\n")?;
    side_by_side(out, &record, Profile::BE32, Profile::LE64)?;
    naive_read(out, &record, Profile::BE32, Profile::LE64)?;
    naive_read(out, &record, Profile::LE64, Profile::BE32)?;
    labelled(out, &record)?;
    canonical(out, &record)?;
    Ok(())
}

/// The record's fields as each machine writes them, one row per field.
fn side_by_side(out: &mut impl Write, record: &Shipment, a: Profile, b: Profile) -> Result<()> {
    let (left, right) = (record.encode_fields(a)?, record.encode_fields(b)?);
    let (len_a, len_b) = (to_bytes(record, a)?.len(), to_bytes(record, b)?.len());
    writeln!(out, "== the same record written by each machine ==")?;
    let (head_a, head_b) = (
        format!("{a} ({len_a} bytes)"),
        format!("{b} ({len_b} bytes)"),
    );
    writeln!(out, "{:<14} {head_a:<COLUMN$}  {head_b}", "field")?;
    for ((name, bytes_a), (_, bytes_b)) in left.iter().zip(&right) {
        let rows_a: Vec<_> = bytes_a.chunks(16).map(hex_bytes).collect();
        let rows_b: Vec<_> = bytes_b.chunks(16).map(hex_bytes).collect();
        for row in 0..rows_a.len().max(rows_b.len()) {
            let label = if row == 0 { *name } else { "" };
            let cell_a = rows_a.get(row).map_or("", String::as_str);
            let cell_b = rows_b.get(row).map_or("", String::as_str);
            let line = format!("{label:<14} {cell_a:<COLUMN$}  {cell_b}");
            writeln!(out, "{}", line.trim_end())?;
        }
    }
    writeln!(out)?;
    Ok(())
}

/// The receiver decodes the sender's bytes as if they were its own layout.
fn naive_read(
    out: &mut impl Write,
    record: &Shipment,
    sender: Profile,
    receiver: Profile,
) -> Result<()> {
    let bytes = to_bytes(record, sender)?;
    writeln!(
        out,
        "== naive: the {receiver} machine reads {sender} bytes with its own layout =="
    )?;
    let mut input = bytes.clone();
    for (name, result) in Shipment::trace_decode(&mut input, receiver) {
        match result {
            Ok(value) => writeln!(out, "  {name:<14} = {value}")?,
            Err(err) => writeln!(out, "  {name:<14} ! {err}")?,
        }
    }
    let verdict = match framing::from_bytes::<Shipment>(bytes, receiver) {
        Ok(decoded) if decoded == *record => "correct (by luck)".to_owned(),
        Ok(_) => "decoded, but the values are garbage".to_owned(),
        Err(err) => format!("failed: {err}"),
    };
    writeln!(out, "  -> {verdict}\n")?;
    Ok(())
}

/// Receiver makes right: the label says how to read the rest.
fn labelled(out: &mut impl Write, record: &Shipment) -> Result<()> {
    writeln!(
        out,
        "== labelled (receiver makes right, like DCE/RPC NDR) =="
    )?;
    for sender in [Profile::BE32, Profile::LE64] {
        let message = to_labelled(record, sender)?;
        let (decoded, declared): (Shipment, Profile) = from_labelled(message.clone())?;
        writeln!(
            out,
            "  {sender} sends {} bytes, label {} -> read as {declared}: {}",
            message.len(),
            hex_bytes(&message[..framing::LABEL_LEN]),
            same(&decoded, record)
        )?;
    }
    writeln!(out)?;
    Ok(())
}

/// Everybody converts to one agreed form.
fn canonical(out: &mut impl Write, record: &Shipment) -> Result<()> {
    writeln!(
        out,
        "== canonical (everyone converts to network form, like XDR) =="
    )?;
    let message = to_canonical(record)?;
    let decoded: Shipment = from_canonical(message.clone())?;
    writeln!(
        out,
        "  both machines send the same {} bytes -> {}",
        message.len(),
        same(&decoded, record)
    )?;
    write!(out, "{}", indent(&hex_dump(&message)))?;
    Ok(())
}

fn same<T: Wire + PartialEq>(decoded: &T, original: &T) -> &'static str {
    if decoded == original {
        "equal to the original"
    } else {
        "DIFFERENT from the original"
    }
}

fn indent(text: &str) -> String {
    text.lines().map(|line| format!("  {line}\n")).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn naive_reads_really_go_wrong() {
        let mut out = Vec::new();
        super::run(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains("correct (by luck)"));
        assert_eq!(text.matches("equal to the original").count(), 3);
    }
}

//! `framing inspect`: split a captured byte stream into frames and dump each one.
//!
//! The stream is read through [`framing::FrameReader`], so memory stays bounded by the
//! maximum frame however long the capture is.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};
use framing::{Endian, FormatError, FrameFormat, FrameReader, LengthWidth, hex_dump};

/// Options of `framing inspect`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Bytes in the length field: 1, 2, 4 or 8.
    #[arg(long, default_value_t = 4)]
    length_width: usize,
    /// Byte order of the length field: be or le.
    #[arg(long, default_value = "be")]
    order: Endian,
    /// Largest payload accepted, in bytes [default: 16 MiB, or what the width can express].
    #[arg(long = "max")]
    max: Option<u64>,
    /// The capture to read; `-` or nothing for standard input.
    file: Option<PathBuf>,
}

/// Prints every whole frame, then fails with the reason if the stream was bad.
pub fn run(args: &Args) -> Result<()> {
    // A width or maximum the format refuses is a mistake in the command line: exit 2.
    let usage = |err: FormatError| support::cli::usage(err.to_string());
    let width = LengthWidth::from_bytes(args.length_width).map_err(usage)?;
    let default_max = (FrameFormat::DEFAULT_MAX_FRAME as u64).min(width.max_value());
    let format =
        FrameFormat::new(width, args.order, args.max.unwrap_or(default_max)).map_err(usage)?;
    let input: Box<dyn Read> = match &args.file {
        Some(path) if path.as_os_str() != "-" => {
            Box::new(File::open(path).with_context(|| format!("cannot open {}", path.display()))?)
        }
        _ => Box::new(io::stdin().lock()),
    };
    inspect(input, format, &mut io::stdout().lock())
}

/// The testable core: frames from `input` dumped to `out`.
pub fn inspect(input: impl Read, format: FrameFormat, out: &mut impl Write) -> Result<()> {
    let mut reader = FrameReader::new(input, format);
    let (mut index, mut offset) = (0usize, 0usize);
    writeln!(out, "format: {format}")?;
    loop {
        let frame = reader.read_frame().with_context(|| {
            format!("after {index} whole frames ({offset} bytes), frame {index} at offset {offset} is bad")
        });
        let frame = match frame {
            Ok(Some(frame)) => frame,
            Ok(None) => break,
            Err(err) => {
                out.flush()?;
                return Err(err);
            }
        };
        writeln!(
            out,
            "frame {index}  offset {offset}  length {}",
            frame.len()
        )?;
        write!(out, "{}", hex_dump(&frame))?;
        index += 1;
        offset += format.header_len() + frame.len();
    }
    writeln!(out, "{index} frames, {offset} bytes")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_on(bytes: &[u8], format: FrameFormat) -> (String, Option<String>) {
        let mut out = Vec::new();
        let result = inspect(bytes, format, &mut out);
        (
            String::from_utf8(out).unwrap(),
            result.err().map(|e| format!("{e:#}")),
        )
    }

    #[test]
    fn whole_stream_is_listed_frame_by_frame() {
        let (out, err) = run_on(b"\0\0\0\x05hello\0\0\0\0", FrameFormat::default());
        assert!(err.is_none());
        insta::assert_snapshot!(out);
    }

    #[test]
    fn truncated_stream_prints_whole_frames_then_fails() {
        let (out, err) = run_on(b"\0\0\0\x02hi\0\0\0\x09abc", FrameFormat::default());
        assert!(out.contains("frame 0  offset 0  length 2"));
        assert_eq!(
            err.unwrap(),
            "after 1 whole frames (6 bytes), frame 1 at offset 6 is bad: \
             stream ended inside a frame: 6 more bytes were expected (payload of 9 bytes)"
        );
    }

    #[test]
    fn oversized_length_fails_without_reading_on() {
        let format = FrameFormat::new(LengthWidth::U16, Endian::Little, 100).unwrap();
        let (_, err) = run_on(b"\x00\x10", format);
        assert!(
            err.unwrap()
                .ends_with("frame of 4096 bytes exceeds the maximum of 100 bytes")
        );
    }
}

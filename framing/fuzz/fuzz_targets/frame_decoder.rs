//! Fuzzes the frame decoding core: arbitrary bytes, an arbitrary format chosen by the
//! first byte, fed whole and in pieces as long as the second byte says. Maxima range from
//! a few hundred bytes to as large as the length field allows (up to `u64::MAX`), where
//! only overflow-free arithmetic and reserving as bytes arrive protect the receiver.
//! Invariants: no panic, the borrowed iterator and the incremental codec agree, every
//! frame respects the maximum, and the codec's buffer never holds much more than what
//! arrived.
#![no_main]

use bytes::BytesMut;
use framing::{Endian, FrameCodec, FrameFormat, FrameReader, LengthWidth};
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::Decoder;

fuzz_target!(|data: &[u8]| {
    let [shape, step, stream @ ..] = data else { return };
    let width = [LengthWidth::U8, LengthWidth::U16, LengthWidth::U32, LengthWidth::U64][(shape & 3) as usize];
    let order = if shape & 4 == 0 { Endian::Big } else { Endian::Little };
    let small = u64::from(shape >> 5) * 37;
    let max = match (shape >> 3) & 3 {
        0 => small,
        1 => small * 1000,
        2 => 1 << 40,
        _ => u64::MAX,
    }
    .min(width.max_value());
    let Ok(format) = FrameFormat::new(width, order, max) else { return };

    let whole: Vec<Result<Vec<u8>, String>> = format
        .frames(stream)
        .map(|r| r.map(|f| f.to_vec()).map_err(|e| e.to_string()))
        .collect();

    let mut codec = FrameCodec::new(format);
    let mut buf = BytesMut::new();
    let mut pieces = Vec::new();
    let mut failed = None;
    'feed: for chunk in stream.chunks(usize::from(*step).max(1)) {
        buf.extend_from_slice(chunk);
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(frame)) => {
                    assert!(frame.len() <= format.max_frame());
                    pieces.push(frame.to_vec());
                }
                Ok(None) => {
                    let bound = 2 * (stream.len() + framing::frame::RESERVE_CHUNK);
                    assert!(buf.capacity() <= bound, "reserved {} for {} bytes", buf.capacity(), stream.len());
                    break;
                }
                Err(err) => {
                    failed = Some(err.to_string());
                    break 'feed;
                }
            }
        }
    }
    if failed.is_none() {
        if let Err(err) = codec.decode_eof(&mut buf) {
            failed = Some(err.to_string());
        }
    }
    let whole_ok: Vec<Vec<u8>> = whole.iter().filter_map(|r| r.clone().ok()).collect();
    assert_eq!(whole_ok, pieces, "incremental and whole decoding disagree");
    assert_eq!(whole.iter().find_map(|r| r.clone().err()), failed);

    // The blocking reader, over the same bytes, must read the same frames and fail alike.
    let mut reader = FrameReader::new(stream, format);
    let mut read = Vec::new();
    let read_failed = loop {
        match reader.read_frame() {
            Ok(Some(frame)) => read.push(frame.to_vec()),
            Ok(None) => break None,
            Err(err) => break Some(err.to_string()),
        }
    };
    assert_eq!(whole_ok, read, "blocking and whole decoding disagree");
    assert_eq!(failed, read_failed);
});

//! Fuzzes the frame decoding core: arbitrary bytes, an arbitrary format chosen by the
//! first two bytes, fed whole and in arbitrary pieces. Invariants: no panic, the borrowed
//! iterator and the incremental codec agree, every frame respects the maximum.
#![no_main]

use bytes::BytesMut;
use framing::{Endian, FrameCodec, FrameFormat, LengthWidth};
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::Decoder;

fuzz_target!(|data: &[u8]| {
    let [shape, step, stream @ ..] = data else { return };
    let width = [LengthWidth::U8, LengthWidth::U16, LengthWidth::U32, LengthWidth::U64][(shape & 3) as usize];
    let order = if shape & 4 == 0 { Endian::Big } else { Endian::Little };
    let max = (u64::from(shape >> 3) * 37).min(width.max_value());
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
                Ok(None) => break,
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
});

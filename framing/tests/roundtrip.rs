//! Property tests: every value of every `Wire` type round-trips under every profile,
//! labelled messages decode whoever wrote them, and a frame stream decodes the same
//! wherever the network splits it.

use bytes::{Bytes, BytesMut};
use framing::{
    Endian, FixedStr, FrameCodec, FrameFormat, FrameReader, LengthWidth, Long, Profile, ULong,
    Wire, WordSize, from_bytes, from_labelled, to_bytes, to_labelled,
};
use proptest::prelude::*;
use tokio_util::codec::Decoder;

fn any_profile() -> impl Strategy<Value = Profile> {
    (any::<bool>(), any::<bool>()).prop_map(|(big, wide)| {
        Profile::new(
            if big { Endian::Big } else { Endian::Little },
            if wide { WordSize::W64 } else { WordSize::W32 },
        )
    })
}

/// A C long that fits the profile's word: what a machine of that kind could hold.
fn long_for(profile: Profile, value: i64) -> Long {
    match profile.word {
        WordSize::W32 => Long(i64::from(value as i32)),
        WordSize::W64 => Long(value),
    }
}

fn round_trip<T: Wire + PartialEq + std::fmt::Debug>(value: &T, profile: Profile) {
    let bytes = to_bytes(value, profile).unwrap();
    let back: T = from_bytes(bytes, profile).unwrap();
    assert_eq!(&back, value);
}

framing::record! {
    /// Every kind of field at once.
    #[derive(Debug, Clone, PartialEq)]
    struct Everything {
        a: u8, b: i8, c: u16, d: i16, e: u32, f: i32, g: u64, h: i64,
        word: Long, uword: ULong, flag: bool, name: FixedStr<12>, text: String,
        blob: Bytes, list: Vec<u16>, maybe: Option<i32>, array: [u8; 3], pair: (u16, bool),
        outcome: Result<u32, String>,
    }
}

prop_compose! {
    fn everything(profile: Profile)(
        (a, b, c, d) in (any::<u8>(), any::<i8>(), any::<u16>(), any::<i16>()),
        (e, f, g, h) in (any::<u32>(), any::<i32>(), any::<u64>(), any::<i64>()),
        (word, uword, flag) in (any::<i64>(), any::<u32>(), any::<bool>()),
        name in "[a-z\u{e9}]{0,6}",
        text in ".{0,40}",
        blob in proptest::collection::vec(any::<u8>(), 0..64),
        list in proptest::collection::vec(any::<u16>(), 0..16),
        maybe in any::<Option<i32>>(),
        array in any::<[u8; 3]>(),
        pair in any::<(u16, bool)>(),
        outcome in prop_oneof![any::<u32>().prop_map(Ok), ".{0,8}".prop_map(Err)],
    ) -> Everything {
        Everything {
            a, b, c, d, e, f, g, h,
            word: long_for(profile, word),
            uword: ULong(uword.into()),
            flag,
            name: FixedStr::new(&name).unwrap(),
            text,
            blob: Bytes::from(blob),
            list, maybe, array, pair, outcome,
        }
    }
}

proptest! {
    #[test]
    fn every_record_round_trips_under_every_profile(
        (profile, value) in any_profile().prop_flat_map(|p| (Just(p), everything(p)))
    ) {
        round_trip(&value, profile);
    }

    #[test]
    fn floats_round_trip_bit_for_bit(x in any::<f64>(), y in any::<f32>(), profile in any_profile()) {
        let bytes = to_bytes(&(x, y), profile).unwrap();
        let (x2, y2): (f64, f32) = from_bytes(bytes, profile).unwrap();
        prop_assert_eq!((x.to_bits(), y.to_bits()), (x2.to_bits(), y2.to_bits()));
    }

    #[test]
    fn labelled_messages_decode_whoever_wrote_them(
        (sender, value) in any_profile().prop_flat_map(|p| (Just(p), everything(p)))
    ) {
        let message = to_labelled(&value, sender).unwrap();
        let (back, declared): (Everything, Profile) = from_labelled(message).unwrap();
        prop_assert_eq!(declared, sender);
        prop_assert_eq!(back, value);
    }

    #[test]
    fn frames_decode_the_same_at_any_split(
        payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..8),
        width in prop_oneof![Just(1usize), Just(2), Just(4), Just(8)],
        big in any::<bool>(),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..6),
    ) {
        let order = if big { Endian::Big } else { Endian::Little };
        let format = FrameFormat::new(LengthWidth::from_bytes(width).unwrap(), order, 255).unwrap();
        let mut wire = BytesMut::new();
        for p in &payloads {
            format.encode(&p[..p.len().min(255)], &mut wire).unwrap();
        }
        let mut points: Vec<usize> = cuts.iter().map(|i| i.index(wire.len() + 1)).collect();
        points.sort();
        let decoded = decode_in_pieces(format, &wire, &points);
        let expected: Vec<&[u8]> = payloads.iter().map(|p| &p[..p.len().min(255)]).collect();
        prop_assert_eq!(decoded.iter().map(|b| &b[..]).collect::<Vec<_>>(), expected);
    }
}

proptest! {
    /// Arbitrary bytes under a maximum as large as the width allows (or any below it):
    /// never a panic, the codec never holds more than what arrived plus one chunk
    /// (doubled for amortised growth), and it agrees with the borrowed iterator.
    #[test]
    fn arbitrary_bytes_under_large_maxima_stay_bounded(
        stream in proptest::collection::vec(any::<u8>(), 0..200),
        width in prop_oneof![Just(1usize), Just(2), Just(4), Just(8)],
        big in any::<bool>(),
        max_fraction in prop_oneof![Just(u64::MAX), any::<u64>()],
        step in 1usize..40,
    ) {
        let width = LengthWidth::from_bytes(width).unwrap();
        let order = if big { Endian::Big } else { Endian::Little };
        let max = max_fraction.min(width.max_value());
        let format = FrameFormat::new(width, order, max).unwrap();
        let mut codec = FrameCodec::new(format);
        let (mut buf, mut pieces, mut failed) = (BytesMut::new(), Vec::new(), None);
        'feed: for chunk in stream.chunks(step) {
            buf.extend_from_slice(chunk);
            loop {
                match codec.decode(&mut buf) {
                    Ok(Some(frame)) => pieces.push(frame.to_vec()),
                    Ok(None) => break,
                    Err(err) => { failed = Some(err.to_string()); break 'feed; }
                }
            }
            let bound = 2 * (stream.len() + framing::frame::RESERVE_CHUNK);
            prop_assert!(buf.capacity() <= bound, "capacity {} > {}", buf.capacity(), bound);
        }
        if failed.is_none() {
            failed = codec.decode_eof(&mut buf).err().map(|e| e.to_string());
        }
        let whole: Vec<_> = format.frames(&stream).collect();
        let whole_ok: Vec<Vec<u8>> = whole.iter().filter_map(|r| r.as_ref().ok().map(|f| f.to_vec())).collect();
        prop_assert_eq!(whole_ok, pieces);
        prop_assert_eq!(whole.iter().find_map(|r| r.as_ref().err().map(|e| e.to_string())), failed);
    }
}

/// Feeds `wire` to the tokio codec in pieces cut at `points`, collecting frames.
fn decode_in_pieces(format: FrameFormat, wire: &[u8], points: &[usize]) -> Vec<Bytes> {
    let mut codec = FrameCodec::new(format);
    let (mut buf, mut frames, mut start) = (BytesMut::new(), Vec::new(), 0);
    for &end in points.iter().chain(std::iter::once(&wire.len())) {
        buf.extend_from_slice(&wire[start..end]);
        start = end;
        while let Some(frame) = codec.decode(&mut buf).unwrap() {
            frames.push(frame);
        }
    }
    assert!(codec.decode_eof(&mut buf).unwrap().is_none());
    frames
}

/// Every single split point and every pair of split points, exhaustively, with both the
/// tokio codec and the blocking reader.
#[test]
fn every_split_point_of_a_fixed_stream() {
    let format = FrameFormat::default();
    let mut wire = BytesMut::new();
    for payload in [&b"hello"[..], b"", b"x", &[0xAB; 40]] {
        format.encode(payload, &mut wire).unwrap();
    }
    let expected = decode_in_pieces(format, &wire, &[]);
    assert_eq!(expected.len(), 4);
    for a in 0..=wire.len() {
        for b in a..=wire.len() {
            assert_eq!(
                decode_in_pieces(format, &wire, &[a, b]),
                expected,
                "split at {a},{b}"
            );
        }
        let reader = std::io::Read::chain(&wire[..a], &wire[a..]);
        let mut frames = FrameReader::new(reader, format);
        for frame in &expected {
            assert_eq!(&frames.read_frame().unwrap().unwrap(), frame);
        }
        assert!(frames.read_frame().unwrap().is_none());
    }
}

#[test]
fn many_frames_in_one_read() {
    let format = FrameFormat::default();
    let mut wire = BytesMut::new();
    for i in 0..1000u32 {
        format.encode(&i.to_be_bytes(), &mut wire).unwrap();
    }
    let frames = decode_in_pieces(format, &wire, &[]);
    assert_eq!(frames.len(), 1000);
    assert_eq!(&frames[999][..], 999u32.to_be_bytes());
}

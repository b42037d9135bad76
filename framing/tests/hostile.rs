//! Hostile input: lying lengths, truncation, invalid values. Every case is a typed
//! error, never a panic and never an allocation the peer chose.

use bytes::{Bytes, BytesMut};
use framing::{
    Endian, FixedStr, FrameError, FrameFormat, FrameReader, LabelError, LengthWidth, Long, Profile,
    ULong, Wire, WireError, from_bytes, from_labelled, to_bytes,
};

fn decode<T: Wire>(bytes: &[u8], profile: Profile) -> Result<T, WireError> {
    from_bytes(Bytes::copy_from_slice(bytes), profile)
}

#[test]
fn string_length_that_lies_is_incomplete_not_an_allocation() {
    let err = decode::<String>(&[0xFF, 0xFF, 0xFF, 0xF0, b'a'], Profile::BE32).unwrap_err();
    assert_eq!(
        err,
        WireError::Incomplete {
            what: "string",
            needed: 0xFFFF_FFF0,
            remaining: 1
        }
    );
}

#[test]
fn vector_count_that_lies_fails_on_the_missing_elements() {
    let err = decode::<Vec<u64>>(&[0x7F, 0xFF, 0xFF, 0xFF, 1, 2], Profile::BE64).unwrap_err();
    assert!(matches!(
        err,
        WireError::Incomplete {
            what: "u64",
            needed: 8,
            remaining: 2
        }
    ));
}

#[test]
fn vector_of_unit_with_huge_count_does_not_allocate_per_count() {
    // () takes no bytes, so a count is all there is: capacity is capped by the input.
    let value: Vec<()> = decode(&[0x00, 0x00, 0x10, 0x00], Profile::BE32).unwrap();
    assert_eq!(value.len(), 4096);
}

#[test]
fn invalid_values_are_named() {
    assert_eq!(
        decode::<bool>(&[2], Profile::BE32),
        Err(WireError::InvalidBool(2))
    );
    assert_eq!(
        decode::<Option<u8>>(&[9, 0], Profile::BE32),
        Err(WireError::InvalidOptionTag(9))
    );
    assert_eq!(
        decode::<String>(&[0, 0, 0, 2, 0xC3, 0x28], Profile::BE32),
        Err(WireError::InvalidUtf8 { what: "string" })
    );
    assert_eq!(
        decode::<FixedStr<2>>(&[0xFF, 0xFE], Profile::BE32),
        Err(WireError::InvalidUtf8 {
            what: "fixed-width string"
        })
    );
}

#[test]
fn trailing_bytes_are_an_error() {
    assert_eq!(
        decode::<u16>(&[0, 1, 2], Profile::BE32),
        Err(WireError::TrailingBytes(1))
    );
}

#[test]
fn a_word_that_does_not_fit_32_bits_is_refused_on_encode() {
    assert_eq!(
        to_bytes(&Long(i64::from(i32::MAX) + 1), Profile::BE32),
        Err(WireError::WordOverflow {
            value: 2_147_483_648,
            bits: 32
        })
    );
    assert!(to_bytes(&ULong(u64::from(u32::MAX)), Profile::LE32).is_ok());
    assert!(to_bytes(&Long(i64::from(i32::MIN)), Profile::LE32).is_ok());
}

#[test]
fn thirty_two_bit_words_sign_extend() {
    let long: Long = decode(&[0xFF, 0xFF, 0xFF, 0xFE], Profile::BE32).unwrap();
    assert_eq!(long, Long(-2));
    let ulong: ULong = decode(&[0xFF, 0xFF, 0xFF, 0xFE], Profile::BE32).unwrap();
    assert_eq!(ulong, ULong(0xFFFF_FFFE));
}

#[test]
fn fixed_strings_refuse_what_would_not_survive() {
    assert_eq!(
        FixedStr::<3>::new("abcd"),
        Err(WireError::FixedTooLong {
            len: 4,
            capacity: 3
        })
    );
    assert_eq!(FixedStr::<8>::new("a\0b"), Err(WireError::FixedNul));
    // A C sender may leave garbage after the terminating NUL: it is ignored.
    let s: FixedStr<4> = decode(b"ab\0z", Profile::BE32).unwrap();
    assert_eq!(s.as_str(), "ab");
}

#[test]
fn labelled_message_with_a_bad_label_says_so() {
    let err = from_labelled::<u32>(Bytes::from_static(&[0x4C, 0x01, 0x00, 0x05, 0, 0, 0, 1]));
    assert_eq!(err, Err(WireError::Label(LabelError::BadWordSize(5))));
    let err = from_labelled::<u32>(Bytes::from_static(&[0x4C]));
    assert_eq!(err, Err(WireError::Label(LabelError::Incomplete(1))));
}

#[test]
fn lying_frame_length_is_refused_at_the_default_limit() {
    // 16 MiB + 1, announced in the contract's default format.
    let mut buf = BytesMut::from(&[0x01, 0x00, 0x00, 0x01][..]);
    let err = FrameFormat::default().decode(&mut buf).unwrap_err();
    assert!(matches!(
        err,
        FrameError::TooLarge {
            declared: 0x0100_0001,
            max: 0x0100_0000
        }
    ));
    assert_eq!(
        err.to_string(),
        "frame of 16777217 bytes exceeds the maximum of 16777216 bytes"
    );
}

#[test]
fn exactly_the_maximum_is_accepted() {
    let format = FrameFormat::default().with_max_frame(3).unwrap();
    let mut buf = BytesMut::from(&[0, 0, 0, 3, 1, 2, 3][..]);
    assert_eq!(&format.decode(&mut buf).unwrap().unwrap()[..], [1, 2, 3]);
}

#[test]
fn truncated_stream_of_each_kind() {
    let format = FrameFormat::default();
    for (bytes, missing) in [(&[0u8, 0][..], 2u64), (&[0, 0, 0, 3, 9][..], 2)] {
        match format.truncation(bytes) {
            Some(FrameError::Truncated { missing: m, .. }) => assert_eq!(m, missing),
            other => panic!("expected truncation, got {other:?}"),
        }
    }
}

/// A format whose maximum is as large as the length field allows: every length is legal,
/// so only arithmetic that cannot overflow and memory reserved as bytes arrive protect
/// the receiver.
fn widest_format() -> FrameFormat {
    FrameFormat::new(LengthWidth::U64, Endian::Big, u64::MAX).unwrap()
}

/// Bytes the decoder may hold for a frame whose first `arrived` bytes are here: what
/// arrived plus one reservation chunk, doubled for the buffer's amortised growth.
fn allowed_capacity(arrived: usize) -> usize {
    2 * (arrived + framing::frame::RESERVE_CHUNK)
}

#[test]
fn a_length_of_u64_max_under_the_widest_maximum_waits_instead_of_overflowing() {
    let mut buf = BytesMut::from(&[0xFF; 8][..]);
    buf.extend_from_slice(b"abc");
    assert_eq!(widest_format().decode(&mut buf).unwrap(), None);
    assert!(buf.capacity() <= allowed_capacity(11), "{}", buf.capacity());
    match widest_format().truncation(&buf) {
        Some(FrameError::Truncated { missing, .. }) => assert_eq!(missing, u64::MAX - 3),
        other => panic!("expected truncation, got {other:?}"),
    }
    let frames: Vec<_> = widest_format().frames(&buf).collect();
    assert!(matches!(frames[..], [Err(FrameError::Truncated { .. })]));
}

#[test]
fn a_large_declared_length_reserves_only_as_bytes_arrive() {
    // 1 GiB announced under a 1 TiB maximum: legal, but the peer has sent 8 bytes.
    let format = FrameFormat::new(LengthWidth::U64, Endian::Big, 1 << 40).unwrap();
    let mut buf = BytesMut::new();
    buf.extend_from_slice(&(1u64 << 30).to_be_bytes());
    assert_eq!(format.decode(&mut buf).unwrap(), None);
    assert!(buf.capacity() <= allowed_capacity(8), "{}", buf.capacity());
}

#[test]
fn the_blocking_reader_survives_a_lie_at_the_widest_maximum() {
    for declared in [u64::MAX, (1 << 40) - 1] {
        let mut capture = declared.to_be_bytes().to_vec();
        capture.extend_from_slice(b"payload");
        let mut reader = FrameReader::new(&capture[..], widest_format());
        let err = reader.read_frame().unwrap_err();
        assert!(
            matches!(err, FrameError::Truncated { missing, .. } if missing == declared - 7),
            "{err}"
        );
    }
}

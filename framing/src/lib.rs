//! # framing: bytes that heterogeneous machines agree on
//!
//! Two problems stand between a value in one process and the same value in another:
//!
//! 1. **Where does a message end?** TCP is a byte stream (`send(2)`/`recv(2)` keep no
//!    boundaries), so each message gets a length prefix: [`FrameFormat`], with a blocking
//!    API ([`FrameReader`], [`write_frame`]) and a tokio-util codec ([`FrameCodec`]) that
//!    share one decoding core.
//! 2. **What do the bytes mean?** A C program that `write(2)`s a struct sends its memory
//!    image: integers in *its* byte order (`htonl(3)` exists because of this), `long` as
//!    wide as *its* word, padding where *its* compiler chose. The [`Wire`] trait encodes
//!    each field explicitly under a [`Profile`] (byte order + word size), and [`record!`]
//!    derives it for a struct. Two classic strategies then let unlike machines talk:
//!    **canonical** ([`to_canonical`], like Sun XDR) and **labelled** ([`to_labelled`],
//!    "receiver makes right", like DCE/RPC NDR).
//!
//! Java programmers know the first as `DataOutputStream.writeInt(len); write(bytes)` and
//! the second as `ByteBuffer.order(ByteOrder.LITTLE_ENDIAN)`.
//!
//! ```
//! use framing::{FrameFormat, Profile, from_labelled, to_labelled};
//! use bytes::BytesMut;
//!
//! // A little-endian 64-bit sender labels its message; any receiver decodes it.
//! let message = to_labelled(&(42u32, framing::Long(-1)), Profile::LE64).unwrap();
//! let ((n, long), sender) = from_labelled::<(u32, framing::Long)>(message.clone()).unwrap();
//! assert_eq!((n, long.0, sender), (42, -1, Profile::LE64));
//!
//! // ...and a frame carries it over a stream.
//! let mut wire = BytesMut::new();
//! FrameFormat::default().encode(&message, &mut wire).unwrap();
//! assert_eq!(FrameFormat::default().decode(&mut wire).unwrap().unwrap(), message);
//! ```
//!
//! # Layout
//! - [`order`]: [`Endian`], the byte order chosen at run time (on `byteorder`).
//! - [`format`](mod@format): [`FrameFormat`]: length width, byte order, maximum frame.
//! - [`frame`]: the decoding core (incomplete, then valid) and the encoder.
//! - [`blocking`]: frames over `std::io::Read`/`Write`.
//! - [`codec`]: frames as a tokio-util `Decoder`/`Encoder` for `Framed`.
//! - [`error`]: [`FrameError`], what can go wrong with a frame.
//! - [`profile`]: [`Profile`] presets `be32`, `le32`, `be64`, `le64`, `network`.
//! - [`wire`]: the [`Wire`] trait and its encodings of numbers, words, strings, vectors.
//! - [`fixed`]: [`FixedStr`], C's `char name[N]`.
//! - [`record`](mod@record): [`record!`](crate::record!), fixed-layout structs.
//! - [`label`]: the canonical and labelled strategies and the 4-byte label.
//! - [`hexdump`]: dumps for people, plain and annotated.
//! - [`reference`](mod@reference): the reference record used by the demo and the golden vectors.
#![forbid(unsafe_code)]

pub mod blocking;
pub mod codec;
pub mod error;
pub mod fixed;
pub mod format;
pub mod frame;
pub mod hexdump;
pub mod label;
pub mod order;
pub mod profile;
pub mod record;
pub mod reference;
pub mod wire;

/// Re-exported so that [`record!`] expands without the caller depending on `bytes`.
pub use bytes;

pub use blocking::{FrameReader, write_frame};
pub use codec::FrameCodec;
pub use error::FrameError;
pub use fixed::FixedStr;
pub use format::{FormatError, FrameFormat, LengthWidth};
pub use frame::{Frames, Header};
pub use hexdump::{HexDump, annotated_dump, hex_bytes, hex_dump};
pub use label::{
    LABEL_LEN, LabelError, from_canonical, from_labelled, label_bytes, parse_label, to_canonical,
    to_labelled,
};
pub use order::Endian;
pub use profile::{Profile, WordSize};
pub use record::Record;
pub use reference::Shipment;
pub use wire::{Long, ULong, Wire, WireError, from_bytes, to_bytes};

//! The [`Wire`] trait: values with an explicit, machine-independent byte layout.
//!
//! Sending a C struct with `write(fd, &s, sizeof s)` sends its *memory image*: integers in
//! the sender's byte order, `long` as wide as the sender's word, padding wherever its
//! compiler put some. A receiver of another kind reads garbage. `Wire` instead encodes
//! each field on its own, in an order and width named by a [`Profile`], with no padding.
//!
//! | type                      | bytes on the wire                                          |
//! |---------------------------|------------------------------------------------------------|
//! | `u8` `i8` `bool`          | 1 (`bool`: 0 or 1, anything else is an error)              |
//! | `u16`..`u64`, `i16`..`i64`| 2, 4, 8 in the profile's byte order                        |
//! | `f32` `f64`               | IEEE 754 bits, 4 or 8, in the profile's byte order         |
//! | [`Long`] [`ULong`]        | 4 or 8 by the profile's word size, as C's `long`           |
//! | [`FixedStr<N>`][fixed]    | exactly N: UTF-8 then NUL padding (C's `char name[N]`)     |
//! | `String` `Bytes`          | u32 length (profile order), then the bytes                 |
//! | `Vec<T>`                  | u32 count, then each element                               |
//! | `Option<T>`               | 1-byte tag 0 (None) or 1 (Some), then T if present         |
//! | `Result<T, E>`            | 1-byte tag 0 (Ok, then T) or 1 (Err, then E)               |
//! | `[T; N]`, tuples, `()`    | the elements in order, no count                            |
//!
//! [fixed]: crate::FixedStr
//!
//! `usize` and `isize` deliberately have no encoding: their width depends on the machine.
//! Unlike XDR (RFC 4506) nothing is padded to 4-byte units.
//!
//! Decoding is two steps, as everywhere in this crate: enough bytes yet
//! ([`WireError::Incomplete`]), then valid (the other variants). A length prefix is never
//! trusted for allocation: a string or vector can only be as long as the bytes present.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::profile::{Profile, WordSize};

/// A value that can be written to and read from the wire under a [`Profile`].
///
/// ```
/// use framing::{Profile, Wire, to_bytes, from_bytes};
/// let bytes = to_bytes(&(7u16, String::from("hi")), Profile::LE32).unwrap();
/// assert_eq!(&bytes[..], b"\x07\x00\x02\x00\x00\x00hi");
/// let back: (u16, String) = from_bytes(bytes, Profile::LE32).unwrap();
/// assert_eq!(back, (7, "hi".to_string()));
/// ```
pub trait Wire: Sized {
    /// Appends the encoding of `self` under `profile` to `out`.
    fn encode(&self, out: &mut BytesMut, profile: Profile) -> Result<(), WireError>;

    /// Decodes one value from the front of `input`, consuming exactly its bytes.
    fn decode(input: &mut Bytes, profile: Profile) -> Result<Self, WireError>;
}

/// Why a value could not be encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Step 1 failed: the input ended before the value did.
    #[error("input ended inside {what}: {needed} bytes needed, {remaining} left")]
    Incomplete {
        /// What was being decoded.
        what: &'static str,
        /// Bytes it needed.
        needed: usize,
        /// Bytes that were left.
        remaining: usize,
    },
    /// A `bool` byte other than 0 or 1.
    #[error("invalid bool byte 0x{0:02x}: expected 0x00 or 0x01")]
    InvalidBool(u8),
    /// An `Option` tag other than 0 or 1.
    #[error("invalid option tag 0x{0:02x}: expected 0x00 or 0x01")]
    InvalidOptionTag(u8),
    /// A `Result` tag other than 0 or 1.
    #[error("invalid result tag 0x{0:02x}: expected 0x00 (ok) or 0x01 (err)")]
    InvalidResultTag(u8),
    /// A discriminant that names no variant of a user's enum (for hand-written `Wire`
    /// impls of enums: decode the tag, then match it).
    #[error("invalid {what} tag {tag}")]
    InvalidTag {
        /// Which enum was being decoded.
        what: &'static str,
        /// The tag that was read.
        tag: u32,
    },
    /// Text that is not UTF-8.
    #[error("{what} is not valid UTF-8")]
    InvalidUtf8 {
        /// Which kind of text.
        what: &'static str,
    },
    /// A machine word too large for a 32-bit profile's `long`.
    #[error("{value} does not fit in a {bits}-bit machine word")]
    WordOverflow {
        /// The value.
        value: i128,
        /// The profile's word width in bits.
        bits: u32,
    },
    /// A string longer than its fixed-width field.
    #[error("{len} bytes do not fit in a fixed field of {capacity} bytes")]
    FixedTooLong {
        /// The string's length in bytes.
        len: usize,
        /// The field's width.
        capacity: usize,
    },
    /// A NUL inside a fixed-width string: the receiver would cut the string there.
    #[error("a NUL byte inside a fixed-width string would cut it short at the receiver")]
    FixedNul,
    /// A string, byte string or vector longer than its 4-byte length prefix can say.
    #[error("{0} elements do not fit a 4-byte length prefix")]
    LengthOverflow(usize),
    /// Bytes left after a value that should have filled the whole input.
    #[error("{0} unexpected bytes after the value")]
    TrailingBytes(usize),
    /// A data representation label that cannot be read (labelled strategy).
    #[error("bad data representation label: {0}")]
    Label(#[from] crate::label::LabelError),
}

/// Encodes `value` under `profile` into a new buffer.
pub fn to_bytes<T: Wire>(value: &T, profile: Profile) -> Result<Bytes, WireError> {
    let mut out = BytesMut::new();
    value.encode(&mut out, profile)?;
    Ok(out.freeze())
}

/// Decodes a `T` that must fill all of `input`.
pub fn from_bytes<T: Wire>(mut input: Bytes, profile: Profile) -> Result<T, WireError> {
    let value = T::decode(&mut input, profile)?;
    match input.len() {
        0 => Ok(value),
        extra => Err(WireError::TrailingBytes(extra)),
    }
}

/// Step 1 for every decoder: are `n` bytes there?
pub(crate) fn need(input: &Bytes, n: usize, what: &'static str) -> Result<(), WireError> {
    if input.len() < n {
        return Err(WireError::Incomplete {
            what,
            needed: n,
            remaining: input.len(),
        });
    }
    Ok(())
}

/// Takes exactly `N` bytes off the front of `input`.
fn take_array<const N: usize>(input: &mut Bytes, what: &'static str) -> Result<[u8; N], WireError> {
    need(input, N, what)?;
    let mut out = [0u8; N];
    input.copy_to_slice(&mut out);
    Ok(out)
}

/// Integers and floats: the same value, the profile's byte order.
macro_rules! wire_number {
    ($($ty:ty),*) => {$(
        impl Wire for $ty {
            fn encode(&self, out: &mut BytesMut, profile: Profile) -> Result<(), WireError> {
                out.put_slice(&match profile.order {
                    crate::Endian::Big => self.to_be_bytes(),
                    crate::Endian::Little => self.to_le_bytes(),
                });
                Ok(())
            }

            fn decode(input: &mut Bytes, profile: Profile) -> Result<Self, WireError> {
                let raw = take_array(input, stringify!($ty))?;
                Ok(match profile.order {
                    crate::Endian::Big => <$ty>::from_be_bytes(raw),
                    crate::Endian::Little => <$ty>::from_le_bytes(raw),
                })
            }
        }
    )*};
}

wire_number!(u8, i8, u16, i16, u32, i32, u64, i64, f32, f64);

impl Wire for bool {
    fn encode(&self, out: &mut BytesMut, _: Profile) -> Result<(), WireError> {
        out.put_u8(u8::from(*self));
        Ok(())
    }

    fn decode(input: &mut Bytes, _: Profile) -> Result<Self, WireError> {
        match take_array::<1>(input, "bool")?[0] {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(WireError::InvalidBool(other)),
        }
    }
}

impl Wire for () {
    fn encode(&self, _: &mut BytesMut, _: Profile) -> Result<(), WireError> {
        Ok(())
    }

    fn decode(_: &mut Bytes, _: Profile) -> Result<Self, WireError> {
        Ok(())
    }
}

/// A signed machine word, C's `long`: 4 bytes under a 32-bit profile, 8 under a 64-bit one.
///
/// ```
/// use framing::{Long, Profile, to_bytes};
/// assert_eq!(to_bytes(&Long(-2), Profile::BE32).unwrap().len(), 4);
/// assert_eq!(to_bytes(&Long(-2), Profile::BE64).unwrap().len(), 8);
/// assert!(to_bytes(&Long(1 << 40), Profile::LE32).is_err()); // would lose bits
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Long(pub i64);

/// An unsigned machine word, C's `unsigned long`; see [`Long`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct ULong(pub u64);

fn word_overflow(value: i128, profile: Profile) -> WireError {
    WireError::WordOverflow {
        value,
        bits: profile.word.bits(),
    }
}

impl Wire for Long {
    fn encode(&self, out: &mut BytesMut, profile: Profile) -> Result<(), WireError> {
        match profile.word {
            WordSize::W64 => self.0.encode(out, profile),
            WordSize::W32 => i32::try_from(self.0)
                .map_err(|_| word_overflow(self.0.into(), profile))?
                .encode(out, profile),
        }
    }

    fn decode(input: &mut Bytes, profile: Profile) -> Result<Self, WireError> {
        Ok(Long(match profile.word {
            WordSize::W64 => i64::decode(input, profile)?,
            WordSize::W32 => i32::decode(input, profile)?.into(),
        }))
    }
}

impl Wire for ULong {
    fn encode(&self, out: &mut BytesMut, profile: Profile) -> Result<(), WireError> {
        match profile.word {
            WordSize::W64 => self.0.encode(out, profile),
            WordSize::W32 => u32::try_from(self.0)
                .map_err(|_| word_overflow(self.0.into(), profile))?
                .encode(out, profile),
        }
    }

    fn decode(input: &mut Bytes, profile: Profile) -> Result<Self, WireError> {
        Ok(ULong(match profile.word {
            WordSize::W64 => u64::decode(input, profile)?,
            WordSize::W32 => u32::decode(input, profile)?.into(),
        }))
    }
}

/// Writes a 4-byte length or count prefix.
fn encode_len(len: usize, out: &mut BytesMut, profile: Profile) -> Result<(), WireError> {
    u32::try_from(len)
        .map_err(|_| WireError::LengthOverflow(len))?
        .encode(out, profile)
}

/// Reads a 4-byte length and checks that many bytes are present.
fn decode_len_checked(
    input: &mut Bytes,
    profile: Profile,
    what: &'static str,
) -> Result<usize, WireError> {
    let len = u32::decode(input, profile)? as usize;
    need(input, len, what)?;
    Ok(len)
}

impl Wire for Bytes {
    fn encode(&self, out: &mut BytesMut, profile: Profile) -> Result<(), WireError> {
        encode_len(self.len(), out, profile)?;
        out.put_slice(self);
        Ok(())
    }

    /// Zero-copy: the result shares the input's memory.
    fn decode(input: &mut Bytes, profile: Profile) -> Result<Self, WireError> {
        let len = decode_len_checked(input, profile, "byte string")?;
        Ok(input.split_to(len))
    }
}

impl Wire for String {
    fn encode(&self, out: &mut BytesMut, profile: Profile) -> Result<(), WireError> {
        encode_len(self.len(), out, profile)?;
        out.put_slice(self.as_bytes());
        Ok(())
    }

    fn decode(input: &mut Bytes, profile: Profile) -> Result<Self, WireError> {
        let len = decode_len_checked(input, profile, "string")?;
        let text = std::str::from_utf8(&input[..len])
            .map_err(|_| WireError::InvalidUtf8 { what: "string" })?
            .to_owned();
        input.advance(len);
        Ok(text)
    }
}

impl<T: Wire> Wire for Vec<T> {
    fn encode(&self, out: &mut BytesMut, profile: Profile) -> Result<(), WireError> {
        encode_len(self.len(), out, profile)?;
        self.iter().try_for_each(|item| item.encode(out, profile))
    }

    fn decode(input: &mut Bytes, profile: Profile) -> Result<Self, WireError> {
        let count = u32::decode(input, profile)? as usize;
        // A lying count cannot make us allocate more than one slot per byte present.
        let mut items = Vec::with_capacity(count.min(input.len()));
        for _ in 0..count {
            items.push(T::decode(input, profile)?);
        }
        Ok(items)
    }
}

impl<T: Wire> Wire for Option<T> {
    fn encode(&self, out: &mut BytesMut, profile: Profile) -> Result<(), WireError> {
        match self {
            None => false.encode(out, profile),
            Some(value) => {
                true.encode(out, profile)?;
                value.encode(out, profile)
            }
        }
    }

    fn decode(input: &mut Bytes, profile: Profile) -> Result<Self, WireError> {
        match take_array::<1>(input, "option tag")?[0] {
            0 => Ok(None),
            1 => Ok(Some(T::decode(input, profile)?)),
            other => Err(WireError::InvalidOptionTag(other)),
        }
    }
}

impl<T: Wire, E: Wire> Wire for Result<T, E> {
    fn encode(&self, out: &mut BytesMut, profile: Profile) -> Result<(), WireError> {
        match self {
            Ok(value) => {
                out.put_u8(0);
                value.encode(out, profile)
            }
            Err(err) => {
                out.put_u8(1);
                err.encode(out, profile)
            }
        }
    }

    fn decode(input: &mut Bytes, profile: Profile) -> Result<Self, WireError> {
        match take_array::<1>(input, "result tag")?[0] {
            0 => Ok(Ok(T::decode(input, profile)?)),
            1 => Ok(Err(E::decode(input, profile)?)),
            other => Err(WireError::InvalidResultTag(other)),
        }
    }
}

impl<T: Wire, const N: usize> Wire for [T; N] {
    fn encode(&self, out: &mut BytesMut, profile: Profile) -> Result<(), WireError> {
        self.iter().try_for_each(|item| item.encode(out, profile))
    }

    fn decode(input: &mut Bytes, profile: Profile) -> Result<Self, WireError> {
        let mut items = Vec::with_capacity(N);
        for _ in 0..N {
            items.push(T::decode(input, profile)?);
        }
        // Exactly N were pushed, so the conversion cannot fail.
        items
            .try_into()
            .map_err(|_| unreachable!("an array decoder pushes exactly N items"))
    }
}

macro_rules! wire_tuple {
    ($($name:ident),+) => {
        impl<$($name: Wire),+> Wire for ($($name,)+) {
            #[allow(non_snake_case)]
            fn encode(&self, out: &mut BytesMut, profile: Profile) -> Result<(), WireError> {
                let ($($name,)+) = self;
                $($name.encode(out, profile)?;)+
                Ok(())
            }

            fn decode(input: &mut Bytes, profile: Profile) -> Result<Self, WireError> {
                Ok(($($name::decode(input, profile)?,)+))
            }
        }
    };
}

wire_tuple!(A);
wire_tuple!(A, B);
wire_tuple!(A, B, C);
wire_tuple!(A, B, C, D);
wire_tuple!(A, B, C, D, E);
wire_tuple!(A, B, C, D, E, F);

//! Fixed-width strings: C's `char name[16]`, the staple of old enterprise record layouts.
//!
//! ```text
//! FixedStr<8> "abc"  ->  61 62 63 00 00 00 00 00      (always exactly 8 bytes)
//! ```

use std::fmt;
use std::ops::Deref;

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::profile::Profile;
use crate::wire::{Wire, WireError, need};

/// A string that always takes exactly `N` bytes on the wire: its UTF-8 bytes, then NULs.
///
/// Decoding stops at the first NUL (as C's `strlen` does) and ignores what follows it.
///
/// ```
/// use framing::{FixedStr, Profile, to_bytes};
/// let name = FixedStr::<8>::new("abc").unwrap();
/// assert_eq!(&to_bytes(&name, Profile::BE32).unwrap()[..], b"abc\0\0\0\0\0");
/// assert!(FixedStr::<2>::new("abc").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct FixedStr<const N: usize>(String);

impl<const N: usize> FixedStr<N> {
    /// Checks that `text` fits in `N` bytes and has no NUL (which would end it early).
    pub fn new(text: &str) -> Result<Self, WireError> {
        Self::check(text)?;
        Ok(FixedStr(text.to_owned()))
    }

    /// The two rules a fixed-width string must keep to survive the trip.
    fn check(text: &str) -> Result<(), WireError> {
        if text.len() > N {
            return Err(WireError::FixedTooLong {
                len: text.len(),
                capacity: N,
            });
        }
        if text.contains('\0') {
            return Err(WireError::FixedNul);
        }
        Ok(())
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<const N: usize> Deref for FixedStr<N> {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl<const N: usize> fmt::Debug for FixedStr<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl<const N: usize> fmt::Display for FixedStr<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<const N: usize> Wire for FixedStr<N> {
    fn encode(&self, out: &mut BytesMut, _: Profile) -> Result<(), WireError> {
        // Checked again: the field is private, but a future constructor might forget.
        Self::check(&self.0)?;
        out.put_slice(self.0.as_bytes());
        out.put_bytes(0, N - self.0.len());
        Ok(())
    }

    fn decode(input: &mut Bytes, _: Profile) -> Result<Self, WireError> {
        need(input, N, "fixed-width string")?;
        let field = &input[..N];
        let end = field.iter().position(|&b| b == 0).unwrap_or(N);
        let text = std::str::from_utf8(&field[..end])
            .map_err(|_| WireError::InvalidUtf8 {
                what: "fixed-width string",
            })?
            .to_owned();
        input.advance(N);
        Ok(FixedStr(text))
    }
}

//! Fixed-layout records: a struct whose fields go on the wire one after another, in the
//! order written, each under the same [`Profile`]: the "4 bytes little-endian, then a
//! 16-byte string, ..." messages of the old enterprise protocols.
//!
//! [`record!`](crate::record!) declares the struct and derives [`Wire`] and [`Record`] for
//! it; there is no padding and no reordering, whatever a C compiler would have done.

use bytes::{Bytes, BytesMut};

use crate::profile::Profile;
use crate::wire::{Wire, WireError};

/// A record declared with [`record!`](crate::record!): a [`Wire`] type whose fields can be
/// shown one by one (annotated dumps, step-by-step decoding in the demo).
pub trait Record: Wire {
    /// The record's type name.
    const NAME: &'static str;
    /// The field names in wire order.
    const FIELD_NAMES: &'static [&'static str];

    /// Encodes each field on its own: `(name, bytes)` in wire order. Concatenated, the
    /// bytes equal the record's encoding.
    fn encode_fields(&self, profile: Profile) -> Result<Vec<(&'static str, Bytes)>, WireError>;

    /// Decodes field by field, rendering each with `Debug`, and stops after the first
    /// error: how the demo shows what a wrong reader makes of foreign bytes.
    fn trace_decode(
        input: &mut Bytes,
        profile: Profile,
    ) -> Vec<(&'static str, Result<String, WireError>)>;
}

/// Encodes one field on its own; used by [`record!`](crate::record!).
#[doc(hidden)]
pub fn encode_field<T: Wire>(value: &T, profile: Profile) -> Result<Bytes, WireError> {
    let mut out = BytesMut::new();
    value.encode(&mut out, profile)?;
    Ok(out.freeze())
}

/// Declares a struct whose fields go on the wire in the order written, and derives
/// [`Wire`] and [`Record`] for it.
///
/// ```
/// use framing::{FixedStr, Long, Profile, record, to_bytes};
/// record! {
///     /// An employee row as a 1990s payroll system sends it.
///     #[derive(Debug, Clone, PartialEq)]
///     pub struct Employee {
///         /// Staff number.
///         pub id: u32,
///         /// Name, NUL-padded to 8 bytes.
///         pub name: FixedStr<8>,
///         /// Salary in cents: C `long`, 4 or 8 bytes by machine.
///         pub salary: Long,
///     }
/// }
/// let e = Employee { id: 7, name: FixedStr::new("ada").unwrap(), salary: Long(90_000) };
/// assert_eq!(to_bytes(&e, Profile::BE32).unwrap().len(), 4 + 8 + 4);
/// assert_eq!(to_bytes(&e, Profile::LE64).unwrap().len(), 4 + 8 + 8);
/// ```
#[macro_export]
macro_rules! record {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $( $(#[$field_meta:meta])* $field_vis:vis $field:ident : $ty:ty ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis struct $name {
            $( $(#[$field_meta])* $field_vis $field: $ty, )+
        }

        impl $crate::Wire for $name {
            fn encode(
                &self,
                out: &mut $crate::bytes::BytesMut,
                profile: $crate::Profile,
            ) -> ::core::result::Result<(), $crate::WireError> {
                $( $crate::Wire::encode(&self.$field, out, profile)?; )+
                Ok(())
            }

            fn decode(
                input: &mut $crate::bytes::Bytes,
                profile: $crate::Profile,
            ) -> ::core::result::Result<Self, $crate::WireError> {
                // Struct expressions evaluate their fields in the order written.
                Ok($name { $( $field: <$ty as $crate::Wire>::decode(input, profile)?, )+ })
            }
        }

        impl $crate::Record for $name {
            const NAME: &'static str = stringify!($name);
            const FIELD_NAMES: &'static [&'static str] = &[$(stringify!($field)),+];

            fn encode_fields(
                &self,
                profile: $crate::Profile,
            ) -> ::core::result::Result<
                ::std::vec::Vec<(&'static str, $crate::bytes::Bytes)>,
                $crate::WireError,
            > {
                Ok(::std::vec![
                    $( (stringify!($field), $crate::record::encode_field(&self.$field, profile)?), )+
                ])
            }

            fn trace_decode(
                input: &mut $crate::bytes::Bytes,
                profile: $crate::Profile,
            ) -> ::std::vec::Vec<(&'static str, ::core::result::Result<::std::string::String, $crate::WireError>)> {
                let mut trace = ::std::vec::Vec::new();
                $(
                    match <$ty as $crate::Wire>::decode(input, profile) {
                        Ok(value) => trace.push((stringify!($field), Ok(format!("{value:?}")))),
                        Err(err) => {
                            trace.push((stringify!($field), Err(err)));
                            return trace;
                        }
                    }
                )+
                trace
            }
        }
    };
}

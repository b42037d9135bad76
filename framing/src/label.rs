//! The two classic cures for machines that disagree on data layout.
//!
//! **Canonical** (Sun XDR, RFC 4506; CORBA's network order in practice): everybody
//! converts to one agreed representation, here [`Profile::NETWORK`] (big-endian, 8-byte
//! words). One decoder serves every receiver; the price is that two little-endian
//! machines both swap every number, for nothing.
//!
//! **Labelled, "receiver makes right"** (DCE/RPC's NDR, DCOM): the sender writes in its
//! own representation and prefixes a small label declaring it; the receiver converts only
//! if it differs. Like machines never convert; the price is a 4-byte label and a receiver
//! that must read every representation there is.
//!
//! The label (specified in `framing/PROTOCOL.md`):
//! ```text
//!  byte 0        byte 1       byte 2               byte 3
//! +-------------+------------+--------------------+-------------------------+
//! | magic 0x4C  | version 01 | order 00=BE 01=LE  | word size 04 or 08      |
//! +-------------+------------+--------------------+-------------------------+
//! ```

use bytes::{BufMut, Bytes, BytesMut};

use crate::order::Endian;
use crate::profile::{Profile, WordSize};
use crate::wire::{Wire, WireError, from_bytes};

/// The label's first byte, ASCII `L`.
pub const LABEL_MAGIC: u8 = 0x4C;
/// The only label version defined.
pub const LABEL_VERSION: u8 = 1;
/// The label's length in bytes.
pub const LABEL_LEN: usize = 4;

/// A label that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LabelError {
    /// Fewer than [`LABEL_LEN`] bytes.
    #[error("{0} bytes, a label takes 4")]
    Incomplete(usize),
    /// The first byte is not [`LABEL_MAGIC`].
    #[error("magic byte 0x{0:02x}, expected 0x4c")]
    BadMagic(u8),
    /// A version this code does not know.
    #[error("version {0}, only version 1 is defined")]
    UnsupportedVersion(u8),
    /// A byte order code other than 0 or 1.
    #[error("byte order code 0x{0:02x}, expected 0x00 (big) or 0x01 (little)")]
    BadOrder(u8),
    /// A word size other than 4 or 8.
    #[error("word size {0}, expected 4 or 8")]
    BadWordSize(u8),
}

/// The 4-byte label declaring `profile`.
///
/// ```
/// use framing::{Profile, label_bytes};
/// assert_eq!(label_bytes(Profile::LE64), [0x4C, 0x01, 0x01, 0x08]);
/// ```
pub const fn label_bytes(profile: Profile) -> [u8; LABEL_LEN] {
    let order = match profile.order {
        Endian::Big => 0,
        Endian::Little => 1,
    };
    [
        LABEL_MAGIC,
        LABEL_VERSION,
        order,
        profile.word.bytes() as u8,
    ]
}

/// Reads the label at the front of `bytes`: enough bytes first, then each field valid.
pub fn parse_label(bytes: &[u8]) -> Result<Profile, LabelError> {
    let [magic, version, order, word] = match bytes.get(..LABEL_LEN) {
        Some(&[a, b, c, d]) => [a, b, c, d],
        _ => return Err(LabelError::Incomplete(bytes.len())),
    };
    if magic != LABEL_MAGIC {
        return Err(LabelError::BadMagic(magic));
    }
    if version != LABEL_VERSION {
        return Err(LabelError::UnsupportedVersion(version));
    }
    let order = match order {
        0 => Endian::Big,
        1 => Endian::Little,
        other => return Err(LabelError::BadOrder(other)),
    };
    let word = match word {
        4 => WordSize::W32,
        8 => WordSize::W64,
        other => return Err(LabelError::BadWordSize(other)),
    };
    Ok(Profile::new(order, word))
}

/// Labelled strategy, sender side: the label of `sender`, then `value` in `sender`'s own
/// representation (no conversion at all).
pub fn to_labelled<T: Wire>(value: &T, sender: Profile) -> Result<Bytes, WireError> {
    let mut out = BytesMut::new();
    out.put_slice(&label_bytes(sender));
    value.encode(&mut out, sender)?;
    Ok(out.freeze())
}

/// Labelled strategy, receiver side: reads the label, then decodes under the sender's
/// profile ("receiver makes right"). Returns the value and the sender's profile.
pub fn from_labelled<T: Wire>(mut message: Bytes) -> Result<(T, Profile), WireError> {
    let sender = parse_label(&message)?;
    let body = message.split_off(LABEL_LEN);
    Ok((from_bytes(body, sender)?, sender))
}

/// Canonical strategy, sender side: `value` converted to [`Profile::NETWORK`].
pub fn to_canonical<T: Wire>(value: &T) -> Result<Bytes, WireError> {
    crate::wire::to_bytes(value, Profile::NETWORK)
}

/// Canonical strategy, receiver side: decodes from [`Profile::NETWORK`].
pub fn from_canonical<T: Wire>(message: Bytes) -> Result<T, WireError> {
    from_bytes(message, Profile::NETWORK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_label_round_trips() {
        for (_, profile) in Profile::PRESETS {
            assert_eq!(parse_label(&label_bytes(profile)), Ok(profile));
        }
    }

    #[test]
    fn bad_labels_say_which_byte_is_wrong() {
        assert_eq!(parse_label(&[0x4C, 1]), Err(LabelError::Incomplete(2)));
        assert_eq!(parse_label(&[0x00, 1, 0, 4]), Err(LabelError::BadMagic(0)));
        assert_eq!(
            parse_label(&[0x4C, 2, 0, 4]),
            Err(LabelError::UnsupportedVersion(2))
        );
        assert_eq!(parse_label(&[0x4C, 1, 7, 4]), Err(LabelError::BadOrder(7)));
        assert_eq!(
            parse_label(&[0x4C, 1, 0, 2]),
            Err(LabelError::BadWordSize(2))
        );
    }

    #[test]
    fn a_labelled_message_decodes_whoever_sent_it() {
        let value = (0x0102_0304u32, crate::Long(-5));
        for (_, sender) in Profile::PRESETS {
            let message = to_labelled(&value, sender).unwrap();
            assert_eq!(from_labelled(message).unwrap(), (value, sender));
        }
    }
}

//! Byte order chosen at run time.
//!
//! A multi-byte integer has no single "right" layout in memory: a big-endian machine
//! (SPARC, PowerPC, the network) stores the most significant byte first, a little-endian
//! one (x86, most ARM set-ups) the least significant first. C's `htonl(3)`/`ntohl(3)` and
//! Java's `ByteBuffer.order` make the choice explicit; [`Endian`] does the same here, on
//! top of the `byteorder` crate, with the choice made at run time rather than in the type.
//!
//! ```text
//! 0x0A0B0C0D as u32      byte 0  byte 1  byte 2  byte 3
//! big-endian             0A      0B      0C      0D
//! little-endian          0D      0C      0B      0A
//! ```

use std::fmt;
use std::str::FromStr;

use byteorder::{BigEndian, ByteOrder, LittleEndian};

/// A byte order, chosen at run time.
///
/// ```
/// use framing::Endian;
/// let mut buf = [0u8; 4];
/// Endian::Big.write_uint(&mut buf, 0x0A0B_0C0D);
/// assert_eq!(buf, [0x0A, 0x0B, 0x0C, 0x0D]);
/// assert_eq!(Endian::Little.read_uint(&buf), 0x0D0C_0B0A);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endian {
    /// Most significant byte first: the network byte order (RFC 1700), Java's default.
    Big,
    /// Least significant byte first: x86 and most ARM systems.
    Little,
}

impl Endian {
    /// The network byte order, big-endian, as `htonl(3)` produces it.
    pub const NETWORK: Endian = Endian::Big;

    /// The byte order of the machine this program was compiled for.
    pub const fn native() -> Endian {
        if cfg!(target_endian = "big") {
            Endian::Big
        } else {
            Endian::Little
        }
    }

    /// Reads an unsigned integer of `bytes.len()` bytes (1 to 8) in this order.
    ///
    /// # Panics
    /// If `bytes` is empty or longer than 8: callers pass fixed widths, never peer data.
    pub fn read_uint(self, bytes: &[u8]) -> u64 {
        match self {
            Endian::Big => read_uint::<BigEndian>(bytes),
            Endian::Little => read_uint::<LittleEndian>(bytes),
        }
    }

    /// Writes `value` into all of `out` (1 to 8 bytes) in this order.
    ///
    /// # Panics
    /// If `value` does not fit in `out.len()` bytes; callers check first.
    pub fn write_uint(self, out: &mut [u8], value: u64) {
        match self {
            Endian::Big => write_uint::<BigEndian>(out, value),
            Endian::Little => write_uint::<LittleEndian>(out, value),
        }
    }

    /// The short name used on command lines and in dumps: `be` or `le`.
    pub const fn short_name(self) -> &'static str {
        match self {
            Endian::Big => "be",
            Endian::Little => "le",
        }
    }
}

impl fmt::Display for Endian {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Endian::Big => "big-endian",
            Endian::Little => "little-endian",
        })
    }
}

/// The common widths get byteorder's fixed-size loads (one instruction and a byte swap);
/// only odd widths take the general loop. This is the hot path of every frame header.
fn read_uint<B: ByteOrder>(bytes: &[u8]) -> u64 {
    match bytes.len() {
        1 => u64::from(bytes[0]),
        2 => u64::from(B::read_u16(bytes)),
        4 => u64::from(B::read_u32(bytes)),
        8 => B::read_u64(bytes),
        n => B::read_uint(bytes, n),
    }
}

/// The writing twin of [`read_uint`]; `value` must fit (checked by the caller).
fn write_uint<B: ByteOrder>(out: &mut [u8], value: u64) {
    match out.len() {
        1 => out[0] = value as u8,
        2 => B::write_u16(out, value as u16),
        4 => B::write_u32(out, value as u32),
        8 => B::write_u64(out, value),
        n => B::write_uint(out, value, n),
    }
}

/// The error for an unknown byte-order name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown byte order {0:?}: expected be, le, big, little, network or native")]
pub struct UnknownEndian(pub String);

impl FromStr for Endian {
    type Err = UnknownEndian;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "be" | "big" | "network" => Ok(Endian::Big),
            "le" | "little" => Ok(Endian::Little),
            "native" => Ok(Endian::native()),
            _ => Err(UnknownEndian(s.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_value_has_mirrored_bytes() {
        let (mut be, mut le) = ([0u8; 8], [0u8; 8]);
        Endian::Big.write_uint(&mut be, 0x0102_0304_0506_0708);
        Endian::Little.write_uint(&mut le, 0x0102_0304_0506_0708);
        assert_eq!(be, [1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(le, [8, 7, 6, 5, 4, 3, 2, 1]);
    }

    #[test]
    fn narrow_widths_round_trip() {
        for order in [Endian::Big, Endian::Little] {
            let mut two = [0u8; 2];
            order.write_uint(&mut two, 0xBEEF);
            assert_eq!(order.read_uint(&two), 0xBEEF);
        }
    }

    #[test]
    fn names_parse() {
        assert_eq!("BE".parse::<Endian>().unwrap(), Endian::Big);
        assert_eq!("little".parse::<Endian>().unwrap(), Endian::Little);
        assert_eq!("network".parse::<Endian>().unwrap(), Endian::NETWORK);
        assert!("middle".parse::<Endian>().is_err());
    }
}

//! Profiles of machines: what a C compiler on a given machine would do with a struct.
//!
//! Two facts decide how a C `struct` looks in memory, and so what `write(fd, &s,
//! sizeof s)` would put on the wire: the byte order of every integer, and how wide the
//! machine word (`long`, pointers) is. A [`Profile`] names both.
//!
//! | preset        | byte order    | `long` | typical machine                     |
//! |---------------|---------------|--------|-------------------------------------|
//! | `be32`        | big-endian    | 4 B    | SPARC v8, PowerPC 32, m68k          |
//! | `le32`        | little-endian | 4 B    | i386, ARMv7                         |
//! | `be64`        | big-endian    | 8 B    | SPARC v9, s390x                     |
//! | `le64`        | little-endian | 8 B    | x86-64 Linux, AArch64 Linux         |
//! | `network`     | big-endian    | 8 B    | the canonical wire form (XDR-like)  |

use std::fmt;
use std::str::FromStr;

use crate::order::Endian;

/// The width of a machine word (C's `long`) in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WordSize {
    /// 4-byte words: ILP32 machines, and 64-bit Windows (LLP64).
    W32,
    /// 8-byte words: LP64 Unix machines.
    W64,
}

impl WordSize {
    /// The width in bytes.
    pub const fn bytes(self) -> usize {
        match self {
            WordSize::W32 => 4,
            WordSize::W64 => 8,
        }
    }

    /// The width in bits.
    pub const fn bits(self) -> u32 {
        self.bytes() as u32 * 8
    }
}

/// A machine's data representation: byte order and word size.
///
/// ```
/// use framing::{Endian, Profile, WordSize};
/// assert_eq!(Profile::LE64, Profile::new(Endian::Little, WordSize::W64));
/// assert_eq!("be32".parse::<Profile>().unwrap(), Profile::BE32);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Profile {
    /// Byte order of every multi-byte number.
    pub order: Endian,
    /// Width of a machine word ([`Long`](crate::Long), [`ULong`](crate::ULong)).
    pub word: WordSize,
}

impl Profile {
    /// Big-endian, 4-byte words.
    pub const BE32: Profile = Profile::new(Endian::Big, WordSize::W32);
    /// Little-endian, 4-byte words.
    pub const LE32: Profile = Profile::new(Endian::Little, WordSize::W32);
    /// Big-endian, 8-byte words.
    pub const BE64: Profile = Profile::new(Endian::Big, WordSize::W64);
    /// Little-endian, 8-byte words.
    pub const LE64: Profile = Profile::new(Endian::Little, WordSize::W64);
    /// The canonical form every sender converts to in the canonical strategy: big-endian
    /// (network order) with 8-byte words, so no machine's `long` loses bits.
    pub const NETWORK: Profile = Profile::BE64;
    /// Every named preset, with its name, in a stable order.
    pub const PRESETS: [(&'static str, Profile); 5] = [
        ("be32", Profile::BE32),
        ("le32", Profile::LE32),
        ("be64", Profile::BE64),
        ("le64", Profile::LE64),
        ("network", Profile::NETWORK),
    ];

    /// A profile from its two parts.
    pub const fn new(order: Endian, word: WordSize) -> Profile {
        Profile { order, word }
    }

    /// The profile of the machine running this program.
    pub const fn native() -> Profile {
        let word = if cfg!(target_pointer_width = "32") {
            WordSize::W32
        } else {
            WordSize::W64
        };
        Profile::new(Endian::native(), word)
    }

    /// The short name: `be32`, `le32`, `be64` or `le64`.
    pub fn name(&self) -> String {
        format!("{}{}", self.order.short_name(), self.word.bits())
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// The error for an unknown profile name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown profile {0:?}: expected be32, le32, be64, le64, network or native")]
pub struct UnknownProfile(pub String);

impl FromStr for Profile {
    type Err = UnknownProfile;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.to_ascii_lowercase();
        if lower == "native" {
            return Ok(Profile::native());
        }
        Profile::PRESETS
            .iter()
            .find(|(name, _)| *name == lower)
            .map(|(_, profile)| *profile)
            .ok_or_else(|| UnknownProfile(s.to_owned()))
    }
}

//! The reference record: one value, used by `framing demo`, the golden-vector snapshots
//! and other languages' test clients, so that everybody checks the same bytes.
//!
//! Its fields are chosen to make layout differences visible: `id` shows byte order
//! (0x12345678), `weight_g` is a C `long` (4 or 8 bytes by word size), `items` is 0x0102.

use crate::fixed::FixedStr;
use crate::wire::{Long, WireError};

crate::record! {
    /// A shipment as a 1990s warehouse system sends it between its machines.
    #[derive(Debug, Clone, PartialEq)]
    pub struct Shipment {
        /// Shipment number; 0x12345678 shows the byte order at a glance.
        pub id: u32,
        /// Sending depot, C `char sender[8]`.
        pub sender: FixedStr<8>,
        /// Weight in grams, C `long`: 4 bytes on a 32-bit machine, 8 on a 64-bit one.
        pub weight_g: Long,
        /// Storage temperature in degrees Celsius, IEEE 754 single precision.
        pub temperature_c: f32,
        /// Handle with care.
        pub fragile: bool,
        /// Number of items; 258 = 0x0102.
        pub items: u16,
        /// Free text, length-prefixed.
        pub note: String,
    }
}

impl Shipment {
    /// The reference value.
    pub fn reference() -> Result<Shipment, WireError> {
        Ok(Shipment {
            id: 0x1234_5678,
            sender: FixedStr::new("depot-7")?,
            weight_g: Long(1_500_000),
            temperature_c: -18.5,
            fragile: true,
            items: 258,
            note: "keep frozen".to_owned(),
        })
    }
}

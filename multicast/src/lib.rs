//! multicast (in progress)
#![forbid(unsafe_code)]
pub mod chat;
pub mod error;
pub mod group;
pub mod interface;
pub mod membership;
pub mod socket;

pub use error::{MulticastError, Result};
pub use interface::NetworkInterface;
pub use socket::MulticastSocket;

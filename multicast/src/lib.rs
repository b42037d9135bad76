//! multicast (in progress)
#![forbid(unsafe_code)]
pub mod chat;
pub mod error;
pub mod group;
pub mod interface;
pub mod membership;

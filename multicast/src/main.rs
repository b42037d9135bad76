//! multicast CLI (in progress)
#![forbid(unsafe_code)]
fn main() {}

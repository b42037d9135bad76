//! `udp`: command-line front end (being written).
#![forbid(unsafe_code)]

fn main() {}

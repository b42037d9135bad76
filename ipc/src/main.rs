//! `ipc`: the command line of the ipc crate.
#![forbid(unsafe_code)]

fn main() {}

//! framing CLI (work in progress)
fn main() {}

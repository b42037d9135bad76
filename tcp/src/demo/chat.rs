//! The chat part of `tcp demo` (tcp-B writes this: a scripted chat of three members).

use std::io::Write;

use super::DemoResult;

/// Writes the chat part of the demo transcript to `out`.
pub fn run(_out: &mut dyn Write) -> DemoResult {
    Ok(())
}

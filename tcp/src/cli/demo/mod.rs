//! `tcp demo`: the servers and clients of the library, run in one process on loopback
//! ephemeral ports, printed as a readable transcript.
//!
//! # Layout
//! - [`echo`]: both echo servers, the same conversation with each.
//! - [`chat`]: a scripted chat of three members.

pub mod chat;
pub mod echo;

use std::io::Write;

/// What a demo part returns: any failure ends the demo with a message.
pub type DemoResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// Writes the whole demo transcript to `out`.
///
/// # Errors
/// If a server cannot start on loopback or a conversation fails.
pub fn write_transcript(out: &mut dyn Write) -> DemoResult {
    echo::run(out)?;
    chat::run(out)?;
    Ok(())
}

use anyhow::anyhow;

/// Runs the demo, writing the transcript to stdout.
pub fn run() -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    write_transcript(&mut out).map_err(|err| anyhow!("demo failed: {err}"))
}

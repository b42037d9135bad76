//! `tcp demo`.

use anyhow::anyhow;

/// Runs the demo, writing the transcript to stdout.
pub fn run() -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    tcp::demo::run(&mut out).map_err(|err| anyhow!("demo failed: {err}"))
}

//! `ipc demo`: every mechanism between real processes (this binary re-executed as the child),
//! printed as a transcript with no pids, paths that vary or timings, so it reads the same on
//! every run.

pub mod fifo;
pub mod mq;
pub mod pipes;
pub mod shm;
pub mod uds;

/// Runs each section in the order the README teaches them.
pub fn run() -> anyhow::Result<()> {
    pipes::run()?;
    println!();
    fifo::run()?;
    println!();
    uds::run()?;
    println!();
    shm::run()?;
    println!();
    mq::run()
}

/// A per-run name so concurrent demos and tests never meet: `ipc-demo-PID-WHAT`. Only used for
/// resources, never printed.
pub fn unique(what: &str) -> String {
    format!("ipc-demo-{}-{what}", std::process::id())
}

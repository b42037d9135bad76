//! `ipc shm-create | shm-write | shm-read | shm-unlink`: the shared-memory ring in terminals.
//!
//! ```text
//! ipc shm-create demo --capacity 8 --slot-bytes 64    # /dev/shm/demo, mode 0600
//! ipc shm-read demo                                   # terminal 1: prints messages as they come
//! ipc shm-write demo hello world                      # terminal 2: two messages
//! ipc shm-unlink demo
//! ```
//! Several writers and several readers may run at once: the ring is multi-producer,
//! multi-consumer, and each message is read by exactly one reader.

use std::io::{BufRead, Write};
use std::time::Duration;

use clap::{Args, ValueEnum};
use ipc::shm::{self, FullPolicy, Geometry, WaitError, WaitMode};

/// A segment name.
#[derive(Debug, Args)]
pub struct NameArg {
    /// Segment name, without the leading `/` (it lives at /dev/shm/NAME).
    pub name: String,
}

/// `shm-create` flags.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Segment name.
    pub name: String,
    /// Slots (a power of two).
    #[arg(long, default_value_t = 64)]
    pub capacity: u32,
    /// Payload bytes per slot (a multiple of 4).
    #[arg(long, default_value_t = 256)]
    pub slot_bytes: u32,
}

/// What to do when the ring is full.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Policy {
    /// Wait for a free slot, up to --timeout-ms.
    Block,
    /// Fail at once.
    Fail,
    /// Drop the oldest message.
    Overwrite,
}

/// `shm-write` flags.
#[derive(Debug, Args)]
pub struct WriteArgs {
    /// Segment name.
    pub name: String,
    /// Policy when every slot is taken.
    #[arg(long, value_enum, default_value_t = Policy::Block)]
    pub policy: Policy,
    /// Longest wait for a free slot with --policy block.
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    pub timeout_ms: u64,
    /// Busy-poll instead of sleeping on the futex.
    #[arg(long)]
    pub spin: bool,
    /// Messages; without them, each stdin line is one.
    pub messages: Vec<String>,
}

/// `shm-read` flags.
#[derive(Debug, Args)]
pub struct ReadArgs {
    /// Segment name.
    pub name: String,
    /// Stop after this many messages (without it: stop when none comes for --timeout-ms).
    #[arg(long)]
    pub count: Option<u64>,
    /// Longest wait for one message.
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    pub timeout_ms: u64,
    /// Busy-poll instead of sleeping on the futex.
    #[arg(long)]
    pub spin: bool,
}

/// Creates the segment.
pub fn create(args: CreateArgs) -> anyhow::Result<()> {
    let geometry = Geometry::new(args.capacity, args.slot_bytes)?;
    shm::create(&args.name, geometry)?;
    println!(
        "created /dev/shm/{}: {} slots of {} bytes, {} bytes in all, mode 0600",
        args.name,
        geometry.capacity,
        geometry.slot_bytes,
        geometry.segment_bytes()
    );
    Ok(())
}

/// Pushes each message under the chosen policy.
pub fn write(args: WriteArgs) -> anyhow::Result<()> {
    let ring = shm::open(&args.name)?;
    let policy = match args.policy {
        Policy::Block => FullPolicy::Block(Duration::from_millis(args.timeout_ms)),
        Policy::Fail => FullPolicy::Fail,
        Policy::Overwrite => FullPolicy::OverwriteOldest,
    };
    let mode = wait_mode(args.spin);
    let push = |message: &str| -> anyhow::Result<()> {
        let pushed = shm::wait::push(&ring, message.as_bytes(), policy, mode)?;
        if pushed.dropped > 0 {
            eprintln!("dropped {} oldest message(s) to make room", pushed.dropped);
        }
        Ok(())
    };
    if args.messages.is_empty() {
        for line in std::io::stdin().lock().lines() {
            push(&line?)?;
        }
    } else {
        args.messages.iter().try_for_each(|m| push(m))?;
    }
    Ok(())
}

/// Pops and prints messages, one per line.
pub fn read(args: ReadArgs) -> anyhow::Result<()> {
    let ring = shm::open(&args.name)?;
    let mut buf = vec![0u8; ring.geometry().slot_bytes as usize];
    let timeout = Duration::from_millis(args.timeout_ms);
    let mut out = std::io::stdout().lock();
    let mut received = 0u64;
    while args.count.is_none_or(|count| received < count) {
        match shm::wait::pop(&ring, &mut buf, timeout, wait_mode(args.spin)) {
            Ok(len) => writeln!(out, "{}", String::from_utf8_lossy(&buf[..len]))?,
            Err(WaitError::Timeout(_)) if args.count.is_none() => break,
            Err(err) => return Err(err.into()),
        }
        out.flush()?;
        received += 1;
    }
    Ok(())
}

/// Removes the segment.
pub fn unlink(args: NameArg) -> anyhow::Result<()> {
    Ok(shm::unlink(&args.name)?)
}

fn wait_mode(spin: bool) -> WaitMode {
    if spin {
        WaitMode::Spin
    } else {
        WaitMode::Block
    }
}

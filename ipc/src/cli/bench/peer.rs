//! `ipc child bench-peer`: the far end of one measurement: a sink that counts messages until the
//! stop marker and reports the count, an echo that sends every message back, or the reader of
//! a plain loop ([`super::raw_peer`]).

use clap::Args;

use super::mechs::{self, Mech};
use super::{DATA, READY, REPLY, STOP};

/// What the peer does with the messages.
#[derive(Debug, Args)]
pub struct PeerArgs {
    /// The mechanism.
    #[arg(long, value_enum)]
    pub mech: Mech,
    /// `sink` (count, then report), `echo`, or `raw` (the reader of a plain loop).
    #[arg(long)]
    pub role: String,
    /// Message size in bytes.
    #[arg(long)]
    pub size: usize,
    /// The directory, address or name the parent created.
    #[arg(long, default_value = "")]
    pub resource: String,
    /// Pin this process to one CPU.
    #[arg(long)]
    pub cpu: Option<usize>,
}

/// Runs the peer until the parent's stop marker.
pub fn run(args: PeerArgs) -> anyhow::Result<()> {
    if let Some(cpu) = args.cpu {
        super::pin_to_cpu(cpu);
    }
    if args.role == "raw" {
        return super::raw_peer::run(args.mech, args.size, &args.resource);
    }
    let mut link = mechs::attach(args.mech, args.size, &args.resource)?;
    let mut buf = vec![0u8; args.size];
    // Attached: the parent starts its clock only now, so process start-up is not measured.
    buf[0] = READY;
    link.send(&buf)?;
    if args.role == "echo" {
        return echo(&mut *link, &mut buf);
    }
    let mut count = 0u64;
    while !link.recv_counting(&mut buf, &mut count)? {}
    reply(&mut *link, count, args.size)
}

/// Sends every data message back until the stop marker.
fn echo(link: &mut dyn super::link::Link, buf: &mut [u8]) -> anyhow::Result<()> {
    loop {
        let n = link.recv(buf)?;
        match buf[0] {
            DATA => link.send(&buf[..n])?,
            STOP => return Ok(()),
            _ => {}
        }
    }
}

fn reply(link: &mut dyn super::link::Link, count: u64, size: usize) -> anyhow::Result<()> {
    let mut message = vec![0u8; size];
    message[0] = REPLY;
    message[1..9].copy_from_slice(&count.to_le_bytes());
    link.send(&message)?;
    Ok(())
}

//! The hidden `ipc child ...` subcommands: the other process of each demo, test and bench. The
//! parent hands it pipe or socket ends as stdin/stdout, or names and paths as arguments.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::AsFd;

use clap::Subcommand;

use super::bench::peer::PeerArgs;

/// Child roles.
#[derive(Debug, Subcommand)]
pub enum ChildCmd {
    /// Prints `--lines` lines on stdout, then exits (one-way pipe).
    Say {
        /// Lines to print.
        #[arg(long, default_value_t = 3)]
        lines: u32,
    },
    /// Answers each stdin line with `child: LINE` in capitals (duplex pipe, socketpair).
    Upper,
    /// Reads one stdin line, then exits without reading more (EPIPE for the writer).
    ReadOne,
    /// Writes `--count` records of `--size` bytes, each with ONE write(2) (PIPE_BUF test).
    Records {
        /// Writer id.
        #[arg(long)]
        id: u32,
        /// Records to write.
        #[arg(long)]
        count: u32,
        /// Bytes per record.
        #[arg(long)]
        size: usize,
    },
    /// The far end of one bench measurement.
    BenchPeer(PeerArgs),
}

/// Runs one child role.
pub fn run(cmd: ChildCmd) -> anyhow::Result<()> {
    match cmd {
        ChildCmd::Say { lines } => say(lines),
        ChildCmd::Upper => upper(),
        ChildCmd::ReadOne => read_one(),
        ChildCmd::Records { id, count, size } => records(id, count, size),
        ChildCmd::BenchPeer(args) => super::bench::peer::run(args),
    }
}

fn say(lines: u32) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    for i in 1..=lines {
        writeln!(out, "line {i} from the child")?;
    }
    Ok(())
}

fn upper() -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    for line in std::io::stdin().lock().lines() {
        writeln!(out, "child: {}", line?.to_uppercase())?;
        out.flush()?;
    }
    Ok(())
}

fn read_one() -> anyhow::Result<()> {
    let mut line = String::new();
    BufReader::new(std::io::stdin().lock()).read_line(&mut line)?;
    Ok(())
}

/// Std's `Stdout` is line-buffered and would split a record at a `\n` byte, so the records go
/// through a raw `File` on fd 1: one `write_all` of at most `PIPE_BUF` bytes is one `write(2)`.
fn records(id: u32, count: u32, size: usize) -> anyhow::Result<()> {
    let mut out = File::from(std::io::stdout().as_fd().try_clone_to_owned()?);
    for seq in 0..count {
        out.write_all(&ipc::pipe::record::encode(id, seq, size))?;
    }
    Ok(())
}

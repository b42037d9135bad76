//! `ipc fifo-read PATH` / `ipc fifo-write PATH [TEXT...]`: a named pipe in two terminals.
//!
//! Terminal 1: `ipc fifo-read /tmp/f` creates the FIFO (mode 0600), blocks in `open` until a
//! writer comes, prints what arrives until every writer has closed, then removes the name.
//! Terminal 2: `ipc fifo-write /tmp/f hello` or any shell: `echo hi > /tmp/f`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

/// `fifo-read` flags.
#[derive(Debug, Args)]
pub struct ReadArgs {
    /// Where to create the FIFO.
    pub path: PathBuf,
    /// Use an existing FIFO at PATH instead of creating one (it is then left in place).
    #[arg(long)]
    pub reuse: bool,
}

/// `fifo-write` flags.
#[derive(Debug, Args)]
pub struct WriteArgs {
    /// An existing FIFO.
    pub path: PathBuf,
    /// Fail at once (ENXIO) instead of waiting when no reader has the FIFO open.
    #[arg(long)]
    pub nonblocking: bool,
    /// Text to write as one line; without it, stdin is copied.
    pub text: Vec<String>,
}

/// Creates (unless `--reuse`), waits for a writer, copies to stdout until EOF.
pub fn read(args: ReadArgs) -> anyhow::Result<()> {
    if !args.reuse {
        ipc::fifo::create(&args.path)?;
    }
    eprintln!("waiting for a writer on {}", args.path.display());
    let copied = ipc::fifo::open_reader(&args.path).and_then(|mut fifo| {
        std::io::copy(&mut fifo, &mut std::io::stdout().lock())
            .map_err(|err| ipc::IpcError::io("read", err))
    });
    if !args.reuse {
        ipc::fifo::remove(&args.path)?;
    }
    copied?;
    Ok(())
}

/// Opens the write end (waiting for a reader unless `--nonblocking`) and writes.
pub fn write(args: WriteArgs) -> anyhow::Result<()> {
    let opened = if args.nonblocking {
        ipc::fifo::open_writer_nonblocking(&args.path)
    } else {
        ipc::fifo::open_writer(&args.path)
    };
    let mut fifo = match opened {
        Err(err) if ipc::fifo::is_no_reader(&err) => {
            return Err(err).context(support::cli::Hint(
                "no process has the FIFO open for reading: start `ipc fifo-read PATH` first",
            ));
        }
        other => other?,
    };
    if args.text.is_empty() {
        std::io::copy(&mut std::io::stdin().lock(), &mut fifo)?;
    } else {
        writeln!(fifo, "{}", args.text.join(" "))?;
    }
    Ok(())
}

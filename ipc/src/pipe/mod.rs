//! Ordinary pipes: a one-way byte stream between a parent and the child it starts.
//!
//! `pipe(2)` returns two file descriptors, a read end and a write end, over a kernel buffer
//! (64 KiB on Linux, see [`capacity`]). Nothing names a pipe, so only processes that inherit an end
//! can use it: the classic pattern is parent and child, the child getting an end as its stdin or
//! stdout. That is what Java's `ProcessBuilder` does with `Process.getInputStream()` and
//! `getOutputStream()`; `PipedInputStream` is the in-process toy version.
//!
//! The rules a learner must know, each shown by a function here and tested between processes:
//! - **One way.** Data flows from the write end to the read end; for two-way talk use two pipes
//!   ([`spawn_duplex`]).
//! - **EOF when the last writer closes.** `read` returns 0 only when *every* copy of the write end
//!   is closed, including the parent's own copy. `std::process::Command` keeps the `Stdio` it was
//!   given until the `Command` is dropped: forget that and the reader waits forever.
//! - **`EPIPE`/`SIGPIPE` when the reader is gone.** A write with no reader left raises `SIGPIPE`,
//!   whose default action kills the writer (that is how `yes | head -1` ends). Rust binaries start
//!   with `SIGPIPE` ignored, so the same write returns `EPIPE` (`io::ErrorKind::BrokenPipe`)
//!   instead; children started by `Command` get the default action back.
//! - **Writes of at most [`PIPE_BUF`] bytes are atomic**: with several writers on one pipe, such a
//!   write never interleaves with another ([`record`] checks exactly that). Larger writes may.
//!
//! System calls: `pipe2(2)` (with `O_CLOEXEC`), `write(2)`, `read(2)`, `fcntl(F_GETPIPE_SZ)`;
//! see `pipe(7)`.

pub mod record;

use std::fs::File;
use std::os::fd::AsFd;
use std::process::{Child, Command, Stdio};

use rustix::pipe::PipeFlags;

use crate::error::{OpContext, Result};

/// Writes of at most this many bytes to a pipe are atomic (`PIPE_BUF`, 4096 on Linux; POSIX
/// guarantees at least 512).
pub const PIPE_BUF: usize = rustix::pipe::PIPE_BUF;

/// Creates a pipe with `pipe2(O_CLOEXEC)`: `(read end, write end)`.
///
/// `O_CLOEXEC` keeps the ends from leaking into every program this process starts; an end meant
/// for a child is handed over explicitly as its stdin or stdout, which clears the flag on the copy.
pub fn pipe() -> Result<(File, File)> {
    let (reader, writer) = rustix::pipe::pipe_with(PipeFlags::CLOEXEC).op(|| "pipe2".into())?;
    Ok((File::from(reader), File::from(writer)))
}

/// The kernel buffer behind a pipe, `fcntl(F_GETPIPE_SZ)`: how much a writer may get ahead of
/// the reader before `write` blocks.
pub fn capacity(end: impl AsFd) -> Result<usize> {
    rustix::pipe::fcntl_getpipe_size(end).op(|| "fcntl(F_GETPIPE_SZ)".into())
}

/// Starts `cmd` with its stdout on a new pipe and returns the child and the read end.
///
/// The `Command` is consumed and dropped after `spawn`, because it holds the parent's copy of the
/// write end: while that copy lives, the read end never reports EOF.
pub fn spawn_reading_from(mut cmd: Command) -> Result<(Child, File)> {
    let (reader, writer) = pipe()?;
    cmd.stdout(Stdio::from(writer));
    let child = cmd
        .spawn()
        .op(|| format!("spawn {:?}", cmd.get_program()))?;
    drop(cmd);
    Ok((child, reader))
}

/// Starts `cmd` with two pipes, one per direction: returns the child, the end the parent writes
/// (the child's stdin) and the end the parent reads (the child's stdout).
pub fn spawn_duplex(mut cmd: Command) -> Result<(Child, File, File)> {
    let (child_stdin, to_child) = pipe()?;
    let (from_child, child_stdout) = pipe()?;
    cmd.stdin(Stdio::from(child_stdin))
        .stdout(Stdio::from(child_stdout));
    let child = cmd
        .spawn()
        .op(|| format!("spawn {:?}", cmd.get_program()))?;
    drop(cmd);
    Ok((child, to_child, from_child))
}

/// Starts every command with its stdout on ONE shared pipe: several writers, one reader.
/// Returns the children and the read end, which reports EOF once all of them have exited.
pub fn spawn_writers(cmds: Vec<Command>) -> Result<(Vec<Child>, File)> {
    let (reader, writer) = pipe()?;
    let mut children = Vec::with_capacity(cmds.len());
    for mut cmd in cmds {
        let end = writer.try_clone().op(|| "dup".into())?;
        cmd.stdout(Stdio::from(end));
        children.push(
            cmd.spawn()
                .op(|| format!("spawn {:?}", cmd.get_program()))?,
        );
    }
    drop(writer);
    Ok((children, reader))
}

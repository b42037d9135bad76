//! Demo: ordinary pipes between this process and a re-executed child.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};

use ipc::pipe::{self, PIPE_BUF, record};

use crate::cli::child_command;

/// Writers and records in the `PIPE_BUF` part.
const WRITERS: u32 = 4;
const RECORDS_PER_WRITER: u32 = 200;

/// One way, duplex, EPIPE, SIGPIPE, PIPE_BUF atomicity.
pub fn run() -> anyhow::Result<()> {
    println!("== ordinary pipes: pipe(2) between a parent and its child ==");
    one_way()?;
    duplex()?;
    reader_gone()?;
    sigpipe_default()?;
    atomic_records()
}

fn one_way() -> anyhow::Result<()> {
    println!("one way: the child's stdout is the pipe's write end");
    let (mut child, reader) = pipe::spawn_reading_from(child_command(&["say", "--lines", "3"])?)?;
    for line in BufReader::new(reader).lines() {
        println!("  parent read: {}", line?);
    }
    println!("  parent read: EOF (the last write end closed when the child exited)");
    child.wait()?;
    Ok(())
}

fn duplex() -> anyhow::Result<()> {
    println!("two pipes, full duplex: one for the child's stdin, one for its stdout");
    let (mut child, mut to_child, from_child) = pipe::spawn_duplex(child_command(&["upper"])?)?;
    let mut replies = BufReader::new(from_child).lines();
    for word in ["hello", "pipes are one-way"] {
        println!("  parent -> child: {word}");
        writeln!(to_child, "{word}")?;
        let reply = replies.next().transpose()?.unwrap_or_default();
        println!("  child -> parent: {reply}");
    }
    drop(to_child);
    child.wait()?;
    Ok(())
}

fn reader_gone() -> anyhow::Result<()> {
    println!("reader gone: the child reads one line and exits");
    let (child_stdin, mut writer) = pipe::pipe()?;
    let mut cmd = child_command(&["read-one"])?;
    cmd.stdin(Stdio::from(child_stdin));
    let mut child = cmd.spawn()?;
    drop(cmd);
    writeln!(writer, "first line")?;
    child.wait()?;
    match writer.write_all(b"second line\n") {
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => println!(
            "  parent write: EPIPE ({err}): Rust ignores SIGPIPE, so the write fails instead of killing us"
        ),
        other => println!("  parent write: unexpected {other:?}"),
    }
    Ok(())
}

fn sigpipe_default() -> anyhow::Result<()> {
    println!("the default action of SIGPIPE: `yes` writing into a pipe whose reader closes");
    let mut cmd = Command::new("yes");
    let Ok((mut yes, mut reader)) = pipe::spawn_reading_from({
        cmd.stderr(Stdio::null());
        cmd
    }) else {
        println!("  (skipped: `yes` not found; it is in coreutils)");
        return Ok(());
    };
    let mut first = [0u8; 2];
    reader.read_exact(&mut first)?;
    drop(reader);
    let status = yes.wait()?;
    match status.signal() {
        Some(signal) => println!("  yes was killed by signal {signal} (SIGPIPE)"),
        None => println!("  yes exited with {status}"),
    }
    Ok(())
}

fn atomic_records() -> anyhow::Result<()> {
    println!(
        "PIPE_BUF atomicity: {WRITERS} child writers share one pipe, {RECORDS_PER_WRITER} records of {PIPE_BUF} bytes each"
    );
    let tally = run_writers(WRITERS, RECORDS_PER_WRITER, PIPE_BUF)?;
    println!(
        "  reader: {} whole records, {} torn",
        tally.whole, tally.torn
    );
    Ok(())
}

/// Starts `writers` children writing `count` records of `size` bytes into one pipe; checks the
/// stream the reader gets.
pub fn run_writers(writers: u32, count: u32, size: usize) -> anyhow::Result<record::Tally> {
    let mut cmds = Vec::new();
    for id in 1..=writers {
        let (id, count, size) = (id.to_string(), count.to_string(), size.to_string());
        cmds.push(child_command(&[
            "records", "--id", &id, "--count", &count, "--size", &size,
        ])?);
    }
    let (children, mut reader) = pipe::spawn_writers(cmds)?;
    let mut stream = Vec::new();
    reader.read_to_end(&mut stream)?;
    for mut child in children {
        child.wait()?;
    }
    Ok(record::check_stream(&stream, size))
}

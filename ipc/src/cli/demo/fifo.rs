//! Demo: a named pipe between two processes that are not parent and child of each other's pipe.

use std::io::{BufRead, BufReader};

use crate::cli::self_command;

/// mkfifo, a writer process, the reader here, ENXIO without a reader, a stale path.
pub fn run() -> anyhow::Result<()> {
    println!("== named pipes: mkfifo(3), meeting by path ==");
    let dir = std::env::temp_dir().join(super::unique("fifo"));
    std::fs::create_dir(&dir)?;
    let path = dir.join("f");
    let result = show(&path);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn show(path: &std::path::Path) -> anyhow::Result<()> {
    ipc::fifo::create(path)?;
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(path)?.permissions());
    println!("created a FIFO, mode {:o}", mode & 0o777);
    match ipc::fifo::open_writer_nonblocking(path) {
        Err(err) if ipc::fifo::is_no_reader(&err) => {
            println!("non-blocking open for writing with no reader: ENXIO")
        }
        other => println!(
            "non-blocking open for writing: unexpected {:?}",
            other.map(|_| ())
        ),
    }
    let path_text = path.to_string_lossy();
    let mut child = self_command(&["fifo-write", &path_text, "hello through the FIFO"])?.spawn()?;
    println!("a writer process opens it (blocking until we open the read end)");
    let reader = ipc::fifo::open_reader(path)?;
    for line in BufReader::new(reader).lines() {
        println!("  reader got: {}", line?);
    }
    println!("  reader got: EOF (the writer closed)");
    child.wait()?;
    match ipc::fifo::create(path) {
        Err(err) => println!("creating it again: {}", redact(&err.to_string(), path)),
        Ok(()) => println!("creating it again: unexpectedly worked"),
    }
    Ok(())
}

/// Replaces the per-run path with `PATH`, keeping the transcript the same on every run.
pub fn redact(text: &str, path: &std::path::Path) -> String {
    text.replace(&*path.to_string_lossy(), "PATH")
}

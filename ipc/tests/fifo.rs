//! Named pipes: between processes, mode 0600, ENXIO, stale paths, wrong kinds.

mod common;

use std::io::{BufRead, BufReader};

use common::{TempDir, ipc, mode, run, stderr};
use ipc::fifo;

#[test]
fn fifo_read_and_fifo_write_meet_by_path() {
    let dir = TempDir::new("fifo");
    let path = dir.join("f");
    let path_text = path.to_string_lossy().to_string();
    let mut reader = ipc(&["fifo-read", &path_text])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut notice = String::new();
    BufReader::new(reader.stderr.take().unwrap())
        .read_line(&mut notice)
        .unwrap();
    assert!(notice.starts_with("waiting for a writer"), "{notice}");
    assert_eq!(mode(&path), 0o600);
    let write = run(&["fifo-write", &path_text, "hello", "fifo"]);
    assert!(write.status.success(), "{}", stderr(&write));
    let out = reader.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello fifo\n");
    assert!(!path.exists(), "the reader removes the FIFO it created");
}

#[test]
fn a_nonblocking_writer_without_reader_gets_enxio() {
    let dir = TempDir::new("fifo");
    let path = dir.join("f");
    fifo::create(&path).unwrap();
    let err = fifo::open_writer_nonblocking(&path).unwrap_err();
    assert!(fifo::is_no_reader(&err), "{err}");
    let out = run(&["fifo-write", "--nonblocking", &path.to_string_lossy(), "x"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("hint: no process has the FIFO open for reading"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_nonblocking_reader_opens_at_once_and_then_a_writer_can_too() {
    let dir = TempDir::new("fifo");
    let path = dir.join("f");
    fifo::create(&path).unwrap();
    let _reader = fifo::open_reader_nonblocking(&path).unwrap();
    fifo::open_writer_nonblocking(&path).expect("a reader exists now");
}

#[test]
fn an_existing_path_is_reported_with_the_command_that_removes_it() {
    let dir = TempDir::new("fifo");
    let path = dir.join("f");
    fifo::create(&path).unwrap();
    let out = run(&["fifo-read", &path.to_string_lossy()]);
    assert_eq!(out.status.code(), Some(1));
    let line = stderr(&out);
    assert!(line.starts_with("ipc: error: path "), "{line}");
    assert!(
        line.contains(&format!("hint: remove it with `rm {}`", path.display())),
        "{line}"
    );
}

#[test]
fn a_regular_file_is_not_taken_for_a_fifo() {
    let dir = TempDir::new("fifo");
    let path = dir.join("plain");
    std::fs::write(&path, "").unwrap();
    let err = fifo::open_writer(&path).unwrap_err();
    assert!(err.to_string().ends_with("is not a FIFO"), "{err}");
}

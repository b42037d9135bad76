//! Ordinary pipes between this test and the `ipc` binary as a child.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};

use common::ipc;
use ipc::pipe::{self, PIPE_BUF, record};

#[test]
fn one_way_pipe_ends_with_eof_when_the_child_exits() {
    let (mut child, reader) =
        pipe::spawn_reading_from(ipc(&["child", "say", "--lines", "4"])).unwrap();
    let lines: Vec<String> = BufReader::new(reader).lines().map(Result::unwrap).collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[3], "line 4 from the child");
    assert!(child.wait().unwrap().success());
}

#[test]
fn a_writer_copy_kept_by_the_parent_keeps_eof_away() {
    let (reader, writer) = pipe::pipe().unwrap();
    let kept = writer.try_clone().unwrap();
    let mut cmd = ipc(&["child", "say", "--lines", "1"]);
    cmd.stdout(Stdio::from(writer));
    let mut child = cmd.spawn().unwrap();
    drop(cmd);
    child.wait().unwrap();
    let mut reader = reader;
    rustix::fs::fcntl_setfl(&reader, rustix::fs::OFlags::NONBLOCK).unwrap();
    let mut all = Vec::new();
    let err = reader.read_to_end(&mut all).unwrap_err();
    assert_eq!(
        err.kind(),
        std::io::ErrorKind::WouldBlock,
        "no EOF while a write end is open"
    );
    drop(kept);
    // Blocking again: another test thread's fork may hold a copy for a moment until its exec.
    rustix::fs::fcntl_setfl(&reader, rustix::fs::OFlags::empty()).unwrap();
    assert_eq!(
        reader.read(&mut [0u8; 16]).unwrap(),
        0,
        "EOF once the last write end closed"
    );
}

#[test]
fn two_pipes_make_a_duplex_conversation() {
    let (mut child, mut to_child, from_child) =
        pipe::spawn_duplex(ipc(&["child", "upper"])).unwrap();
    let mut replies = BufReader::new(from_child).lines();
    for word in ["one", "two"] {
        writeln!(to_child, "{word}").unwrap();
        let reply = replies.next().unwrap().unwrap();
        assert_eq!(reply, format!("child: {}", word.to_uppercase()));
    }
    drop(to_child);
    assert!(replies.next().is_none());
    assert!(child.wait().unwrap().success());
}

#[test]
fn writing_after_the_reader_exited_is_epipe_in_rust() {
    let (child_stdin, mut writer) = pipe::pipe().unwrap();
    let mut cmd = ipc(&["child", "read-one"]);
    cmd.stdin(Stdio::from(child_stdin));
    let mut child = cmd.spawn().unwrap();
    drop(cmd);
    writeln!(writer, "first").unwrap();
    child.wait().unwrap();
    let err = writer.write_all(b"second\n").unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::BrokenPipe);
}

#[test]
fn sigpipe_kills_a_writer_with_the_default_action() {
    support::skip_unless!(support::require::command(
        "yes",
        "it is in coreutils: apt-get install coreutils"
    ));
    let (mut yes, mut reader) = pipe::spawn_reading_from(Command::new("yes")).unwrap();
    let mut some = [0u8; 4];
    reader.read_exact(&mut some).unwrap();
    drop(reader);
    assert_eq!(yes.wait().unwrap().signal(), Some(13), "killed by SIGPIPE");
}

fn writers(count: u32, records: u32, size: usize) -> record::Tally {
    let cmds = (1..=count)
        .map(|id| {
            let (id, n, size) = (id.to_string(), records.to_string(), size.to_string());
            ipc(&[
                "child", "records", "--id", &id, "--count", &n, "--size", &size,
            ])
        })
        .collect();
    let (children, mut reader) = pipe::spawn_writers(cmds).unwrap();
    let mut stream = Vec::new();
    reader.read_to_end(&mut stream).unwrap();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    record::check_stream(&stream, size)
}

#[test]
fn writes_of_pipe_buf_bytes_from_several_writers_never_interleave() {
    let tally = writers(4, 400, PIPE_BUF);
    assert_eq!(
        tally,
        record::Tally {
            whole: 1600,
            torn: 0,
            trailing: 0
        }
    );
}

#[test]
fn small_records_from_many_writers_stay_whole() {
    let tally = writers(8, 500, 100);
    assert_eq!(
        tally,
        record::Tally {
            whole: 4000,
            torn: 0,
            trailing: 0
        }
    );
}

#[test]
fn the_pipe_buffer_is_64_kib_by_default() {
    let (reader, _writer) = pipe::pipe().unwrap();
    assert_eq!(pipe::capacity(&reader).unwrap(), 65536);
}

//! The `framing` binary as a user runs it: help texts, the demo, and `inspect` on good
//! and bad captures (exit codes included).

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn framing(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_framing"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the framing binary runs");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn help_texts() {
    for args in [
        &["--help"][..],
        &["demo", "--help"],
        &["inspect", "--help"],
        &["bench", "--help"],
    ] {
        let out = framing(args, b"");
        assert!(out.status.success());
        insta::assert_snapshot!(
            format!("help_{}", args.join("_").replace("--", "")),
            text(&out.stdout)
        );
    }
}

#[test]
fn demo_runs_and_matches_its_snapshot() {
    let out = framing(&["demo"], b"");
    assert!(out.status.success(), "{}", text(&out.stderr));
    insta::assert_snapshot!(text(&out.stdout));
}

#[test]
fn inspect_reads_stdin() {
    let out = framing(&["inspect"], b"\0\0\0\x05hello\0\0\0\0");
    assert!(out.status.success());
    assert!(text(&out.stdout).ends_with("2 frames, 13 bytes\n"));
}

#[test]
fn inspect_with_little_endian_two_byte_lengths() {
    let out = framing(
        &["inspect", "--length-width", "2", "--order", "le", "-"],
        b"\x02\x00hi",
    );
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("frame 0  offset 0  length 2"));
}

#[test]
fn inspect_truncated_capture_prints_whole_frames_then_exits_1() {
    let out = framing(&["inspect"], b"\0\0\0\x02hi\0\0\0\x09abc");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("frame 0  offset 0  length 2"));
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "one clear line: {err}");
    assert!(err.contains("6 more bytes were expected"), "{err}");
}

#[test]
fn inspect_oversized_length_exits_1() {
    let out = framing(&["inspect", "--max", "10"], b"\0\0\0\x0bhello world");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("frame of 11 bytes exceeds the maximum of 10 bytes"));
}

#[test]
fn usage_errors_exit_2() {
    let out = framing(&["inspect", "--length-width", "3"], b"");
    assert_eq!(out.status.code(), Some(2), "a bad width is a usage mistake");
    assert_eq!(
        text(&out.stderr).trim(),
        "framing: error: length width must be 1, 2, 4 or 8 bytes, not 3"
    );
    let out = framing(&["inspect", "--order", "middle"], b"");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(text(&out.stderr).trim().lines().count(), 1, "one line");
    let out = framing(&["inspect", "--length-width", "1", "--max", "300"], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("cannot be expressed in a 1-byte length field"));
}

#[test]
fn missing_file_is_one_clear_line() {
    let out = framing(&["inspect", "no/such/capture.bin"], b"");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr).trim(),
        "framing: error: cannot open no/such/capture.bin: No such file or directory (os error 2)"
    );
}

#[test]
fn inspect_a_lie_under_the_widest_maximum_is_a_truncation_not_a_panic() {
    // `header_len() + len` must not overflow, nor the whole length be reserved up front.
    for max in ["18446744073709551615", "1099511627776"] {
        let mut capture = vec![0xFF; 8];
        if max != "18446744073709551615" {
            capture = (1u64 << 40).to_be_bytes().to_vec();
        }
        capture.extend_from_slice(b"hello");
        let out = framing(&["inspect", "--length-width", "8", "--max", max], &capture);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        let err = text(&out.stderr);
        assert_eq!(err.lines().count(), 1, "one clear line: {err}");
        assert!(err.contains("more bytes were expected"), "{err}");
    }
}

//! `framing` as a user runs it: `inspect` splits a captured byte stream into frames, from a
//! file or stdin, and rejects a lying length with exit 1 and one line on stderr.

use suite_tests::process::run;

#[test]
fn inspect_counts_frames_from_stdin() {
    let (code, stdout, stderr) = run("framing", &["inspect"], b"\0\0\0\x05hello\0\0\0\0");
    assert_eq!(code, Some(0), "{stderr}");
    let text = String::from_utf8_lossy(&stdout);
    assert!(text.contains("hello"), "{text}");
    assert!(text.trim_end().ends_with("2 frames, 13 bytes"), "{text}");
}

#[test]
fn inspect_rejects_a_length_above_the_maximum_without_panicking() {
    let (code, _, stderr) = run(
        "framing",
        &["inspect", "--max", "16"],
        b"\x7f\xff\xff\xffxyz",
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "one line on stderr: {stderr}"
    );
}

#[test]
fn unknown_subcommand_is_a_usage_error() {
    let (code, _, stderr) = run("framing", &["no-such-command"], b"");
    assert_eq!(code, Some(2), "{stderr}");
}

//! CONVENTIONS promises that the default frame is "the same bytes Java's
//! `DataOutputStream.writeInt(n); write(bytes)` produces". Here a real Java program
//! (`tests/java/Frames.java`) writes three frames and `framing inspect` reads them back.
//! Skipped, with one visible line, where no `java` (JDK 11+) is installed.

use std::process::Command;

use suite_tests::process::run;

/// What `Frames.java` writes, byte for byte: be32 length, then UTF-8.
const EXPECTED: &[u8] = b"\x00\x00\x00\x05hello\x00\x00\x00\x00\x00\x00\x00\x0dcaf\xc3\xa9 au lait";

/// Runs `java Frames.java` and returns its stdout, or why it could not run.
fn java_frames() -> Result<Vec<u8>, String> {
    let source = concat!(env!("CARGO_MANIFEST_DIR"), "/java/Frames.java");
    let out = Command::new("java")
        .arg(source)
        .output()
        .map_err(|e| format!("cannot run java: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "java failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(out.stdout)
}

#[test]
fn framing_reads_what_javas_data_output_stream_writes() {
    support::skip_unless!(support::require::command(
        "java",
        "a JDK 11 or later: apt-get install openjdk-17-jdk-headless"
    ));
    let bytes = java_frames().unwrap_or_else(|why| panic!("{why}"));
    assert_eq!(bytes, EXPECTED, "Java's bytes");
    let (code, stdout, stderr) = run("framing", &["inspect"], &bytes);
    assert_eq!(code, Some(0), "{stderr}");
    let text = String::from_utf8(stdout).expect("UTF-8 dump");
    insta::assert_snapshot!("java_frames_inspected", text);
}

//! A capture becomes a regression test in two commands, as `tests/README.md` shows: record
//! (here with `proxy tcp --pcap`; `tcpdump -w` between two machines works the same), then
//! `proxy pcap-to-transcript CAPTURE OUT.tr --server CMD`; the result replays against a fresh
//! server like every file in `tests/transcripts/`.

use suite_tests::Server;
use suite_tests::process::run;
use suite_tests::replay::{Recorded, replay};

fn scratch(name: &str) -> String {
    std::env::temp_dir()
        .join(format!("suite-tests-{name}-{}", std::process::id()))
        .to_string_lossy()
        .into_owned()
}

#[test]
fn a_captured_echo_session_converts_and_replays() {
    let capture = scratch("echo.pcap");
    let transcript = scratch("echo.tr");
    let mut echo = Server::start("tcp", &["echo-server", "--bind", "127.0.0.1:0"]);
    let mut proxy = Server::start(
        "proxy",
        &[
            "tcp",
            "--listen",
            "127.0.0.1:0",
            "--to",
            &echo.addr_arg(),
            "--pcap",
            &capture,
        ],
    );
    let (code, stdout, stderr) = run(
        "tcp",
        &["echo-client", &proxy.addr_arg()],
        b"captured\nand replayed\n",
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout, b"captured\nand replayed\n");
    proxy.stop();
    echo.stop();

    let (code, _, stderr) = run(
        "proxy",
        &[
            "pcap-to-transcript",
            &capture,
            &transcript,
            "--server",
            "tcp echo-server",
        ],
        b"",
    );
    // The same capture under a memory limit it crosses: refused in one line, no file left.
    let small = scratch("echo-small.tr");
    let (small_code, _, small_err) = run(
        "proxy",
        &["pcap-to-transcript", &capture, &small, "--max-bytes", "200"],
        b"",
    );
    let _ = std::fs::remove_file(&capture);
    assert_eq!(small_code, Some(1), "{small_err}");
    assert_eq!(small_err.lines().count(), 1, "{small_err}");
    assert!(small_err.contains("more than 200 bytes"), "{small_err}");
    assert!(!std::path::Path::new(&small).exists());
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.starts_with("converted tcp 127.0.0.1:"), "{stderr}");
    let text = std::fs::read_to_string(&transcript).unwrap();
    let _ = std::fs::remove_file(&transcript);
    let recorded = Recorded::parse(&text).unwrap();
    assert_eq!(recorded.server, ["tcp", "echo-server"]);

    let mut fresh = Server::start("tcp", &["echo-server", "--bind", "127.0.0.1:0"]);
    let report = replay(&recorded.transcript, recorded.transport, fresh.addr())
        .unwrap_or_else(|e| fresh.fail(&format!("replaying the converted capture: {e}")));
    assert_eq!(
        report.checked,
        b"captured\nand replayed\n".len() as u64,
        "{report:?}"
    );
    fresh.stop();
}

#[test]
fn a_capture_that_cannot_be_converted_is_one_error_line_and_no_file() {
    let capture = scratch("garbage.pcap");
    let transcript = scratch("garbage.tr");
    std::fs::write(&capture, b"this is not a capture").unwrap();
    let (code, _, stderr) = run("proxy", &["pcap-to-transcript", &capture, &transcript], b"");
    let _ = std::fs::remove_file(&capture);
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("not a readable pcap file"), "{stderr}");
    assert!(
        !std::path::Path::new(&transcript).exists(),
        "a half-written transcript was left"
    );
}

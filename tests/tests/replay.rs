//! Every recorded session in `tests/transcripts/` replayed against a fresh server, byte for byte;
//! and proof that the replayer fails when the server's bytes differ.
//!
//! Adding a regression test is adding a file: record it with `proxy tcp --record` or
//! `proxy udp --record`, add the `# server:` and `# transport:` lines (see `tests/README.md`),
//! drop it in `tests/transcripts/`. This test picks up every `*.tr` file there.

use std::path::PathBuf;

use proxy::transcript::{Direction, Record, Transcript};
use suite_tests::Server;
use suite_tests::replay::{Recorded, ReplayError, Transport, replay};

/// The sessions the suite promises to keep (issue: echo, a three-member chat, rpc-lite from both
/// byte orders over TCP and UDP). A missing file fails here rather than shrinking the test.
const REQUIRED: &[&str] = &[
    "tcp_echo_blocking.tr",
    "tcp_echo_async.tr",
    "tcp_chat_three.tr",
    "udp_echo.tr",
    "udp_quote.tr",
    "rpc_tcp_be32.tr",
    "rpc_tcp_le64.tr",
    "rpc_udp_be32.tr",
    "rpc_udp_le64.tr",
];

fn transcripts_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("transcripts")
}

fn load(name: &str) -> Recorded {
    let path = transcripts_dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {name}: {e}"));
    Recorded::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Starts the recorded server command on `127.0.0.1:0`.
fn start_server(recorded: &Recorded) -> Server {
    let (bin, rest) = recorded.server.split_first().expect("a server command");
    let mut args: Vec<&str> = rest.iter().map(String::as_str).collect();
    args.extend(["--bind", "127.0.0.1:0"]);
    Server::start(bin, &args)
}

#[test]
fn the_promised_sessions_are_recorded() {
    for name in REQUIRED {
        let recorded = load(name);
        assert!(
            !recorded.transcript.connections().is_empty(),
            "{name} holds a session"
        );
    }
}

#[test]
fn every_recorded_session_replays_byte_for_byte() {
    let mut names: Vec<String> = std::fs::read_dir(transcripts_dir())
        .expect("tests/transcripts exists")
        .map(|entry| {
            entry
                .expect("a directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name.ends_with(".tr"))
        .collect();
    names.sort();
    assert!(
        names.len() >= REQUIRED.len(),
        "transcripts found: {names:?}"
    );
    // Each session on its own, so one regression does not hide the others' results.
    let mut failed = Vec::new();
    for name in names {
        let checked = std::panic::catch_unwind(|| {
            let recorded = load(&name);
            let mut server = start_server(&recorded);
            let report = replay(&recorded.transcript, recorded.transport, server.addr())
                .unwrap_or_else(|e| server.fail(&format!("replaying {name}: {e}")));
            assert!(report.sent > 0 && report.checked > 0, "{name}: {report:?}");
            server.stop();
        });
        if checked.is_err() {
            failed.push(name);
        }
    }
    assert!(
        failed.is_empty(),
        "sessions that no longer replay (details above): {failed:?}"
    );
}

/// Flips one bit of the first server byte: the replay must report a mismatch at that offset.
fn with_one_server_byte_changed(transcript: &Transcript) -> Transcript {
    let mut changed = transcript.clone();
    let first = changed.records.iter_mut().find_map(|record| match record {
        Record::Data {
            dir: Direction::ServerToClient,
            bytes,
            ..
        } if !bytes.is_empty() => Some(bytes),
        _ => None,
    });
    first.expect("the session has server bytes")[0] ^= 0x01;
    changed
}

#[test]
fn a_changed_server_byte_fails_the_replay_over_tcp_and_udp() {
    for name in ["tcp_chat_three.tr", "udp_echo.tr"] {
        let recorded = load(name);
        let mut server = start_server(&recorded);
        let tampered = with_one_server_byte_changed(&recorded.transcript);
        match replay(&tampered, recorded.transport, server.addr()) {
            Err(ReplayError::Mismatch {
                conn: 1, offset: 0, ..
            }) => {}
            other => panic!("{name}: expected a mismatch at connection 1 offset 0, got {other:?}"),
        }
        server.stop();
    }
}

#[test]
fn server_bytes_beyond_the_recording_fail_the_replay() {
    // The recording claims the echo server sent back only "hell" before closing.
    let text = "# transcript v1\n\
        [1] open\n\
        [1] client>server offset 0 len 6\n  00000000  68 65 6c 6c 6f 0a |hello.|\n\
        [1] client>server offset 6 eof\n\
        [1] server>client offset 0 len 4\n  00000000  68 65 6c 6c |hell|\n\
        [1] server>client offset 4 eof\n\
        [1] close\n";
    let transcript = Transcript::parse(text).expect("a valid transcript");
    let mut server = Server::start("tcp", &["echo-server", "--bind", "127.0.0.1:0"]);
    match replay(&transcript, Transport::Tcp, server.addr()) {
        Err(ReplayError::ExtraBytes { conn: 1, got }) => assert_eq!(got, b"o\n"),
        other => panic!("expected the extra bytes to be reported, got {other:?}"),
    }
    server.stop();
}

#[test]
fn a_transcript_without_its_server_line_is_refused() {
    let text = "# transcript v1\n# transport: tcp\n[1] open\n[1] close\n";
    assert!(matches!(
        Recorded::parse(text),
        Err(suite_tests::replay::LoadError::NoServer)
    ));
    let text = "# transcript v1\n# server: tcp echo-server\n[1] open\n";
    assert!(matches!(
        Recorded::parse(text),
        Err(suite_tests::replay::LoadError::NoTransport)
    ));
}

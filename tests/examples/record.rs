//! Records the suite's regression transcripts by running the real proxies between real
//! clients and servers, the way a user would by hand in three terminals.
//!
//! For each session: start the server on `127.0.0.1:0`, start `proxy tcp --record FILE` (or
//! `proxy udp --record FILE`) in front of it, drive the suite's own client programs through
//! the proxy, stop the proxy and the server with SIGTERM, then add the two metadata lines
//! (`# server:`, `# transport:`) the replayer needs and write `tests/transcripts/NAME.tr`.
//!
//! ```text
//! cargo build --workspace
//! cargo run -p suite-tests --example record            # all sessions into tests/transcripts/
//! cargo run -p suite-tests --example record -- OUT chat_three   # one session into OUT/
//! ```
//! Then read the files (`git diff tests/transcripts`), and commit them if they are what you meant.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use suite_tests::process::run;
use suite_tests::replay::{Recorded, Transport};
use suite_tests::{Proc, Server};

/// One session to record.
struct Session {
    /// File name in the transcripts directory.
    file: &'static str,
    /// Free comment written at the top of the file.
    note: &'static str,
    transport: Transport,
    /// The server: binary, then arguments (`--bind 127.0.0.1:0` is added).
    server: &'static [&'static str],
    /// Plays the client side against the proxy's address.
    drive: fn(SocketAddr),
}

const SESSIONS: &[Session] = &[
    Session {
        file: "tcp_echo_blocking.tr",
        note: "tcp echo-client sends two lines to the blocking echo server, then half-closes",
        transport: Transport::Tcp,
        server: &["tcp", "echo-server", "--mode", "blocking"],
        drive: tcp_echo,
    },
    Session {
        file: "tcp_echo_async.tr",
        note: "tcp echo-client sends two lines to the async echo server, then half-closes",
        transport: Transport::Tcp,
        server: &["tcp", "echo-server", "--mode", "async"],
        drive: tcp_echo,
    },
    Session {
        file: "tcp_chat_three.tr",
        note: "three tcp chat-clients (alice, bob, carol): joins, messages, /who, /quit, end of input",
        transport: Transport::Tcp,
        server: &["tcp", "chat-server"],
        drive: chat_three,
    },
    Session {
        file: "udp_echo.tr",
        note: "udp echo-client sends three lines, one datagram each",
        transport: Transport::Udp,
        server: &["udp", "echo-server"],
        drive: udp_echo,
    },
    Session {
        file: "udp_quote.tr",
        note: "udp quote-client asks for three quotes, one request datagram each",
        transport: Transport::Udp,
        server: &["udp", "quote-server"],
        drive: udp_quote,
    },
    Session {
        file: "rpc_tcp_be32.tr",
        note: "rpc-lite calls over TCP from a client writing the be32 profile (big-endian, 32-bit)",
        transport: Transport::Tcp,
        server: &["rpc-lite", "serve", "--transport", "tcp"],
        drive: |proxy| rpc_calls(proxy, "tcp", "be32"),
    },
    Session {
        file: "rpc_tcp_le64.tr",
        note: "rpc-lite calls over TCP from a client writing the le64 profile (little-endian, 64-bit)",
        transport: Transport::Tcp,
        server: &["rpc-lite", "serve", "--transport", "tcp"],
        drive: |proxy| rpc_calls(proxy, "tcp", "le64"),
    },
    Session {
        file: "rpc_udp_be32.tr",
        note: "rpc-lite calls over UDP from a client writing the be32 profile (big-endian, 32-bit)",
        transport: Transport::Udp,
        server: &["rpc-lite", "serve", "--transport", "udp"],
        drive: |proxy| rpc_calls(proxy, "udp", "be32"),
    },
    Session {
        file: "rpc_udp_le64.tr",
        note: "rpc-lite calls over UDP from a client writing the le64 profile (little-endian, 64-bit)",
        transport: Transport::Udp,
        server: &["rpc-lite", "serve", "--transport", "udp"],
        drive: |proxy| rpc_calls(proxy, "udp", "le64"),
    },
];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let out_dir = args.first().map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("transcripts"),
        PathBuf::from,
    );
    let only: Vec<&str> = args.iter().skip(1).map(String::as_str).collect();
    for session in SESSIONS {
        if !only.is_empty() && !only.iter().any(|name| session.file.starts_with(name)) {
            continue;
        }
        let path = out_dir.join(session.file);
        match record(session, &path) {
            Ok(()) => println!("recorded {}", path.display()),
            Err(e) => {
                eprintln!("record: {}: {e}", session.file);
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}

/// Server, proxy, client; then the annotated transcript into `path`.
fn record(session: &Session, path: &Path) -> Result<(), String> {
    let scratch = std::env::temp_dir().join(format!(
        "suite-record-{}-{}",
        std::process::id(),
        session.file
    ));
    let (bin, rest) = session.server.split_first().expect("a server command");
    let mut server_args = rest.to_vec();
    server_args.extend(["--bind", "127.0.0.1:0"]);
    let mut server = Server::start(bin, &server_args);
    let target = server.addr_arg();
    let scratch_arg = scratch.to_string_lossy().into_owned();
    let transport = match session.transport {
        Transport::Tcp => "tcp",
        Transport::Udp => "udp",
    };
    let mut proxy = Server::start(
        "proxy",
        &[
            transport,
            "--listen",
            "127.0.0.1:0",
            "--to",
            &target,
            "--record",
            &scratch_arg,
        ],
    );
    (session.drive)(proxy.addr());
    proxy.stop();
    server.stop();
    let raw = std::fs::read_to_string(&scratch)
        .map_err(|e| format!("cannot read the proxy's transcript: {e}"))?;
    let _ = std::fs::remove_file(&scratch);
    let annotated = Recorded::annotate(&raw, session.server, session.transport, session.note);
    Recorded::parse(&annotated)
        .map_err(|e| format!("the proxy wrote a transcript that does not load: {e}"))?;
    std::fs::write(path, annotated).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// `tcp echo-client` through the proxy: two lines, then end of input (half-close).
fn tcp_echo(proxy: SocketAddr) {
    let input = b"hello, echo\nthe last line\n";
    let (code, stdout, stderr) = run("tcp", &["echo-client", &proxy.to_string()], input);
    assert_eq!(code, Some(0), "echo-client: {stderr}");
    assert_eq!(stdout, input, "echoed whole");
}

/// Three chat members on three connections; every step waits for the lines it causes, so the
/// server sees the same order of events whenever this is recorded.
fn chat_three(proxy: SocketAddr) {
    let addr = proxy.to_string();
    let join = |name: &str| {
        let mut member = Proc::spawn("tcp", &["chat-client", &addr, "--name", name]);
        member.expect_line_eq(&format!("* {name} joined"));
        member
    };
    let mut alice = join("alice");
    let mut bob = join("bob");
    alice.expect_line_eq("* bob joined");
    let mut carol = join("carol");
    alice.expect_line_eq("* carol joined");
    bob.expect_line_eq("* carol joined");

    alice.write_line("hi all");
    bob.expect_line_eq("alice: hi all");
    carol.expect_line_eq("alice: hi all");
    bob.write_line("/who");
    bob.expect_line_eq("* online: alice bob carol");
    carol.write_line("hello from carol");
    alice.expect_line_eq("carol: hello from carol");
    bob.expect_line_eq("carol: hello from carol");

    bob.write_line("/quit");
    bob.expect_line_eq("* bye");
    bob.assert_exits_ok();
    alice.expect_line_eq("* bob left");
    carol.expect_line_eq("* bob left");
    carol.close_stdin();
    carol.assert_exits_ok();
    alice.expect_line_eq("* carol left");
    alice.close_stdin();
    alice.assert_exits_ok();
}

/// `udp echo-client` through the proxy: three lines, three datagrams, three echoes.
fn udp_echo(proxy: SocketAddr) {
    let input = b"one\ntwo\nthree\n";
    let (code, stdout, stderr) = run("udp", &["echo-client", &proxy.to_string()], input);
    assert_eq!(code, Some(0), "udp echo-client: {stderr}");
    assert_eq!(stdout, input, "echoed whole");
}

/// `udp quote-client --count 3` through the proxy.
fn udp_quote(proxy: SocketAddr) {
    let (code, stdout, stderr) = run(
        "udp",
        &["quote-client", &proxy.to_string(), "--count", "3"],
        b"",
    );
    assert_eq!(code, Some(0), "udp quote-client: {stderr}");
    assert_eq!(
        String::from_utf8_lossy(&stdout).lines().count(),
        3,
        "three quotes"
    );
}

/// A handful of `rpc-lite call`s (one connection or session each) and a `list`.
fn rpc_calls(proxy: SocketAddr, transport: &str, profile: &str) {
    let addr = proxy.to_string();
    let calls: &[&[&str]] = &[
        &["add", "2", "40"],
        &["put", "colour", "blue"],
        &["get", "colour"],
        &["echo", "hello, rpc"],
        &["incr", "5"],
        &["divide", "7", "0"],
    ];
    for call in calls {
        let mut args = vec![
            "call",
            &addr,
            "--transport",
            transport,
            "--profile",
            profile,
        ];
        args.extend_from_slice(call);
        let (code, _, stderr) = run("rpc-lite", &args, b"");
        // `divide 7 0` is answered with an application error: that is part of the session.
        assert!(
            code == Some(0) || call[0] == "divide",
            "rpc-lite {args:?}: {stderr}"
        );
    }
    let (code, _, stderr) = run(
        "rpc-lite",
        &[
            "list",
            &addr,
            "--transport",
            transport,
            "--profile",
            profile,
        ],
        b"",
    );
    // Over UDP the listing is refused with a small TOO_LARGE answer (no reply may be more
    // than 3x its request): that refusal is part of the session.
    let refused_by_design = transport == "udp" && code == Some(1);
    assert!(
        code == Some(0) || refused_by_design,
        "rpc-lite list: {stderr}"
    );
}

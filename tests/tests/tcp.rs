//! The `tcp` binary as a user runs it: servers started with `--bind 127.0.0.1:0`, their
//! `listening on` line parsed, driven with raw bytes or with the suite's own clients, stopped
//! with SIGTERM, and required to exit 0.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};

use suite_tests::Server;
use suite_tests::process::{IO_TIMEOUT, run};

const MODES: [&str; 2] = ["blocking", "async"];

fn echo_server(mode: &str, bind: &str) -> Server {
    Server::start(
        "tcp",
        &[
            "echo-server",
            "--bind",
            bind,
            "--mode",
            mode,
            "--grace-ms",
            "500",
        ],
    )
}

/// Sends `payload`, half-closes, and returns everything the server sent back before closing.
fn echo_round_trip(server: &Server, payload: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(server.addr()).expect("connect to the echo server");
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    // A writer thread, so a large payload cannot deadlock against an unread echo.
    let mut writer = stream.try_clone().unwrap();
    let owned = payload.to_vec();
    let sender = std::thread::spawn(move || {
        writer.write_all(&owned).unwrap();
        writer.shutdown(Shutdown::Write).unwrap();
    });
    let mut echoed = Vec::new();
    stream
        .read_to_end(&mut echoed)
        .expect("the echo ends with end-of-stream");
    sender.join().unwrap();
    echoed
}

#[test]
fn echo_server_echoes_and_honours_half_close_in_both_modes() {
    for mode in MODES {
        let mut server = echo_server(mode, "127.0.0.1:0");
        assert!(server.addr().ip().is_loopback());
        assert_eq!(
            echo_round_trip(&server, b"hello, echo\n"),
            b"hello, echo\n",
            "{mode}"
        );
        let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        assert_eq!(
            echo_round_trip(&server, &big),
            big,
            "{mode}: 200 kB echoed whole"
        );
        server.stop();
    }
}

#[test]
fn echo_server_listens_on_ipv6_loopback() {
    for mode in MODES {
        let mut server = echo_server(mode, "[::1]:0");
        assert!(server.addr().is_ipv6(), "{mode}: {}", server.addr());
        assert_eq!(echo_round_trip(&server, b"v6\n"), b"v6\n");
        server.stop();
    }
}

#[test]
fn echo_client_sends_stdin_and_prints_the_echo() {
    for mode in MODES {
        let mut server = echo_server(mode, "127.0.0.1:0");
        let input = b"one\ntwo\nno newline at the end";
        let (code, stdout, stderr) = run("tcp", &["echo-client", &server.addr_arg()], input);
        assert_eq!(code, Some(0), "{mode}: {stderr}");
        assert_eq!(stdout, input, "{mode}");
        server.stop();
    }
}

#[test]
fn sigterm_with_an_idle_connection_still_exits_0() {
    for mode in MODES {
        let mut server = echo_server(mode, "127.0.0.1:0");
        let mut idle = TcpStream::connect(server.addr()).unwrap();
        idle.write_all(b"x").unwrap();
        let mut byte = [0u8; 1];
        idle.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        idle.read_exact(&mut byte).unwrap();
        server.stop();
    }
}

#[test]
fn a_port_in_use_is_one_line_on_stderr_and_exit_1() {
    let mut first = echo_server("async", "127.0.0.1:0");
    let (code, stdout, stderr) = run("tcp", &["echo-server", "--bind", &first.addr_arg()], b"");
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stdout.is_empty(), "no listening line when the bind failed");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    first.stop();
}

#[test]
fn echo_client_to_a_closed_port_fails_with_one_line() {
    // Bind, learn a free port, close it: nothing listens there now.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (code, _, stderr) = run(
        "tcp",
        &["echo-client", &format!("127.0.0.1:{port}")],
        b"hi\n",
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
}

#[test]
fn chat_with_three_members_through_the_chat_client() {
    let mut server = Server::start(
        "tcp",
        &["chat-server", "--bind", "127.0.0.1:0", "--grace-ms", "500"],
    );
    let addr = server.addr_arg();
    let join = |name: &str| {
        let mut member = suite_tests::Proc::spawn("tcp", &["chat-client", &addr, "--name", name]);
        member.expect_line_eq(&format!("* {name} joined"));
        member
    };
    let mut alice = join("alice");
    let mut bob = join("bob");
    alice.expect_line_eq("* bob joined");
    let mut carol = join("carol");
    alice.expect_line_eq("* carol joined");
    bob.expect_line_eq("* carol joined");
    alice.write_line("hello room");
    bob.expect_line_eq("alice: hello room");
    carol.expect_line_eq("alice: hello room");
    carol.write_line("/who");
    carol.expect_line_eq("* online: alice bob carol");
    bob.close_stdin();
    bob.assert_exits_ok();
    alice.expect_line_eq("* bob left");
    carol.expect_line_eq("* bob left");
    // SIGTERM to the server: the members still connected are told, then the server exits 0.
    server.stop();
    alice.expect_line_eq("* server shutting down");
    carol.expect_line_eq("* server shutting down");
    alice.assert_exits_ok();
    carol.assert_exits_ok();
}

#[test]
fn a_taken_name_is_refused_with_one_error_line() {
    let mut server = Server::start("tcp", &["chat-server", "--bind", "127.0.0.1:0"]);
    let mut first = TcpStream::connect(server.addr()).unwrap();
    first.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    first.write_all(b"dana\n").unwrap();
    let mut joined = [0u8; 14];
    first.read_exact(&mut joined).unwrap();
    assert_eq!(&joined, b"* dana joined\n");
    let mut second = TcpStream::connect(server.addr()).unwrap();
    second.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    second.write_all(b"dana\n").unwrap();
    let mut refused = [0u8; 13];
    second.read_exact(&mut refused).unwrap();
    assert_eq!(&refused, b"! name taken\n");
    server.stop();
}

#[test]
fn proxy_forwards_an_echo_session_and_records_it() {
    let mut echo = echo_server("async", "127.0.0.1:0");
    let record = std::env::temp_dir().join(format!("suite-tests-proxy-{}.tr", std::process::id()));
    let record_arg = record.to_string_lossy().into_owned();
    let mut proxy = Server::start(
        "proxy",
        &[
            "tcp",
            "--listen",
            "127.0.0.1:0",
            "--to",
            &echo.addr_arg(),
            "--record",
            &record_arg,
            "--grace-ms",
            "500",
        ],
    );
    let (code, stdout, stderr) = run(
        "tcp",
        &["echo-client", &proxy.addr_arg()],
        b"through the proxy\n",
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout, b"through the proxy\n");
    proxy.stop();
    echo.stop();
    let text = std::fs::read_to_string(&record).expect("the proxy wrote its transcript");
    let _ = std::fs::remove_file(&record);
    let transcript = proxy::transcript::Transcript::parse(&text).expect("a valid transcript");
    use proxy::transcript::Direction::{ClientToServer, ServerToClient};
    assert_eq!(transcript.stream(1, ClientToServer), b"through the proxy\n");
    assert_eq!(transcript.stream(1, ServerToClient), b"through the proxy\n");
}

#[test]
fn sigint_stops_every_tcp_server_with_exit_0() {
    for args in [
        &["echo-server", "--mode", "blocking"][..],
        &["echo-server", "--mode", "async"],
        &["chat-server"],
    ] {
        let mut full = args.to_vec();
        full.extend(["--bind", "127.0.0.1:0"]);
        let mut server = Server::start("tcp", &full);
        server.signal("INT");
        server.assert_exits_ok();
    }
}

#[test]
fn bench_idle_holds_connections_and_reports_the_servers_memory() {
    let mut server = echo_server("async", "127.0.0.1:0");
    let pid = server.pid().to_string();
    let args = [
        "bench",
        "idle",
        "--addr",
        &server.addr_arg(),
        "--conns",
        "20",
        "--server-pid",
        &pid,
        "--settle-s",
        "0.1",
    ];
    let (code, stdout, stderr) = run("tcp", &args, b"");
    assert_eq!(code, Some(0), "{stderr}");
    let text = String::from_utf8(stdout).unwrap();
    let last = text.lines().last().unwrap_or_default();
    assert!(
        last.split_whitespace().all(|word| word.contains('=')),
        "key=value figures: {last}"
    );
    server.stop();
}

//! The `tcp` binary as a user runs it: servers started with `--bind 127.0.0.1:0`, their
//! `listening on` line parsed, driven with raw bytes or with the suite's own clients, stopped
//! with SIGTERM, and required to exit 0.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};

use suite_tests::Server;
use suite_tests::process::{IO_TIMEOUT, run};

const MODES: [&str; 2] = ["blocking", "async"];

fn echo_server(mode: &str, bind: &str) -> Server {
    Server::start("tcp", &["echo-server", "--bind", bind, "--mode", mode, "--grace-ms", "500"])
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
    stream.read_to_end(&mut echoed).expect("the echo ends with end-of-stream");
    sender.join().unwrap();
    echoed
}

#[test]
fn echo_server_echoes_and_honours_half_close_in_both_modes() {
    for mode in MODES {
        let mut server = echo_server(mode, "127.0.0.1:0");
        assert!(server.addr().ip().is_loopback());
        assert_eq!(echo_round_trip(&server, b"hello, echo\n"), b"hello, echo\n", "{mode}");
        let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        assert_eq!(echo_round_trip(&server, &big), big, "{mode}: 200 kB echoed whole");
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
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (code, _, stderr) = run("tcp", &["echo-client", &format!("127.0.0.1:{port}")], b"hi\n");
    assert_eq!(code, Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
}

//! The `udp` binary as a user runs it: echo (every server mode), quote, and the proxy, each
//! started with `--bind 127.0.0.1:0`, driven with raw datagrams or the suite's clients, stopped
//! with SIGTERM, and required to exit 0.

use std::net::UdpSocket;

use suite_tests::Server;
use suite_tests::process::{IO_TIMEOUT, run};

fn client_socket() -> UdpSocket {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    socket
}

#[test]
fn echo_server_returns_each_datagram_whole_in_every_mode() {
    for mode in ["async", "blocking", "batch"] {
        let mut server = Server::start(
            "udp",
            &["echo-server", "--bind", "127.0.0.1:0", "--mode", mode],
        );
        let socket = client_socket();
        let mut buf = vec![0u8; 65_536];
        for payload in [
            &b"x"[..],
            b"hello, datagram",
            &[0xffu8; 1400],
            &[7u8; 65_507],
        ] {
            socket.send_to(payload, server.addr()).unwrap();
            let (n, from) = socket.recv_from(&mut buf).expect("an echo");
            assert_eq!(from, server.addr(), "{mode}");
            assert_eq!(&buf[..n], payload, "{mode}: {} bytes", payload.len());
        }
        server.stop();
    }
}

#[test]
fn echo_server_listens_on_ipv6_loopback() {
    let mut server = Server::start("udp", &["echo-server", "--bind", "[::1]:0"]);
    assert!(server.addr().is_ipv6());
    let socket = UdpSocket::bind("[::1]:0").unwrap();
    socket.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    socket.send_to(b"v6", server.addr()).unwrap();
    let mut buf = [0u8; 16];
    let n = socket.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"v6");
    server.stop();
}

#[test]
fn echo_client_prints_each_echoed_line() {
    let mut server = Server::start("udp", &["echo-server", "--bind", "127.0.0.1:0"]);
    let (code, stdout, stderr) = run("udp", &["echo-client", &server.addr_arg()], b"one\ntwo\n");
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout, b"one\ntwo\n");
    server.stop();
}

#[test]
fn quote_client_gets_the_requested_number_of_quotes() {
    let mut server = Server::start("udp", &["quote-server", "--bind", "127.0.0.1:0"]);
    let (code, stdout, stderr) = run(
        "udp",
        &["quote-client", &server.addr_arg(), "--count", "3"],
        b"",
    );
    assert_eq!(code, Some(0), "{stderr}");
    let text = String::from_utf8(stdout).unwrap();
    assert_eq!(text.lines().count(), 3, "{text}");
    server.stop();
}

#[test]
fn proxy_forwards_and_a_proxy_that_drops_everything_makes_the_client_fail() {
    let mut echo = Server::start("udp", &["echo-server", "--bind", "127.0.0.1:0"]);
    let mut clean = Server::start(
        "proxy",
        &["udp", "--listen", "127.0.0.1:0", "--to", &echo.addr_arg()],
    );
    let (code, stdout, stderr) = run("udp", &["echo-client", &clean.addr_arg()], b"via proxy\n");
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout, b"via proxy\n");
    clean.stop();

    let mut black_hole = Server::start(
        "proxy",
        &[
            "udp",
            "--listen",
            "127.0.0.1:0",
            "--to",
            &echo.addr_arg(),
            "--loss",
            "1",
        ],
    );
    let args = [
        "echo-client",
        &black_hole.addr_arg(),
        "--timeout-ms",
        "50",
        "--retries",
        "2",
    ];
    let (code, _, stderr) = run("udp", &args, b"lost\n");
    assert_eq!(
        code,
        Some(1),
        "every datagram dropped: the client must fail: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    black_hole.stop();
    echo.stop();
}

/// CONVENTIONS: a port in use is one clear error line and exit 1. (With `SO_REUSEADDR` on a
/// unicast UDP socket, Linux would let the second server start and silently take a share of
/// the first one's datagrams; the udp crate leaves it off for that reason.)
#[test]
fn a_port_in_use_is_an_error_not_a_panic() {
    let mut first = Server::start("udp", &["echo-server", "--bind", "127.0.0.1:0"]);
    let (code, stdout, stderr) = run("udp", &["echo-server", "--bind", &first.addr_arg()], b"");
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stdout.is_empty());
    assert!(!stderr.contains("panicked"), "{stderr}");
    first.stop();
}

#[test]
fn sigint_stops_every_udp_server_with_exit_0() {
    for args in [
        &["echo-server", "--mode", "async"][..],
        &["echo-server", "--mode", "blocking"],
        &["echo-server", "--mode", "batch"],
        &["quote-server"],
    ] {
        let mut full = args.to_vec();
        full.extend(["--bind", "127.0.0.1:0"]);
        let mut server = Server::start("udp", &full);
        server.signal("INT");
        server.assert_exits_ok();
    }
}

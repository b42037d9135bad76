//! The error and exit-code contract of CONVENTIONS, checked on every binary and every
//! subcommand found from `--help` (so a subcommand added later is covered without editing
//! this file):
//!
//! - a usage mistake (an unknown flag, a malformed `--bind` address, an out-of-range port in
//!   a `HOST:PORT` argument) prints exactly one line, `NAME: error: ...`, and exits 2;
//! - a failure at run time (the port is taken) prints one line and exits 1, with the hint
//!   that is true for it, the OS error once;
//! - a second SIGTERM during a server's grace period stops it at once (exit 130).
//!
//! The listening line and the first SIGTERM are checked in `servers.rs`.

use std::io::{ErrorKind, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream, UdpSocket};
use std::time::Duration;

use suite_tests::bins::ALL;
use suite_tests::cli::{all_helps, has_flag};
use suite_tests::process::run;
use suite_tests::{Proc, Server};

/// Asserts the suite's one-line error: exit `code`, stderr one line starting `BIN: error: `.
fn assert_one_error_line(bin: &str, args: &[&str], code: i32) -> String {
    let (got, _stdout, stderr) = run(bin, args, b"");
    let shown = format!("`{bin} {}`", args.join(" "));
    assert_eq!(got, Some(code), "{shown} exit code; stderr: {stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{shown}: one error line, got {lines:#?}");
    assert!(
        lines[0].starts_with(&format!("{bin}: error: ")),
        "{shown}: `{bin}: error: ...`, got {:?}",
        lines[0]
    );
    lines[0].to_string()
}

/// Every `(binary, subcommand path, help text)`.
fn every_command() -> Vec<(&'static str, Vec<String>, String)> {
    ALL.iter()
        .flat_map(|bin| {
            all_helps(bin)
                .into_iter()
                .map(move |(path, text)| (*bin, path, text))
        })
        .collect()
}

fn with_path<'a>(path: &'a [String], rest: &[&'a str]) -> Vec<&'a str> {
    path.iter()
        .map(String::as_str)
        .chain(rest.iter().copied())
        .collect()
}

#[test]
fn an_unknown_flag_is_one_line_and_exit_2_everywhere() {
    for (bin, path, _) in every_command() {
        assert_one_error_line(bin, &with_path(&path, &["--no-such-flag"]), 2);
    }
}

#[test]
fn a_malformed_or_out_of_range_bind_address_is_a_usage_mistake() {
    let mut checked = 0;
    for (bin, path, text) in every_command() {
        for flag in ["--bind", "--listen"] {
            if !has_flag(&text, flag) {
                continue;
            }
            for bad in ["not-an-address", "127.0.0.1:99999", "127.0.0.1"] {
                assert_one_error_line(bin, &with_path(&path, &[flag, bad]), 2);
            }
            checked += 1;
        }
    }
    assert!(checked >= 5, "only {checked} servers found");
}

/// Subcommands whose usage line takes a positional `<ADDR>` (a peer, `HOST:PORT`).
fn clients() -> Vec<(&'static str, Vec<String>)> {
    every_command()
        .into_iter()
        .filter(|(_, _, text)| {
            text.lines()
                .find(|line| line.starts_with("Usage:"))
                .is_some_and(|usage| usage.contains("<ADDR>"))
        })
        .map(|(bin, path, _)| (bin, path))
        .collect()
}

#[test]
fn a_peer_address_with_a_bad_port_is_a_usage_mistake() {
    let clients = clients();
    assert!(clients.len() >= 4, "clients found: {clients:?}");
    for (bin, path) in clients {
        for bad in ["localhost:99999", "localhost", "[::1:7"] {
            assert_one_error_line(bin, &with_path(&path, &[bad]), 2);
        }
    }
}

/// A loopback port taken for both TCP and UDP, so every kind of server finds it in use.
fn taken_port() -> (TcpListener, UdpSocket, u16) {
    for _ in 0..50 {
        let tcp = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a TCP port");
        let port = tcp.local_addr().expect("local address").port();
        if let Ok(udp) = UdpSocket::bind((Ipv4Addr::LOCALHOST, port)) {
            return (tcp, udp, port);
        }
    }
    panic!("no loopback port free for both TCP and UDP in 50 tries");
}

#[test]
fn a_port_in_use_is_one_line_exit_1_with_the_hint_and_the_os_error_once() {
    let (_tcp, _udp, port) = taken_port();
    let taken = format!("127.0.0.1:{port}");
    let mut checked = 0;
    for (bin, path, text) in every_command() {
        let flag = if has_flag(&text, "--bind") {
            "--bind"
        } else if has_flag(&text, "--listen") && has_flag(&text, "--to") {
            "--listen"
        } else {
            continue;
        };
        let mut args = with_path(&path, &[flag, &taken]);
        if flag == "--listen" {
            args.extend(["--to", "127.0.0.1:9"]);
        }
        let line = assert_one_error_line(bin, &args, 1);
        assert!(
            line.contains("; hint: "),
            "{bin} {path:?}: no hint in {line:?}"
        );
        let os_errors = line.matches("os error").count();
        assert_eq!(os_errors, 1, "{bin} {path:?}: the OS error once: {line:?}");
        checked += 1;
    }
    assert!(checked >= 5, "only {checked} servers checked");
}

/// Attempts at catching a server with its work still in flight after the first SIGTERM.
const TRIES: usize = 5;

/// Sends SIGTERM twice with work in flight: the first starts the grace period (the server
/// keeps running, finishing that work), the second must end it at once with exit 130.
///
/// `start` gives a fresh server with work in flight, and what keeps that work going. A
/// server may finish that work early all the same (the blocking echo's send, stalled on a
/// full buffer, was seen to complete once the first SIGTERM's `shutdown(2)` woke it): then
/// it must have exited 0, and the next try starts afresh.
fn assert_second_sigterm_stops_at_once<W>(what: &str, mut start: impl FnMut() -> (Server, W)) {
    for _ in 0..TRIES {
        let (mut server, _work) = start();
        server.sigterm();
        if let Some(status) = server.wait_timeout(Duration::from_millis(300)) {
            assert_eq!(
                status.code(),
                Some(0),
                "{what}: first SIGTERM; stderr: {}",
                server.stderr_text()
            );
            continue; // it finished its work within 300 ms: try again
        }
        server.sigterm();
        match server.wait_timeout(Duration::from_secs(3)) {
            Some(status) => assert_eq!(status.code(), Some(130), "{what}: {status}"),
            None => panic!("{what}: still running 3 s after the second SIGTERM"),
        }
        return;
    }
    panic!(
        "{what}: exited on the first SIGTERM in each of {TRIES} tries although work was in flight"
    );
}

/// Most bytes the stalling client sends before it gives up: far more than loopback's
/// buffers hold (the server's receive and send buffers and the client's send buffer, each
/// autotuned up to `net.ipv4.tcp_rmem` / `tcp_wmem`, 32 MiB and 4 MiB on some kernels).
const MOST_TO_STALL: usize = 256 << 20;

/// A client that sends and never reads: the echo server's writes stall, so the connection
/// is in flight until the client reads or the grace period ends. Its receive buffer is set
/// small, which turns off the kernel's autotuning of it (`tcp(7)`), and it writes until a
/// write times out, so the stall is reached whatever the system's buffer limits are.
fn stalled_echo_client(server: &Server) -> TcpStream {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
        .expect("a TCP socket");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    socket
        .connect(&server.addr().into())
        .expect("connect to the echo server");
    let mut stream = TcpStream::from(socket);
    stream
        .set_write_timeout(Some(Duration::from_secs(2)))
        .expect("write timeout");
    let chunk = vec![b'x'; 64 * 1024];
    let mut sent = 0;
    while sent < MOST_TO_STALL {
        match stream.write(&chunk) {
            Ok(n) => sent += n,
            // Timed out: the buffers are full both ways, the server is stuck writing to us.
            Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return stream;
            }
            // A write with a timeout is not restarted after a stop and continue of this
            // process, or a signal, even without a handler (`signal(7)`): write again.
            Err(err) if err.kind() == ErrorKind::Interrupted => {}
            Err(err) => panic!("the echo server closed a stalled connection: {err}"),
        }
    }
    panic!("sent {sent} bytes to the echo server and its writes never stalled");
}

#[test]
fn a_second_sigterm_during_the_echo_servers_grace_period_stops_at_once() {
    for mode in ["async", "blocking"] {
        let what = format!("tcp echo-server --mode {mode}");
        assert_second_sigterm_stops_at_once(&what, || {
            let server = Server::start(
                "tcp",
                &["echo-server", "--mode", mode, "--bind", "127.0.0.1:0"],
            );
            let client = stalled_echo_client(&server);
            (server, client)
        });
    }
}

#[test]
fn a_second_sigterm_during_the_rpc_servers_grace_period_stops_at_once() {
    assert_second_sigterm_stops_at_once("rpc-lite serve with a sleep call", || {
        let server = Server::start("rpc-lite", &["serve", "--bind", "127.0.0.1:0"]);
        let caller = Proc::spawn("rpc-lite", &["call", &server.addr_arg(), "sleep", "20000"]);
        // Give the call time to reach the server (a bounded wait, not a timing assertion:
        // if it has not arrived, the first SIGTERM ends the server and the next try starts).
        std::thread::sleep(Duration::from_millis(500));
        (server, caller)
    });
}

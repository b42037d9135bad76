//! The server contract of CONVENTIONS, checked on every subcommand that takes `--bind`, and on
//! every proxy (`--listen` and `--to`), found from `--help`, so a server added later is covered
//! without editing this file:
//! port 0 works, the first stdout line is exactly `listening on IP:PORT` with the real address
//! (IPv4 and IPv6), and SIGTERM sent the moment that line appears ends the server with exit 0
//! (the signal handlers must be installed before the line is printed).

use suite_tests::Server;
use suite_tests::bins::ALL;
use suite_tests::cli::{all_helps, has_flag};

/// How a server subcommand is told where to listen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `--bind ADDR`.
    Server,
    /// `--listen ADDR --to TARGET`: a proxy. The target is the discard port on loopback;
    /// nothing is sent there, since no client connects during the check.
    Proxy,
}

/// Every `(binary, subcommand path, kind)` whose help lists `--bind`, or `--listen` and `--to`.
fn servers() -> Vec<(&'static str, Vec<String>, Kind)> {
    let mut found = Vec::new();
    for bin in ALL {
        for (path, text) in all_helps(bin) {
            if has_flag(&text, "--bind") {
                found.push((bin, path, Kind::Server));
            } else if has_flag(&text, "--listen") && has_flag(&text, "--to") {
                found.push((bin, path, Kind::Proxy));
            }
        }
    }
    found
}

fn start(bin: &str, path: &[String], kind: Kind, bind: &str) -> Server {
    let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
    match kind {
        Kind::Server => args.extend(["--bind", bind]),
        Kind::Proxy => {
            let target = if bind.starts_with('[') {
                "[::1]:9"
            } else {
                "127.0.0.1:9"
            };
            args.extend(["--listen", bind, "--to", target]);
        }
    }
    Server::start(bin, &args)
}

#[test]
fn the_known_servers_are_found() {
    let names: Vec<String> = servers()
        .iter()
        .map(|(bin, path, _)| format!("{bin} {}", path.join(" ")))
        .collect();
    for expected in [
        "tcp echo-server",
        "tcp chat-server",
        "proxy tcp",
        "udp echo-server",
        "udp quote-server",
        "proxy udp",
        "rpc-lite serve",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} not found among {names:?}"
        );
    }
}

#[test]
fn every_server_reports_its_real_address_and_stops_on_an_immediate_sigterm() {
    // Each server is checked on its own, so one failure does not hide the others' results.
    let mut failed = Vec::new();
    for (bin, path, kind) in servers() {
        for (bind, loopback) in [("127.0.0.1:0", "127.0.0.1"), ("[::1]:0", "::1")] {
            let checked = std::panic::catch_unwind(|| {
                let mut server = start(bin, &path, kind, bind);
                let addr = server.addr();
                assert_eq!(addr.ip().to_string(), loopback, "{bin} {path:?}");
                assert_ne!(addr.port(), 0, "{bin} {path:?}: the real port, not 0");
                server.stop();
            });
            if checked.is_err() {
                failed.push(format!("{bin} {} ({kind:?}) on {bind}", path.join(" ")));
            }
        }
    }
    assert!(
        failed.is_empty(),
        "servers that broke the contract (details above): {failed:#?}"
    );
}

/// A server that cannot take its port prints no `listening on` line, and
/// [`Server::try_start`] says so with the server's own error, instead of a panic: the
/// harness tries the next port (the Wireshark tests do, on fixed ports).
#[test]
fn a_port_already_taken_is_reported_with_the_servers_error() {
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let bind = held.local_addr().unwrap().to_string();
    let why = Server::try_start("tcp", &["echo-server", "--bind", &bind])
        .expect_err("the port is held by this test");
    assert!(why.contains("no `listening on` line"), "{why}");
    assert!(
        why.contains("in use"),
        "the server's own error is passed on: {why}"
    );
    let mut other = Server::try_start("tcp", &["echo-server", "--bind", "127.0.0.1:0"])
        .expect("port 0 always works");
    other.sigterm();
}

//! The `rpc-lite` binary as a user runs it: `serve` over TCP and UDP on `127.0.0.1:0`,
//! `call` and `list` from callers of every data representation, errors as exit 1 with one line,
//! and SIGTERM ending the server with exit 0.

use suite_tests::Server;
use suite_tests::process::run;

const TRANSPORTS: [&str; 2] = ["tcp", "udp"];
const PROFILES: [&str; 6] = ["be32", "le32", "be64", "le64", "network", "native"];

fn serve(transport: &str) -> Server {
    Server::start(
        "rpc-lite",
        &[
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--transport",
            transport,
            "--grace-ms",
            "500",
        ],
    )
}

fn call(
    server: &Server,
    transport: &str,
    profile: &str,
    args: &[&str],
) -> (Option<i32>, String, String) {
    let addr = server.addr_arg();
    let mut full = vec![
        "call",
        &addr,
        "--transport",
        transport,
        "--profile",
        profile,
    ];
    full.extend_from_slice(args);
    let (code, stdout, stderr) = run("rpc-lite", &full, b"");
    (
        code,
        String::from_utf8_lossy(&stdout).trim_end().to_string(),
        stderr,
    )
}

#[test]
fn every_profile_gets_the_same_answers_over_tcp_and_udp() {
    for transport in TRANSPORTS {
        let mut server = serve(transport);
        for profile in PROFILES {
            let (code, out, err) = call(&server, transport, profile, &["add", "-7", "49"]);
            assert_eq!(
                (code, out.as_str()),
                (Some(0), "42"),
                "{transport} {profile}: {err}"
            );
            let (code, out, err) = call(&server, transport, profile, &["echo", "héllo"]);
            assert_eq!(code, Some(0), "{transport} {profile}: {err}");
            assert!(out.contains("héllo"), "{transport} {profile}: {out}");
        }
        let (code, _, err) = call(&server, transport, "le64", &["put", "k", "v"]);
        assert_eq!(code, Some(0), "{err}");
        let (code, out, err) = call(&server, transport, "be32", &["get", "k"]);
        assert_eq!(code, Some(0), "{err}");
        assert!(
            out.contains('v'),
            "a value put by an le64 caller is read by a be32 caller: {out}"
        );
        server.stop();
    }
}

#[test]
fn list_over_udp_is_refused_with_a_small_answer_and_a_hint() {
    let mut server = serve("udp");
    let addr = server.addr_arg();
    let (code, _stdout, stderr) = run("rpc-lite", &["list", &addr, "--transport", "udp"], b"");
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("exceeds the limit"), "{stderr}");
    assert!(
        stderr.contains("hint: over UDP the listing is refused by design"),
        "{stderr}"
    );
    server.stop();
}

#[test]
fn list_shows_the_procedures() {
    for transport in ["tcp"] {
        let mut server = serve(transport);
        let addr = server.addr_arg();
        let (code, stdout, stderr) =
            run("rpc-lite", &["list", &addr, "--transport", transport], b"");
        assert_eq!(code, Some(0), "{stderr}");
        let text = String::from_utf8(stdout).unwrap();
        for procedure in [
            "add", "divide", "get", "put", "delete", "echo", "sleep", "incr",
        ] {
            assert!(
                text.contains(&format!("{procedure}(")),
                "{transport}: {procedure} missing from {text}"
            );
        }
        server.stop();
    }
}

#[test]
fn failures_are_one_line_and_exit_1() {
    for transport in TRANSPORTS {
        let mut server = serve(transport);
        for args in [&["divide", "7", "0"][..], &["add", "2147483647", "1"]] {
            let (code, _, err) = call(&server, transport, "be32", args);
            assert_eq!(code, Some(1), "{transport} {args:?}: {err}");
            assert_eq!(
                err.trim_end().lines().count(),
                1,
                "{transport} {args:?}: {err}"
            );
            assert!(!err.contains("panicked"), "{err}");
        }
        server.stop();
    }
}

#[test]
fn a_call_to_nothing_fails_within_its_timeout() {
    for transport in TRANSPORTS {
        // A port that was free a moment ago: nothing serves it.
        let port = std::net::UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        let args = [
            "call",
            &addr,
            "--transport",
            transport,
            "--timeout-ms",
            "300",
            "add",
            "1",
            "2",
        ];
        let (code, _, err) = run("rpc-lite", &args, b"");
        assert_eq!(code, Some(1), "{transport}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn sigint_stops_the_server_with_exit_0() {
    for transport in TRANSPORTS {
        let mut server = serve(transport);
        server.signal("INT");
        server.assert_exits_ok();
    }
}

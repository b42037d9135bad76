//! The `rpc-lite` binary: serve/call/list/demo as a user runs them, SIGTERM, and a
//! server killed mid-call (every pending call fails promptly with ConnectionLost).

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::demo_service::demo;
use rpc_lite::{CallError, Channel, RpcError, Transport};

const BIN: &str = env!("CARGO_BIN_EXE_rpc-lite");

/// Starts `rpc-lite serve` on a free port; returns the child and the address it printed.
fn serve(extra: &[&str]) -> (Child, String) {
    let mut child = Command::new(BIN)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .expect("first line")
        .to_string();
    (child, addr)
}

fn rpc(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN).args(args).output().unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (
        out.status.code().unwrap_or(-1),
        text(&out.stdout),
        text(&out.stderr),
    )
}

fn terminate(mut child: Child) -> i32 {
    let pid = child.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    child.wait().unwrap().code().unwrap_or(-1)
}

#[test]
fn call_list_and_errors_from_the_command_line() {
    let (server, addr) = serve(&[]);
    assert_eq!(
        rpc(&["call", &addr, "add", "2", "3"]),
        (0, "5\n".into(), String::new())
    );
    assert_eq!(
        rpc(&["call", &addr, "add", "-2", "-3", "--profile", "be32"]).1,
        "-5\n"
    );
    let (code, _, err) = rpc(&["call", &addr, "divide", "1", "0"]);
    assert_eq!(
        (code, err.as_str()),
        (
            1,
            "rpc-lite: error: divide failed: the server says: division by zero\n"
        )
    );
    let (code, _, err) = rpc(&["call", &addr, "sleep", "2000", "--timeout-ms", "100"]);
    assert_eq!(
        (code, err.trim()),
        (
            1,
            "rpc-lite: error: sleep failed: no reply within 100ms (deadline passed)"
        )
    );
    let (code, out, _) = rpc(&["list", &addr]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with("demo (program 0x20007470, version 1)\n"),
        "{out}"
    );
    assert!(out.contains("6  echo(data: Bytes) -> Bytes"), "{out}");
    // Usage mistakes name the procedure and what it takes, in words; exit 2.
    for (args, says) in [
        (
            &["frobnicate"][..],
            "no procedure \"frobnicate\"; it has: add A B (two integers)",
        ),
        (
            &["add", "1"],
            "add takes A B (two integers); got 1 argument",
        ),
        (
            &["add", "x", "2"],
            "add takes A B (two integers); A must be an integer, got \"x\"",
        ),
        (
            &["sleep"],
            "sleep takes MS (milliseconds, at most 60000); got 0 arguments",
        ),
    ] {
        let (code, _, err) = rpc(&[&["call", &addr][..], args].concat());
        assert_eq!((code, err.lines().count()), (2, 1), "one clear line: {err}");
        assert!(
            err.starts_with("rpc-lite: error: ") && err.contains(says),
            "{err}"
        );
        assert!(
            !err.contains("[\""),
            "no Debug form of the arguments: {err}"
        );
    }
    assert_eq!(terminate(server), 0, "SIGTERM: graceful exit 0");
}

#[test]
fn usage_mistakes_exit_2_and_unreachable_servers_exit_1() {
    assert_eq!(rpc(&["call"]).0, 2);
    assert_eq!(rpc(&["serve", "--transport", "carrier-pigeon"]).0, 2);
    let (code, _, err) = rpc(&["serve", "--max-frame", "100"]);
    assert_eq!(
        code, 2,
        "a limit too small for the server's own errors: {err}"
    );
    assert!(err.contains("minimum of 256"), "{err}");
    let (code, _, err) = rpc(&["call", "127.0.0.1:1", "add", "1", "2"]);
    assert_eq!(code, 1);
    assert!(
        err.starts_with("rpc-lite: error: cannot reach 127.0.0.1:1"),
        "{err}"
    );
    let (code, _, err) = rpc(&["serve", "--bind", "not-an-address"]);
    assert_eq!((code, err.lines().count()), (2, 1), "{err}");
    // Over UDP the refusal comes back as ICMP; the connected socket reports it at once.
    let (code, _, err) = rpc(&["call", "127.0.0.1:1", "add", "1", "2", "--transport", "udp"]);
    assert_eq!(code, 1);
    assert!(err.contains("nothing listens on that UDP port"), "{err}");
}

#[test]
fn udp_serve_and_call() {
    let (server, addr) = serve(&["--transport", "udp"]);
    assert_eq!(
        rpc(&["call", &addr, "incr", "4", "--transport", "udp"]).1,
        "4\n"
    );
    assert_eq!(
        rpc(&["call", &addr, "echo", "hi", "--transport", "udp"]).1,
        "hi\n"
    );
    assert_eq!(terminate(server), 0);
}

#[test]
fn demo_runs_and_shows_each_call_executed_once() {
    let (code, out, _) = rpc(&["demo"]);
    assert_eq!(code, 0);
    assert!(out.contains("add(2, 3) = 5"), "{out}");
    assert!(out.contains("division by zero"), "{out}");
    assert!(out.contains("100/100 incr(1) calls completed"), "{out}");
    assert!(
        out.contains("counter went 0 -> 100; incr executed 100 times"),
        "{out}"
    );
}

#[tokio::test]
async fn a_server_killed_mid_call_fails_every_pending_call_promptly() {
    let (mut server, addr) = serve(&[]);
    let channel = Channel::connect(&addr, Transport::Tcp).await.unwrap();
    let client = demo::Client::new(channel).with_timeout(Duration::from_secs(60));
    let calls: Vec<_> = (0..20)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.sleep(30_000).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.kill().unwrap(); // SIGKILL: no goodbye, the kernel closes the socket
    let killed = Instant::now();
    for call in calls {
        let result = tokio::time::timeout(Duration::from_secs(5), call)
            .await
            .expect("nothing hangs");
        assert!(matches!(
            result.unwrap(),
            Err(CallError::Rpc(RpcError::ConnectionLost))
        ));
    }
    assert!(killed.elapsed() < Duration::from_secs(5));
    server.wait().unwrap();
    // Later calls on the dead channel fail at once too.
    assert!(matches!(
        client.incr(1).await,
        Err(CallError::Rpc(RpcError::ConnectionLost))
    ));
}

#[test]
fn sigterm_or_sigint_right_after_the_listening_line_exits_0() {
    for (transport, signal) in [("tcp", "-TERM"), ("udp", "-INT"), ("tcp", "-INT")] {
        let (mut child, _) = serve(&["--transport", transport]);
        let pid = child.id().to_string();
        Command::new("kill").args([signal, &pid]).status().unwrap();
        assert_eq!(
            child.wait().unwrap().code(),
            Some(0),
            "{transport} {signal}"
        );
    }
}

#[test]
fn ipv6_loopback_works_on_both_transports() {
    for transport in ["tcp", "udp"] {
        let mut child = Command::new(BIN)
            .args(["serve", "--bind", "[::1]:0", "--transport", transport])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap()
            .to_string();
        assert!(addr.starts_with("[::1]:"), "{line}");
        let (code, out, err) = rpc(&["call", &addr, "add", "20", "22", "--transport", transport]);
        assert_eq!((code, out.as_str()), (0, "42\n"), "{err}");
        assert_eq!(terminate(child), 0);
    }
}

/// Logs written to a pipe or a file carry no ANSI colour codes (only a terminal gets them).
#[test]
fn logs_to_a_pipe_have_no_colour_codes() {
    use std::io::{Read, Write};
    let mut child = Command::new(BIN)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("RUST_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_string();
    // A frame that is not a message: the server logs a warning, answers and closes.
    let mut stream = std::net::TcpStream::connect(&addr).unwrap();
    stream.write_all(&[0, 0, 0, 3, b'R', b'P', b'C']).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let mut stderr = child.stderr.take().unwrap();
    assert_eq!(terminate(child), 0);
    let mut logs = String::new();
    stderr.read_to_string(&mut logs).unwrap();
    assert!(logs.contains("unreadable request"), "{logs}");
    assert!(
        !logs.contains('\x1b'),
        "colour codes in piped logs: {logs:?}"
    );
}

/// A loopback proxy that counts the connections it carries and the bytes each sent
/// upstream. `finish` waits until every connection has closed and returns the counts.
struct CountingProxy {
    addr: String,
    accepted: Arc<AtomicUsize>,
    sent: Arc<Mutex<Vec<u64>>>,
}

impl CountingProxy {
    fn start(upstream: &str) -> CountingProxy {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let proxy = CountingProxy {
            addr: listener.local_addr().unwrap().to_string(),
            accepted: Arc::default(),
            sent: Arc::default(),
        };
        let (accepted, sent) = (proxy.accepted.clone(), proxy.sent.clone());
        let upstream = upstream.to_string();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                // Counted before a byte is relayed, so `finish` knows to wait for it.
                accepted.fetch_add(1, Ordering::SeqCst);
                let server = std::net::TcpStream::connect(&upstream).unwrap();
                let sent = sent.clone();
                std::thread::spawn(move || {
                    let bytes = relay(client.unwrap(), server);
                    sent.lock().unwrap().push(bytes);
                });
            }
        });
        proxy
    }

    /// Bytes sent upstream on each connection accepted, once all have closed (waits at
    /// most 10 s).
    fn finish(self) -> Vec<u64> {
        let give_up = Instant::now() + Duration::from_secs(10);
        while self.sent.lock().unwrap().len() < self.accepted.load(Ordering::SeqCst)
            && Instant::now() < give_up
        {
            std::thread::sleep(Duration::from_millis(10));
        }
        self.sent.lock().unwrap().clone()
    }
}

/// Copies both ways until the client closes; returns the bytes it sent.
fn relay(client: std::net::TcpStream, server: std::net::TcpStream) -> u64 {
    let (mut from_client, mut to_server) =
        (client.try_clone().unwrap(), server.try_clone().unwrap());
    let (mut from_server, mut to_client) = (server, client);
    let back = std::thread::spawn(move || std::io::copy(&mut from_server, &mut to_client));
    let sent = std::io::copy(&mut from_client, &mut to_server).unwrap_or(0);
    let _ = to_server.shutdown(std::net::Shutdown::Write);
    let _ = back.join();
    sent
}

/// Kills the server (by its PID) if the test ends before it stops it.
struct KillOnDrop(Option<Child>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn bench_spreads_its_calls_over_every_connection_it_is_asked_for() {
    let (server, addr) = serve(&[]);
    let mut server = KillOnDrop(Some(server));
    let proxy = CountingProxy::start(&addr);
    let (code, out, err) = rpc(&[
        "bench",
        "--addr",
        &proxy.addr,
        "--conns",
        "3",
        "--concurrency",
        "2",
        "--calls",
        "300",
        "--warmup",
        "0",
    ]);
    assert_eq!(code, 0, "{err}");
    for figure in [
        "calls_ok=300 ",
        "errors=0 ",
        "mismatches=0 ",
        "conns=3 ",
        "conns_failed=0 ",
        "threads=0", // several connections: one runtime thread per CPU by default
    ] {
        assert!(out.contains(figure), "{figure} in {out}");
    }
    let sent = proxy.finish();
    assert_eq!(sent.len(), 3, "connections the server saw: {sent:?}");
    assert!(
        sent.iter().all(|&bytes| bytes > 0),
        "calls on each: {sent:?}"
    );
    assert_eq!(terminate(server.0.take().unwrap()), 0);
}

#[test]
fn bench_refuses_more_connections_than_its_bound_as_a_usage_mistake() {
    for conns in ["0", "10001"] {
        let (code, _, err) = rpc(&["bench", "--addr", "127.0.0.1:1", "--conns", conns]);
        assert_eq!(code, 2, "--conns {conns}: {err}");
        assert!(err.contains("outside 1..=10000"), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}

#[test]
fn bench_goes_on_over_the_live_connections_when_one_is_lost() {
    // The server serves two connections; the third is accepted and closed at once.
    let (server, addr) = serve(&["--max-conns", "2"]);
    let mut server = KillOnDrop(Some(server));
    let (code, out, err) = rpc(&[
        "bench", "--addr", &addr, "--conns", "3", "--calls", "300", "--warmup", "0",
    ]);
    assert_eq!(code, 0, "{err}");
    // The lost connection's one caller fails once and stops; the others make every call.
    for figure in ["calls_ok=299 ", "errors=1 ", "conns=3 "] {
        assert!(out.contains(figure), "{figure} in {out}");
    }
    assert_eq!(terminate(server.0.take().unwrap()), 0);
}

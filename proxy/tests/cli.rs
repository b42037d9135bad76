//! `proxy tcp` and `proxy udp` as processes: the `listening on` line, a transcript recorded
//! to disk, SIGTERM ends them with exit 0, and one clear error line for mistakes.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use proxy::transcript::{Direction, Transcript};

fn proxy() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_proxy"));
    command.env_remove("RUST_LOG");
    command
}

/// Starts the proxy with stdout piped; returns it and its `listening on` address.
fn spawn(args: &[&str]) -> (Child, SocketAddr) {
    let mut child = proxy()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("first line was {line:?}"));
    (child, addr.trim_end().parse().unwrap())
}

/// Sends SIGTERM, checks exit 0, returns what the proxy wrote on stderr.
fn terminate(mut child: Child) -> String {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0), "{stderr}");
    stderr
}

/// A port nothing listens on (it was free a moment ago).
fn dead_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

#[test]
fn the_tcp_proxy_records_a_transcript_file_that_parses() {
    // Upstream: a one-shot echo that answers after the client's half-close.
    let upstream = TcpListener::bind("127.0.0.1:0").unwrap();
    let to = upstream.local_addr().unwrap().to_string();
    let echo = std::thread::spawn(move || {
        let (mut stream, _) = upstream.accept().unwrap();
        let mut got = Vec::new();
        stream.read_to_end(&mut got).unwrap();
        stream.write_all(&got).unwrap();
    });
    let file = std::env::temp_dir().join(format!("proxy-cli-test-{}.tr", std::process::id()));
    let record = file.to_str().unwrap();
    let (child, addr) = spawn(&[
        "tcp",
        "--listen",
        "127.0.0.1:0",
        "--to",
        &to,
        "--record",
        record,
    ]);
    let mut client = TcpStream::connect(addr).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    client.write_all(b"ping \x00\xff\n").unwrap();
    client.shutdown(std::net::Shutdown::Write).unwrap();
    let mut back = Vec::new();
    client.read_to_end(&mut back).unwrap();
    assert_eq!(back, b"ping \x00\xff\n");
    echo.join().unwrap();
    terminate(child);

    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::remove_file(&file).unwrap();
    let transcript = Transcript::parse(&text).unwrap();
    assert_eq!(
        transcript.stream(1, Direction::ClientToServer),
        b"ping \x00\xff\n"
    );
    assert_eq!(
        transcript.stream(1, Direction::ServerToClient),
        b"ping \x00\xff\n"
    );
    assert!(text.ends_with("[1] close\n"), "{text}");
}

#[test]
fn the_udp_proxy_prints_its_counters_when_stopped() {
    let (child, _addr) = spawn(&["udp", "--listen", "127.0.0.1:0", "--to", "127.0.0.1:9"]);
    let stderr = terminate(child);
    assert!(stderr.starts_with("forwarded=0 dropped=0 "), "{stderr}");
}

#[test]
fn runtime_mistakes_are_one_line_and_exit_1() {
    let held = TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = held.local_addr().unwrap().to_string();
    let cases: [(&[&str], &str); 2] = [
        (
            &[
                "tcp",
                "--listen",
                "127.0.0.1:0",
                "--to",
                "no-such-host.invalid:80",
            ],
            "cannot resolve no-such-host.invalid:80",
        ),
        (
            &["tcp", "--listen", &taken, "--to", "127.0.0.1:9"],
            "cannot listen on",
        ),
    ];
    for (args, needle) in cases {
        let output = proxy().args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("proxy: error: "), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
}

#[test]
fn usage_mistakes_exit_2() {
    let base = ["--listen", "127.0.0.1:0", "--to", "127.0.0.1:9"];
    for extra in [
        &["udp", "--loss", "1.5"][..],
        &["udp", "--delay-ms", "3600001"],
        &["udp", "--idle-ms", "0"],
        &["tcp", "--delay-ms", "60001"],
        &["tcp", "--throttle-kbps", "0"],
    ] {
        let mut args = vec![extra[0]];
        args.extend(base);
        args.extend(&extra[1..]);
        let out = proxy().args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
    assert_eq!(
        proxy().arg("nonsense").output().unwrap().status.code(),
        Some(2)
    );
}

#[test]
fn a_dead_upstream_resets_the_client_and_the_log_says_it_refused() {
    let dead = dead_port().to_string();
    let (child, addr) = spawn(&["tcp", "--listen", "127.0.0.1:0", "--to", &dead]);
    let mut client = TcpStream::connect(addr).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut byte = [0u8; 1];
    // A reset, not the clean end of stream an empty but successful answer would look like.
    let err = client.read(&mut byte).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset, "{err}");
    let stderr = terminate(child);
    assert!(
        stderr.contains(&format!("upstream {dead} refused the connection")),
        "{stderr}"
    );
}

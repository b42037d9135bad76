//! The `udp` binary: every `--help` and the demo as insta snapshots (ports redacted), the
//! server contract (first stdout line, port 0, signals, exit codes), clients fed on stdin.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn udp() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_udp"));
    c.env_remove("RUST_LOG");
    c
}

/// A server child process, killed (by PID) if the test fails before stopping it.
struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start(args: &[&str]) -> Server {
        Server::start_with_stderr(args, Stdio::null())
    }

    /// [`Server::start`] with the server's stderr going to `stderr` (`Stdio::piped()` to read it).
    fn start_with_stderr(args: &[&str], stderr: Stdio) -> Server {
        let mut command = udp();
        command.args(args).stderr(stderr);
        Server::spawn(command)
    }

    /// [`Server::start`] with `RUST_LOG=info` and the server's stderr piped, to read its log.
    fn start_logging(args: &[&str]) -> Server {
        let mut command = udp();
        command
            .args(args)
            .env("RUST_LOG", "info")
            .stderr(Stdio::piped());
        Server::spawn(command)
    }

    /// Spawns `command` and waits for its `listening on` line.
    fn spawn(mut command: Command) -> Server {
        let mut child = command.stdout(Stdio::piped()).spawn().unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut first)
            .unwrap();
        let addr = first
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("first line was {first:?}"))
            .trim()
            .to_string();
        Server { child, addr }
    }

    fn terminate(mut self) -> std::process::ExitStatus {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        for _ in 0..100 {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("server did not stop within 2 s of SIGTERM");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn client_with_stdin(args: &[&str], input: &str) -> std::process::Output {
    let mut child = udp()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn echo_server_and_client_over_the_cli() {
    for mode in ["async", "blocking", "batch"] {
        let server = Server::start(&["echo-server", "--bind", "127.0.0.1:0", "--mode", mode]);
        assert!(server.addr.starts_with("127.0.0.1:") && !server.addr.ends_with(":0"));
        let out = client_with_stdin(&["echo-client", &server.addr], "hello\nsecond line\n\n");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            "hello\nsecond line\n\n"
        );
        assert!(
            String::from_utf8(out.stderr)
                .unwrap()
                .contains("answered=3 lost=0")
        );
        assert_eq!(
            server.terminate().code(),
            Some(0),
            "{mode} server must exit 0 on SIGTERM"
        );
    }
}

#[test]
fn every_mode_with_one_or_two_threads_on_one_socket() {
    for (mode, threads) in [
        ("async", "1"),
        ("async", "2"),
        ("blocking", "2"),
        ("batch", "2"),
    ] {
        let args = [
            "echo-server",
            "--bind",
            "127.0.0.1:0",
            "--mode",
            mode,
            "--threads",
            threads,
        ];
        let server = Server::start(&args);
        let lines: String = (0..50).map(|i| format!("line {i}\n")).collect();
        let out = client_with_stdin(&["echo-client", &server.addr], &lines);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8(out.stdout).unwrap(), lines);
        assert_eq!(
            server.terminate().code(),
            Some(0),
            "{mode} --threads {threads}: every thread stops"
        );
    }
}

#[test]
fn the_batched_loop_runs_one_thread_by_default_the_others_one_per_cpu_up_to_two() {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    for (mode, threads) in [
        ("batch", 1),
        ("async", cpus.min(2)),
        ("blocking", cpus.min(2)),
    ] {
        let mut server =
            Server::start_logging(&["echo-server", "--bind", "127.0.0.1:0", "--mode", mode]);
        let out = client_with_stdin(&["echo-client", &server.addr], "one\n");
        assert_eq!(String::from_utf8(out.stdout).unwrap(), "one\n");
        let stderr = server.child.stderr.take().unwrap();
        assert_eq!(server.terminate().code(), Some(0));
        let log: Vec<String> = BufReader::new(stderr).lines().map(Result::unwrap).collect();
        let running = log
            .iter()
            .find(|l| l.contains("echo server running"))
            .unwrap_or_else(|| panic!("{mode}: no start line in {log:?}"));
        assert!(
            running.contains(&format!("mode=\"{mode}\""))
                && running.contains(&format!("threads={threads}")),
            "{mode}: expected threads={threads}: {running}"
        );
    }
}

#[test]
fn ipv6_server_prints_bracketed_address() {
    let server = Server::start(&["echo-server", "--bind", "[::1]:0"]);
    assert!(server.addr.starts_with("[::1]:"), "{}", server.addr);
    let out = client_with_stdin(&["echo-client", &server.addr], "six\n");
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "six\n");
    assert_eq!(server.terminate().code(), Some(0));
}

#[test]
fn quote_server_and_client_over_the_cli() {
    let dir = std::env::temp_dir().join(format!("udp-cli-quotes-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("quotes.txt");
    std::fs::write(&file, "# test quotes\nfirst quote\nsecond quote\n").unwrap();
    let server = Server::start(&[
        "quote-server",
        "--bind",
        "127.0.0.1:0",
        "--quotes",
        file.to_str().unwrap(),
    ]);
    let out = udp()
        .args(["quote-client", &server.addr, "--count", "3"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "#0 first quote\n#1 second quote\n#0 first quote\n"
    );
    assert_eq!(server.terminate().code(), Some(0));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn echo_client_without_server_reports_loss_and_exits_1() {
    let out = client_with_stdin(
        &[
            "echo-client",
            "127.0.0.1:9",
            "--timeout-ms",
            "10",
            "--retries",
            "1",
        ],
        "x\n",
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("no reply after 2 attempts"), "{err}");
    assert!(err.contains("1 of 1 lines got no echo"), "{err}");
}

#[test]
fn user_mistakes_are_one_line_errors() {
    // Usage errors: exit 2.
    for args in [
        &["echo-server", "--mode", "fast"][..],
        &["nonsense"],
        &["echo-server", "--bind", "not an address"],
        &["echo-server", "--bind", "127.0.0.1:70000"],
        &["echo-client", "localhost"],
        &["quote-client", "127.0.0.1:99999"],
        &[
            "bench",
            "echo",
            "--addr",
            "127.0.0.1:9",
            "--duration-s",
            "0",
        ],
        &["bench", "echo", "--addr", "127.0.0.1:9", "--size", "70000"],
        &["echo-server", "--threads", "0", "--mode", "blocking"],
        &["echo-server", "--threads", "65", "--mode", "batch"],
        &["echo-server", "--recv-buffer", "0"],
    ] {
        let out = udp().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("udp: error: "), "{args:?}: {err}");
    }
    // Runtime errors: exit 1, one line naming the problem.
    let raw = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).unwrap();
    raw.bind(
        &"127.0.0.1:0"
            .parse::<std::net::SocketAddr>()
            .unwrap()
            .into(),
    )
    .unwrap();
    let exclusive = raw.local_addr().unwrap().as_socket().unwrap().to_string();
    for (args, needle) in [
        (
            vec!["echo-server", "--bind", &exclusive],
            "Address already in use",
        ),
        (
            vec![
                "quote-server",
                "--bind",
                "127.0.0.1:0",
                "--quotes",
                "/nonexistent/quotes.txt",
            ],
            "quotes file",
        ),
    ] {
        let out = udp().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

#[test]
fn bench_echo_ends_with_key_value_line() {
    let server = Server::start(&["echo-server", "--bind", "127.0.0.1:0"]);
    let out = udp()
        .args([
            "bench",
            "echo",
            "--addr",
            &server.addr,
            "--senders",
            "2",
            "--size",
            "100",
            "--duration-s",
            "0.3",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    let last = stdout.lines().last().unwrap();
    for key in [
        "datagrams_per_s=",
        "lost=",
        "loss_pct=",
        "p50_us=",
        "p99_us=",
        "mismatches=0",
    ] {
        assert!(last.contains(key), "{last}");
    }
    let received: u64 = last
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("received="))
        .unwrap()
        .parse()
        .unwrap();
    assert!(received > 0, "{last}");
    assert_eq!(server.terminate().code(), Some(0));
}

#[test]
fn out_of_range_times_are_usage_errors() {
    for args in [
        &["echo-client", "127.0.0.1:9", "--timeout-ms", "0"][..],
        &[
            "echo-client",
            "127.0.0.1:9",
            "--timeout-ms",
            "18446744073709551615",
        ],
    ] {
        let out = udp().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!String::from_utf8(out.stderr).unwrap().contains("panicked"));
    }
}

#[test]
fn a_garbage_flood_writes_a_bounded_number_of_warning_lines() {
    let mut server =
        Server::start_with_stderr(&["quote-server", "--bind", "127.0.0.1:0"], Stdio::piped());
    let addr: std::net::SocketAddr = server.addr.parse().unwrap();
    let started = std::time::Instant::now();
    let attacker = udp::DatagramSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    for i in 0..5_000u32 {
        let _ = attacker.send_to(&i.to_be_bytes(), addr); // 4 bytes: never a request
    }
    // One more after the throttle's 1 s window: it comes with the count of what was held back.
    std::thread::sleep(Duration::from_millis(1_100));
    let _ = attacker.send_to(b"late", addr);
    let out = udp().args(["quote-client", &server.addr]).output().unwrap();
    assert!(out.status.success(), "the good client was answered");
    let elapsed = started.elapsed().as_secs() + 1;
    let stderr = server.child.stderr.take().unwrap();
    assert_eq!(server.terminate().code(), Some(0));
    let lines: Vec<String> = BufReader::new(stderr).lines().map(Result::unwrap).collect();
    // At most 10 warnings and 1 summary per second of flood (the limit is per 1 s window).
    let bound = 11 * (elapsed as usize + 1);
    assert!(
        lines.len() <= bound,
        "{} stderr lines for 5,001 garbage datagrams in about {elapsed} s (bound {bound})",
        lines.len()
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("similar warnings suppressed")),
        "{lines:?}"
    );
}

//! The `tcp` binary as a user meets it: the `listening on` line and SIGTERM, and one clear
//! error line (exit 1) for the usual mistakes. Its `--help` and `demo` are snapshotted once,
//! in the workspace's `tests/` crate.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use tcp::echo::{EchoServer, Mode};
use tcp::server::ServerLimits;

fn tcp() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tcp"));
    command.env_remove("RUST_LOG");
    command
}

fn run(args: &[&str]) -> Output {
    tcp().args(args).output().expect("run tcp")
}

/// Asserts exit code 1 and exactly one stderr line containing every `needles`.
fn assert_one_line_error(output: &Output, needles: &[&str]) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "stderr: {stderr}");
    assert_eq!(
        stderr.lines().count(),
        1,
        "expected one line, got: {stderr}"
    );
    for needle in needles {
        assert!(stderr.contains(needle), "{needle:?} missing from: {stderr}");
    }
    // The OS error once, and at most one hint.
    assert!(stderr.matches("os error").count() <= 1, "{stderr}");
    assert!(stderr.matches("hint").count() <= 1, "{stderr}");
}

#[test]
fn a_port_in_use_is_one_line_and_exit_1() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    for mode in ["blocking", "async"] {
        let output = run(&["echo-server", "--bind", &addr, "--mode", mode]);
        assert_one_line_error(
            &output,
            &["cannot listen on", &addr, "in use", "--bind", "os error"],
        );
    }
}

#[test]
fn an_unresolvable_host_is_one_line_and_exit_1() {
    let output = run(&["echo-client", "no-such-host.invalid:7007"]);
    assert_one_line_error(&output, &["cannot resolve", "no-such-host.invalid:7007"]);
}

#[test]
fn a_refused_connection_is_one_line_and_exit_1() {
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = closed.local_addr().unwrap().to_string();
    drop(closed);
    let output = run(&["echo-client", &addr]);
    assert_one_line_error(&output, &["cannot connect to", &addr, "refused"]);
}

#[test]
fn a_usage_mistake_exits_2() {
    for args in [
        &["echo-server", "--mode", "sideways"][..],
        &["echo-server", "--bind", "127.0.0.1:99999"],
        &["echo-server", "--own-threads", "1025"],
        &["echo-client", "no-port-here"],
        &["echo-client"],
    ] {
        let output = run(args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("tcp: error: "), "{args:?}: {stderr}");
    }
}

#[test]
fn echo_client_prints_the_echo_of_its_input() {
    for mode in [Mode::Blocking, Mode::Async] {
        let loopback: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let server = EchoServer::start(mode, loopback, ServerLimits::default()).unwrap();
        let mut client = tcp()
            .args(["echo-client", &server.local_addr().to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        client.stdin.take().unwrap().write_all(b"hi\n").unwrap(); // dropped: end of input
        let output = client.wait_with_output().unwrap();
        assert!(output.status.success());
        assert_eq!(output.stdout, b"hi\n");
        server.stop().unwrap();
    }
}

/// A server process that is killed (by its PID, through `Child::kill`) if a test fails
/// before it could stop the server itself, so no failed test leaves a process behind.
struct Server(Child);

impl Server {
    fn wait(&mut self) -> std::io::Result<std::process::ExitStatus> {
        self.0.wait()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Starts `tcp echo-server` with `extra` flags on port 0; returns it and its address.
fn spawn_server(extra: &[&str]) -> (Server, SocketAddr) {
    spawn_server_on("127.0.0.1:0", extra)
}

/// Starts `tcp echo-server --bind BIND` with `extra` flags; returns it and its address.
fn spawn_server_on(bind: &str, extra: &[&str]) -> (Server, SocketAddr) {
    let mut child = tcp()
        .args(["echo-server", "--bind", bind])
        .args(extra)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let addr = read_listening_line(&mut child);
    (Server(child), addr)
}

fn read_listening_line(child: &mut Child) -> SocketAddr {
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(
        line.ends_with('\n'),
        "the line is complete and flushed: {line:?}"
    );
    let addr = line
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("first line was {line:?}"));
    addr.trim_end().parse().unwrap()
}

fn echo_once(addr: SocketAddr, data: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(data).unwrap();
    stream.shutdown(std::net::Shutdown::Write).unwrap();
    let mut back = Vec::new();
    stream.read_to_end(&mut back).unwrap();
    back
}

fn send_signal(server: &Server, signal: &str) {
    let status = Command::new("kill")
        .args([signal, &server.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn the_server_prints_its_address_serves_and_exits_0_on_sigterm_and_sigint() {
    for (mode, signal) in [("blocking", "-TERM"), ("async", "-TERM"), ("async", "-INT")] {
        let (mut server, addr) = spawn_server(&["--mode", mode]);
        assert_eq!(addr.ip().to_string(), "127.0.0.1");
        assert_eq!(echo_once(addr, b"ping\n"), b"ping\n");
        send_signal(&server, signal);
        let status = server.wait().unwrap();
        assert_eq!(status.code(), Some(0), "{mode} after {signal}");
    }
}

#[test]
fn an_ipv6_server_prints_a_bracketed_address() {
    let (mut server, addr) = spawn_server_on("[::1]:0", &["--mode", "async"]);
    assert!(addr.is_ipv6());
    assert_eq!(echo_once(addr, b"v6\n"), b"v6\n");
    send_signal(&server, "-TERM");
    assert_eq!(server.wait().unwrap().code(), Some(0));
}

#[test]
fn running_out_of_file_descriptors_backs_off_and_recovers() {
    for mode in ["blocking", "async"] {
        let command = format!(
            "ulimit -n 32 && exec {} echo-server --bind 127.0.0.1:0 --mode {mode}",
            env!("CARGO_BIN_EXE_tcp")
        );
        let child = Command::new("sh")
            .args(["-c", &command])
            .stdout(Stdio::piped())
            .stderr(Stdio::null()) // one warning per refused accept: expected here
            .spawn()
            .unwrap();
        let mut server = Server(child);
        let addr = read_listening_line(&mut server.0);
        // More clients than descriptors: accept(2) fails with EMFILE for some of them.
        let flood: Vec<TcpStream> = (0..48).map(|_| TcpStream::connect(addr).unwrap()).collect();
        std::thread::sleep(Duration::from_millis(500));
        let cpu = cpu_ticks(server.0.id());
        assert!(
            cpu < 25,
            "{mode}: {cpu} ticks of CPU in 0.5 s: accept is spinning"
        );
        drop(flood);
        assert_eq!(
            server.0.try_wait().unwrap(),
            None,
            "{mode}: the server died"
        );
        assert_eq!(echo_once(addr, b"still here\n"), b"still here\n", "{mode}");
        send_signal(&server, "-TERM");
        assert_eq!(server.wait().unwrap().code(), Some(0), "{mode}");
    }
}

/// User plus system CPU time of a process, in clock ticks (`/proc/PID/stat`, `proc(5)`).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after_name.split(' ').collect();
    // Fields 14 and 15 of the full line (utime, stime) are 11 and 12 after the name.
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

#[test]
fn refused_connections_are_logged_at_most_ten_a_second() {
    for mode in ["blocking", "async"] {
        let mut child = tcp()
            .args(["echo-server", "--bind", "127.0.0.1:0", "--mode", mode])
            .args(["--max-conns", "1"])
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let addr = read_listening_line(&mut child);
        let mut server = Server(child);
        let mut held = TcpStream::connect(addr).unwrap();
        held.write_all(b"x").unwrap();
        held.read_exact(&mut [0u8; 1]).unwrap(); // the one slot is taken
        for _ in 0..300 {
            let _ = TcpStream::connect(addr); // each is accepted and closed at once
        }
        send_signal(&server, "-TERM");
        assert_eq!(server.wait().unwrap().code(), Some(0), "{mode}");
        let mut stderr = String::new();
        server
            .0
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        let refused = stderr.matches("connection cap reached").count();
        // 300 refusals in well under a second: ten lines, perhaps a second burst of ten.
        assert!(
            (1..=20).contains(&refused),
            "{mode}: {refused} warning lines for 300 refused connections"
        );
    }
}

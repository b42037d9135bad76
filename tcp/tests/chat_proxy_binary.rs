//! `tcp chat-server` and `tcp chat-client` as processes: the `listening on` line, two chat
//! clients talking, SIGTERM, and one clear error line for mistakes.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn tcp() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tcp"));
    command.env_remove("RUST_LOG");
    command
}

/// Starts a server subcommand with stdout piped; returns it and its `listening on` address.
fn spawn_server(args: &[&str]) -> (Child, SocketAddr) {
    let mut child = tcp()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
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

fn terminate(mut child: Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(
        child.wait().unwrap().code(),
        Some(0),
        "a server exits 0 on SIGTERM"
    );
}

fn read_line(reader: &mut impl BufRead) -> String {
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    line
}

#[test]
fn two_chat_clients_talk_through_the_server_and_sigterm_ends_it_cleanly() {
    let (server, addr) = spawn_server(&["chat-server", "--bind", "127.0.0.1:0"]);
    let mut alice = tcp()
        .args(["chat-client", &addr.to_string(), "--name", "alice"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut alice_screen = BufReader::new(alice.stdout.take().unwrap());
    assert_eq!(read_line(&mut alice_screen), "* alice joined\n");

    // bob: a raw socket, so the test controls the timing.
    let mut bob = TcpStream::connect(addr).unwrap();
    bob.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    bob.write_all(b"bob\n").unwrap();
    let mut bob_screen = BufReader::new(bob.try_clone().unwrap());
    assert_eq!(read_line(&mut bob_screen), "* bob joined\n");
    assert_eq!(read_line(&mut alice_screen), "* bob joined\n");

    alice
        .stdin
        .as_mut()
        .unwrap()
        .write_all(b"hello from a process\n")
        .unwrap();
    assert_eq!(read_line(&mut bob_screen), "alice: hello from a process\n");
    bob.write_all(b"hi\n").unwrap();
    assert_eq!(read_line(&mut alice_screen), "bob: hi\n");

    drop(alice.stdin.take()); // end of input: the client half-closes and leaves
    assert_eq!(read_line(&mut bob_screen), "* alice left\n");
    assert!(alice.wait().unwrap().success());
    terminate(server);
    assert_eq!(read_line(&mut bob_screen), "* server shutting down\n");
}

#[test]
fn mistakes_are_one_line_and_exit_1() {
    // Nothing listens on a port that was just free.
    let free = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let cases: [(&[&str], &str); 2] = [
        (
            &["chat-client", &free.to_string(), "--name", "alice"],
            "cannot connect",
        ),
        (
            &["chat-client", "127.0.0.1:1", "--name", "two words"],
            "no spaces",
        ),
    ];
    for (args, needle) in cases {
        let output = tcp().args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
}

#[test]
fn usage_mistakes_are_one_line_and_exit_2() {
    let cases: [(&[&str], &str); 3] = [
        // A server binds an address it owns: IP:PORT, not a name.
        (
            &["chat-server", "--bind", "no-such-host.invalid:7070"],
            "not a name",
        ),
        (&["chat-server", "--bind", "127.0.0.1:70000"], "70000"),
        // Flags that do not fit together.
        (
            &["chat-server", "--queue-bytes", "4096"],
            "--queue-bytes 4096 is too small",
        ),
    ];
    for (args, needle) in cases {
        let output = tcp().args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("tcp: error: "), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
}

#[test]
fn bench_chat_checks_every_delivery_and_ends_with_one_key_value_line() {
    let (server, addr) = spawn_server(&["chat-server", "--bind", "127.0.0.1:0"]);
    let output = tcp()
        .args(["bench", "chat", "--addr", &addr.to_string()])
        .args(["--clients", "8", "--senders", "3", "--messages", "40"])
        .output()
        .unwrap();
    terminate(server);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    let last = stdout.lines().last().unwrap();
    // 3 senders hear 2 others, 5 listeners hear all 3: (3 * 2 + 5 * 3) * 40 deliveries.
    for expected in [
        "expected=840",
        "delivered=840",
        "missing=0",
        "reordered=0",
        "errors=0",
    ] {
        assert!(
            last.split(' ').any(|kv| kv == expected),
            "{expected} not in {last}"
        );
    }
}

#[test]
fn a_queue_too_small_for_the_longest_line_is_a_usage_error() {
    let output = tcp()
        .args([
            "chat-server",
            "--bind",
            "127.0.0.1:0",
            "--max-line",
            "100000",
            "--queue-bytes",
            "65536",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--queue-bytes 65536 is too small for --max-line 100000"),
        "{stderr}"
    );
}

//! The `multicast` binary as a user runs it, on 127.0.0.1 with TTL 1: `listen` joins a group
//! (port 0: it prints the port it got), `send` delivers to it, `chat` instances hear each other.

use suite_tests::{Proc, Server};

/// The suite's default group (administratively scoped, CONVENTIONS).
const GROUP: &str = "239.255.42.99";

fn listener(extra: &[&str]) -> Server {
    let mut args = vec!["listen", "--group", "239.255.42.99:0"];
    args.extend_from_slice(extra);
    Server::start("multicast", &args)
}

fn send(port: u16, message: &str) {
    let group = format!("{GROUP}:{port}");
    let (code, _, stderr) =
        suite_tests::process::run("multicast", &["send", "--group", &group, message], b"");
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn listen_prints_the_sender_and_text_of_each_datagram() {
    let mut listener = listener(&[]);
    assert_eq!(listener.addr().ip().to_string(), GROUP);
    let port = listener.addr().port();
    send(port, "hello group");
    let line = listener.expect_line();
    assert!(line.starts_with("127.0.0.1:"), "{line}");
    assert!(line.ends_with(": hello group"), "{line}");
    listener.stop();
}

#[test]
fn listen_with_count_exits_0_by_itself() {
    let mut listener = listener(&["--count", "2"]);
    let port = listener.addr().port();
    send(port, "one");
    send(port, "two");
    assert!(listener.expect_line().ends_with(": one"));
    assert!(listener.expect_line().ends_with(": two"));
    listener.assert_exits_ok();
}

#[test]
fn two_chat_instances_hear_each_other_and_not_themselves() {
    // A fixed port is needed so both join the same group:port; pick one the kernel says is free.
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let group = format!("{GROUP}:{port}");
    let mut alice = Proc::spawn("multicast", &["chat", "--group", &group, "--name", "alice"]);
    let mut bob = Proc::spawn("multicast", &["chat", "--group", &group, "--name", "bob"]);
    // Each chat says when it has joined; after that a line sent is a line heard.
    let _ = alice.expect_line();
    let _ = bob.expect_line();
    alice.write_line("hi bob");
    bob.expect_line_eq("alice: hi bob");
    bob.write_line("hi alice");
    alice.expect_line_eq("bob: hi alice");
    alice.close_stdin();
    bob.close_stdin();
    alice.assert_exits_ok();
    bob.assert_exits_ok();
}

#[test]
fn sigint_stops_a_listener_with_exit_0() {
    let mut listener = listener(&[]);
    listener.signal("INT");
    listener.assert_exits_ok();
}

//! Two "machines" on one LAN, the README's recipe run for real: two private network namespaces
//! joined by a veth pair, each end with its own IPv4 address (198.18.0.0/24, the benchmarking
//! range, which exists only inside these namespaces). Each side passes its OWN address as
//! `--interface`, exactly as on two real machines. Skipped, with the reason printed, where
//! namespaces cannot be created.

mod common;

use std::time::Duration;

use common::netns::{Netns, or_skip};

const WAIT: Duration = Duration::from_secs(5);
const HOST_A: &str = "198.18.0.1";
const HOST_B: &str = "198.18.0.2";

/// Namespaces A and B linked by `lan0`, or why the test is skipped.
fn two_hosts(tag: &str) -> Result<(Netns, Netns), String> {
    or_skip(|| {
        let a = Netns::create(&format!("{tag}a"))?;
        let b = Netns::create(&format!("{tag}b"))?;
        Netns::link(
            &a,
            &format!("{HOST_A}/24"),
            &b,
            &format!("{HOST_B}/24"),
            "lan0",
        )?;
        Ok((a, b))
    })
}

#[test]
fn listen_on_one_host_hears_send_on_the_other() {
    let (a, b) = match two_hosts("lan") {
        Ok(hosts) => hosts,
        Err(why) => support::skip!("{why}"),
    };
    let mut listener = a.multicast(&[
        "listen",
        "--group",
        "239.255.42.99:4446",
        "--interface",
        HOST_A,
        "--count",
        "1",
    ]);
    assert_eq!(listener.line(WAIT), "listening on 239.255.42.99:4446");
    let (code, out) = b.run_multicast(&[
        "send",
        "--group",
        "239.255.42.99:4446",
        "--interface",
        HOST_B,
        "across the LAN",
    ]);
    assert_eq!(code, 0, "{out}");
    let line = listener.line(WAIT);
    assert!(
        line.starts_with(&format!("{HOST_B}:")) && line.ends_with(": across the LAN"),
        "{line}"
    );
    assert_eq!(listener.wait_exit(WAIT), Some(0));
}

#[test]
fn a_listener_on_the_default_loopback_interface_hears_nothing_from_the_lan() {
    // The safe default: without --interface a listener joins on 127.0.0.1, and the LAN's
    // datagrams never reach it. (Checklist item 1 of `multicast doctor`.) It is the only socket
    // on its port: see the README on two sockets sharing a port across interfaces.
    let (a, b) = match two_hosts("deaf") {
        Ok(hosts) => hosts,
        Err(why) => support::skip!("{why}"),
    };
    let mut deaf = a.multicast(&["listen", "--group", "239.255.42.99:4446", "--count", "1"]);
    deaf.line(WAIT);
    let (code, out) = b.run_multicast(&[
        "send",
        "--group",
        "239.255.42.99:4446",
        "--interface",
        HOST_B,
        "from the LAN",
    ]);
    assert_eq!(code, 0, "{out}");
    a.run_multicast(&["send", "--group", "239.255.42.99:4446", "local"]);
    // Its first datagram is the local one: the LAN one never came.
    assert!(deaf.line(WAIT).ends_with(": local"), "{:?}", deaf.seen);
}

#[test]
fn chat_between_two_hosts() {
    let (a, b) = match two_hosts("chat") {
        Ok(hosts) => hosts,
        Err(why) => support::skip!("{why}"),
    };
    let mut alice = a.multicast(&["chat", "--name", "alice", "--interface", HOST_A]);
    alice.line(WAIT);
    let mut bob = b.multicast(&["chat", "--name", "bob", "--interface", HOST_B]);
    bob.line(WAIT);
    assert_eq!(alice.line(WAIT), "* bob joined");
    alice.write_line("hello from A");
    assert_eq!(bob.line(WAIT), "alice: hello from A");
    bob.write_line("hello from B");
    assert_eq!(alice.line(WAIT), "bob: hello from B");
    alice.close_stdin();
    bob.close_stdin();
    assert_eq!(alice.wait_exit(WAIT), Some(0));
    assert_eq!(bob.wait_exit(WAIT), Some(0));
}

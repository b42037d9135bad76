//! `SO_BROADCAST` (Java: `setBroadcast`) for real, inside a private network namespace this test
//! creates and deletes: a veth pair with 198.18.1.1/24 (a benchmarking range that exists only in
//! that namespace), broadcast address 198.18.1.255. Nothing reaches the machine's own network.
//!
//! The outer test builds the namespace and runs this same test binary inside it
//! (`ip netns exec`), with an environment variable telling it to do the socket part. Without
//! root, without `ip`, or where the kernel refuses namespaces (`EPERM`), it is skipped with one
//! visible line.

mod common;

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use udp::{DatagramPacket, DatagramSocket};

const INNER: &str = "UDP_BROADCAST_INNER";
const HOST: &str = "198.18.1.1/24";
const BROADCAST: [u8; 4] = [198, 18, 1, 255];

/// A namespace deleted when dropped.
struct Netns(String);

impl Netns {
    /// Creates the namespace, or says why this test must be skipped (no root, no `ip`, `EPERM`).
    fn create(name: &str) -> Result<Netns, String> {
        support::require::root("for network namespaces")?;
        support::require::command("ip", "apt-get install iproute2")?;
        if let Err(why) = try_ip(&["netns", "add", name]) {
            if common::is_permission_error(&why) {
                return Err(format!(
                    "network namespaces are not permitted here (run as root outside a container, or see tests/lab): {why}"
                ));
            }
            panic!("{why}");
        }
        let ns = Netns(name.to_string());
        for args in [
            &["link", "set", "lo", "up"][..],
            &["link", "add", "bc0", "type", "veth", "peer", "name", "bc1"],
            &["addr", "add", HOST, "brd", "+", "dev", "bc0"],
            &["link", "set", "bc0", "up"],
            &["link", "set", "bc1", "up"],
        ] {
            ip(&[&["-n", name][..], args].concat());
        }
        Ok(ns)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// Runs `ip ARGS`; its stderr as the error when it fails.
fn try_ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip {args:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {args:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Runs `ip ARGS`, which must work once the namespace exists.
fn ip(args: &[&str]) {
    if let Err(why) = try_ip(args) {
        panic!("{why}");
    }
}

#[test]
fn broadcast_needs_so_broadcast() {
    if std::env::var_os(INNER).is_some() {
        return inside_the_namespace();
    }
    let ns = match Netns::create(&format!("udpbc{}", std::process::id())) {
        Ok(ns) => ns,
        Err(why) => support::skip!("{why}"),
    };
    let out = Command::new("ip")
        .args(["netns", "exec", &ns.0])
        .arg(std::env::current_exe().unwrap())
        .args(["broadcast_needs_so_broadcast", "--exact", "--nocapture"])
        .env(INNER, "1")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "inner test failed:\n{text}");
    assert!(
        text.contains("1 passed"),
        "the inner test did not run:\n{text}"
    );
}

fn inside_the_namespace() {
    // Broadcasts are delivered to sockets bound to the wildcard address (or the broadcast
    // address itself), not to one bound to a unicast address.
    let receiver = DatagramSocket::bind("0.0.0.0:0".parse().unwrap()).unwrap();
    receiver
        .set_so_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let to = SocketAddr::from((BROADCAST, receiver.local_addr().unwrap().port()));
    let sender = DatagramSocket::bind("198.18.1.1:0".parse().unwrap()).unwrap();

    assert!(!sender.broadcast().unwrap());
    let refused = sender.send_to(b"to everyone", to).unwrap_err();
    assert_eq!(
        refused.io_kind(),
        Some(std::io::ErrorKind::PermissionDenied),
        "{refused}"
    );

    sender.set_broadcast(true).unwrap();
    sender.send_to(b"to everyone", to).unwrap();
    let mut inbox = DatagramPacket::with_capacity(100);
    receiver.receive(&mut inbox).unwrap();
    assert_eq!(inbox.data(), b"to everyone");
    assert_eq!(inbox.peer(), Some(sender.local_addr().unwrap()));
}

//! IPv6 multicast over a veth pair inside a private network namespace this test creates.
//!
//! A loopback device carries no IPv6 multicast, so each test builds its own link:
//! `ip netns add`, then inside it `ip link add v0 type veth peer name v1`, both ends up, with
//! duplicate address detection off so the link-local addresses are usable at once. Our binary
//! runs inside through `ip netns exec NAME multicast ...`. A guard deletes the namespace (and
//! with it the veth pair) on every exit path, and the names carry the process id so parallel
//! runs never collide. Where namespaces cannot be created (not root, no `ip`), each test prints
//! why and is skipped.

mod common;

use std::process::Command;
use std::time::Duration;

use common::Proc;

const WAIT: Duration = Duration::from_secs(5);
const BIN: &str = env!("CARGO_BIN_EXE_multicast");

/// A network namespace with a veth pair v0 <-> v1, deleted on drop.
struct Netns {
    name: String,
}

impl Netns {
    /// Creates `mc-<pid>-<tag>` with the veth pair; `Err` says why it could not.
    fn create(tag: &str) -> Result<Netns, String> {
        let name = format!("mc-{}-{tag}", std::process::id());
        ip(&["netns", "add", &name])?;
        let ns = Netns { name }; // from here on, Drop deletes it whatever happens
        for sysctl in [
            "net.ipv6.conf.all.accept_dad=0",
            "net.ipv6.conf.default.accept_dad=0",
        ] {
            ns.exec(&["sysctl", "-qw", sysctl])?;
        }
        ns.exec(&[
            "ip", "link", "add", "v0", "type", "veth", "peer", "name", "v1",
        ])?;
        for dev in ["lo", "v0", "v1"] {
            ns.exec(&["ip", "link", "set", dev, "up"])?;
        }
        Ok(ns)
    }

    /// Runs a command inside the namespace to completion.
    fn exec(&self, args: &[&str]) -> Result<String, String> {
        let mut full = vec!["netns", "exec", &self.name];
        full.extend_from_slice(args);
        ip(&full)
    }

    /// Starts our binary inside the namespace.
    fn multicast(&self, args: &[&str]) -> Proc {
        let mut full = vec!["netns", "exec", &self.name, BIN];
        full.extend_from_slice(args);
        Proc::spawn("ip", &full)
    }

    /// Runs our binary inside the namespace to completion: (exit code, stdout).
    fn run_multicast(&self, args: &[&str]) -> (i32, String) {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.name, BIN])
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if let Err(e) = ip(&["netns", "del", &self.name]) {
            eprintln!("could not delete network namespace {}: {e}", self.name);
        }
    }
}

/// Runs `ip args...`; its stdout, or stderr as the error.
fn ip(args: &[&str]) -> Result<String, String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip {}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The namespace, or `None` after printing why the test is skipped.
fn netns_or_skip(tag: &str) -> Option<Netns> {
    match Netns::create(tag) {
        Ok(ns) => Some(ns),
        Err(why) => {
            eprintln!(
                "SKIPPED: IPv6 multicast test needs a network namespace and could not create one: {why}"
            );
            None
        }
    }
}

/// The port in a `listening on [group%scope]:PORT` line.
fn port_of(listening: &str) -> String {
    assert!(listening.starts_with("listening on [ff02::"), "{listening}");
    listening
        .rsplit_once("]:")
        .map(|(_, port)| port.to_string())
        .unwrap()
}

#[test]
fn ipv6_listeners_on_v0_receive_what_v1_sends_and_doctor_sees_the_join() {
    let Some(ns) = netns_or_skip("recv") else {
        return;
    };
    let mut a = ns.multicast(&[
        "listen",
        "--group",
        "[ff02::4242]:0",
        "--interface",
        "v0",
        "--count",
        "1",
    ]);
    let port = port_of(&a.line(WAIT));
    let group = format!("[ff02::4242]:{port}");
    let mut b = ns.multicast(&[
        "listen",
        "--group",
        &group,
        "--interface",
        "v0",
        "--count",
        "1",
    ]);
    b.line(WAIT);

    let (_, doctor) = ns.run_multicast(&["doctor"]);
    let joined = doctor
        .lines()
        .find(|l| l.contains("v0") && l.contains("ff02::4242"));
    assert!(
        joined.is_some_and(|l| l.trim_end().ends_with("users 2")),
        "{doctor}"
    );

    let (code, out) = ns.run_multicast(&[
        "send",
        "--group",
        &group,
        "--interface",
        "v1",
        "hello over veth",
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("from [fe80::"),
        "the sender binds v1's link-local address: {out}"
    );
    for p in [&mut a, &mut b] {
        let line = p.line(WAIT);
        assert!(
            line.starts_with("[fe80::") && line.ends_with(": hello over veth"),
            "{line}"
        );
        assert_eq!(p.wait_exit(WAIT), Some(0));
    }
}

#[test]
fn ipv6_a_listener_joined_to_another_group_receives_nothing() {
    let Some(ns) = netns_or_skip("other") else {
        return;
    };
    let mut mine = ns.multicast(&[
        "listen",
        "--group",
        "[ff02::4242]:0",
        "--interface",
        "v0",
        "--count",
        "1",
    ]);
    let port = port_of(&mine.line(WAIT));
    let mut other = ns.multicast(&[
        "listen",
        "--group",
        &format!("[ff02::4243]:{port}"),
        "--interface",
        "v0",
        "--count",
        "1",
    ]);
    other.line(WAIT);

    ns.run_multicast(&[
        "send",
        "--group",
        &format!("[ff02::4242]:{port}"),
        "--interface",
        "v1",
        "for 4242",
    ]);
    ns.run_multicast(&[
        "send",
        "--group",
        &format!("[ff02::4243]:{port}"),
        "--interface",
        "v1",
        "for 4243",
    ]);
    assert!(mine.line(WAIT).ends_with(": for 4242"));
    // The other group's listener sees only its own group's datagram, never the first one.
    assert!(other.line(WAIT).ends_with(": for 4243"));
}

#[test]
fn ipv6_loop_off_hides_a_datagram_from_the_sending_interface_but_not_from_the_link() {
    let Some(ns) = netns_or_skip("loop") else {
        return;
    };
    // `near` is joined on v0, the interface the sender uses; `far` on v1, the other end.
    let mut near = ns.multicast(&[
        "listen",
        "--group",
        "[ff02::4242]:0",
        "--interface",
        "v0",
        "--count",
        "1",
    ]);
    let port = port_of(&near.line(WAIT));
    let group = format!("[ff02::4242]:{port}");
    let mut far = ns.multicast(&[
        "listen",
        "--group",
        &group,
        "--interface",
        "v1",
        "--count",
        "2",
    ]);
    far.line(WAIT);

    ns.run_multicast(&[
        "send",
        "--group",
        &group,
        "--interface",
        "v0",
        "--loop",
        "false",
        "first",
    ]);
    ns.run_multicast(&[
        "send",
        "--group",
        &group,
        "--interface",
        "v0",
        "--loop",
        "true",
        "second",
    ]);
    assert!(
        far.line(WAIT).ends_with(": first"),
        "the wire carries it whatever the loop mode"
    );
    assert!(far.line(WAIT).ends_with(": second"));
    // With loop off there was no local copy of "first" for v0's listener: its first line is "second".
    assert!(near.line(WAIT).ends_with(": second"), "{:?}", near.seen);
}

#[test]
fn the_namespace_is_gone_after_the_guard_drops() {
    let Some(ns) = netns_or_skip("gone") else {
        return;
    };
    let name = ns.name.clone();
    assert!(ip(&["netns", "list"]).unwrap().contains(&name));
    drop(ns);
    assert!(!ip(&["netns", "list"]).unwrap().contains(&name));
}

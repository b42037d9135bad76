//! IPv6 multicast over a veth pair inside a private network namespace this test creates.
//!
//! A loopback device carries no IPv6 multicast, so each test builds its own link:
//! `ip netns add`, then inside it `ip link add v0 type veth peer name v1`, both ends up, with
//! duplicate address detection off so the link-local addresses are usable at once. Our binary
//! runs inside through `ip netns exec NAME multicast ...`. A guard deletes the namespace (and
//! with it the veth pair) on every exit path, and the names carry the process id so parallel
//! runs never collide. Without root, without `ip`, or where the kernel refuses namespaces (`EPERM`),
//! each test prints one `skipped:` line and passes.

mod common;

use std::time::Duration;

use common::netns::{Netns, ip, or_skip};

const WAIT: Duration = Duration::from_secs(5);

/// A namespace with a veth pair v0 <-> v1, or why the test is skipped.
fn netns_or_skip(tag: &str) -> Result<Netns, String> {
    or_skip(|| {
        let ns = Netns::create(tag)?;
        ns.add_veth_pair("v0", "v1")?;
        Ok(ns)
    })
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
    let ns = match netns_or_skip("recv") {
        Ok(ns) => ns,
        Err(why) => support::skip!("{why}"),
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
    let ns = match netns_or_skip("other") {
        Ok(ns) => ns,
        Err(why) => support::skip!("{why}"),
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
    let ns = match netns_or_skip("loop") {
        Ok(ns) => ns,
        Err(why) => support::skip!("{why}"),
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
    let ns = match netns_or_skip("gone") {
        Ok(ns) => ns,
        Err(why) => support::skip!("{why}"),
    };
    let name = ns.name.clone();
    assert!(ip(&["netns", "list"]).unwrap().contains(&name));
    drop(ns);
    assert!(!ip(&["netns", "list"]).unwrap().contains(&name));
}

#[test]
fn bench_runs_over_ipv6_on_a_veth_link() {
    let ns = match netns_or_skip("bench") {
        Ok(ns) => ns,
        Err(why) => support::skip!("{why}"),
    };
    let args = [
        "bench",
        "--group",
        "[ff02::4242]:0",
        "--interface",
        "v0",
        "--listeners",
        "2",
        "--duration-s",
        "0.2",
        "--rate",
        "500",
    ];
    let (code, out) = ns.run_multicast(&args);
    assert_eq!(code, 0, "{out}");
    let last = out.lines().last().unwrap_or_default();
    assert!(last.starts_with("listeners=2 sent="), "{out}");
    assert!(
        !last.contains("delivered_per_s_per_listener_min=0 "),
        "a listener got nothing: {out}"
    );
}

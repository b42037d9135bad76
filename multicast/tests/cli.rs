//! The `multicast` binary end to end on IPv4 loopback: listen and send as separate processes,
//! chat, exit codes and error messages, signals, and the `demo`/`bench` output.

mod common;

use std::time::Duration;

use common::{Proc, listening_addr, run_multicast, unique_group};

const WAIT: Duration = Duration::from_secs(5);

/// `GROUP:0` for a fresh group: the listener picks the port.
fn fresh(test_id: u8) -> String {
    format!("{}:0", unique_group(test_id))
}

#[test]
fn two_listener_processes_on_one_port_both_print_each_datagram() {
    let mut a = Proc::multicast(&["listen", "--group", &fresh(20), "--count", "2"]);
    let group = listening_addr(&a.line(WAIT)).to_string();
    let mut b = Proc::multicast(&["listen", "--group", &group, "--count", "2"]);
    assert_eq!(b.line(WAIT), format!("listening on {group}"));

    let (code, out, _) = run_multicast(&["send", "--group", &group, "hello", "there"]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with(&format!(
            "sent 1 datagram of 11 bytes to {group} from 127.0.0.1:"
        )),
        "{out}"
    );
    assert!(out.trim_end().ends_with("via lo (ttl 1, loop on)"), "{out}");
    run_multicast(&["send", "--group", &group, "second"]);
    for p in [&mut a, &mut b] {
        let first = p.line(WAIT);
        assert!(
            first.starts_with("127.0.0.1:") && first.ends_with(": hello there"),
            "{first}"
        );
        assert!(p.line(WAIT).ends_with(": second"));
        assert_eq!(p.wait_exit(WAIT), Some(0), "--count 2 ends the listener");
    }
}

#[test]
fn long_datagrams_are_cut_and_marked_and_control_characters_escaped() {
    let mut listener = Proc::multicast(&["listen", "--group", &fresh(21), "--max-datagram", "10"]);
    let group = listening_addr(&listener.line(WAIT)).to_string();
    run_multicast(&["send", "--group", &group, "0123456789abcdefghij"]);
    assert!(
        listener
            .line(WAIT)
            .ends_with(": 0123456789 [cut: 10 of 20 bytes]")
    );
    run_multicast(&["send", "--group", &group, "a\u{1b}[2Jb"]);
    assert!(listener.line(WAIT).ends_with(r": a\u{1b}[2Jb"));
    let raw = multicast::MulticastSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    raw.send_to(b"ok\xffbytes", group.parse().unwrap()).unwrap();
    assert!(
        listener.line(WAIT).ends_with(": ok\u{fffd}bytes"),
        "invalid UTF-8 is replaced"
    );
}

#[test]
fn a_source_specific_listener_prints_only_its_source() {
    let mut listener = Proc::multicast(&[
        "listen",
        "--group",
        &fresh(22),
        "--source",
        "127.0.0.2",
        "--count",
        "1",
    ]);
    let group = listening_addr(&listener.line(WAIT)).to_string();
    run_multicast(&[
        "send",
        "--group",
        &group,
        "from the default source 127.0.0.1",
    ]);
    // A sender on 127.0.0.2: `send` binds the interface's address, so bind one by hand.
    let sender = multicast::MulticastSocket::bind("127.0.0.2:0".parse().unwrap()).unwrap();
    sender
        .send_to(b"from 127.0.0.2", group.parse().unwrap())
        .unwrap();
    let line = listener.line(WAIT);
    assert!(
        line.starts_with("127.0.0.2:") && line.ends_with(": from 127.0.0.2"),
        "{line}"
    );
}

#[test]
fn sigterm_ends_a_listener_with_status_0() {
    let mut listener = Proc::multicast(&["listen", "--group", &fresh(23)]);
    listener.line(WAIT);
    let pid = listener.child.id().to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(listener.wait_exit(WAIT), Some(0));
}

#[test]
fn sigterm_ends_a_chat_with_status_0() {
    let mut chat = Proc::multicast(&["chat", "--group", &fresh(28), "--name", "erin"]);
    chat.line(WAIT);
    let pid = chat.child.id().to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(chat.wait_exit(WAIT), Some(0));
}

#[test]
fn chat_instances_see_each_other_but_not_themselves() {
    let mut alice = Proc::multicast(&["chat", "--group", &fresh(24), "--name", "alice"]);
    let group = listening_addr(&alice.line(WAIT)).to_string();
    let mut bob = Proc::multicast(&["chat", "--group", &group, "--name", "bob"]);
    bob.line(WAIT);
    assert_eq!(alice.line(WAIT), "* bob joined");

    alice.write_line("hi bob");
    assert_eq!(bob.line(WAIT), "alice: hi bob");
    bob.write_line("hello alice");
    // Alice's own line came back to her first (same path, sent earlier) and was skipped.
    assert_eq!(alice.line(WAIT), "bob: hello alice");

    run_multicast(&["send", "--group", &group, "plain text"]);
    let foreign = alice.line(WAIT);
    assert!(
        foreign.starts_with("? 127.0.0.1:") && foreign.ends_with(": plain text"),
        "{foreign}"
    );

    alice.write_line("/quit");
    assert_eq!(alice.line(WAIT), "* bye");
    assert_eq!(alice.wait_exit(WAIT), Some(0));
    bob.close_stdin();
    assert_eq!(bob.wait_exit(WAIT), Some(0));
}

#[test]
fn chat_commands_are_not_sent_and_members_hear_joins_and_leaves() {
    let mut jane = Proc::multicast(&["chat", "--group", &fresh(34), "--name", "jane"]);
    let group = listening_addr(&jane.line(WAIT)).to_string();
    let mut kim = Proc::multicast(&["chat", "--group", &group, "--name", "kim"]);
    kim.line(WAIT);
    assert_eq!(jane.line(WAIT), "* kim joined");
    // Jane answered kim's join with +here, so kim knows her at once. /who asks until it has
    // arrived (a datagram on its way is not yet heard).
    let mut who = String::new();
    for _ in 0..50 {
        kim.write_line("/who");
        who = kim.line(WAIT);
        if who == "* online: jane kim" {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(who, "* online: jane kim");
    kim.write_line("/dance");
    assert_eq!(
        kim.line(WAIT),
        "! unknown command /dance (try /who or /quit)"
    );
    kim.write_line("/quit");
    assert_eq!(kim.line(WAIT), "* bye");
    assert_eq!(kim.wait_exit(WAIT), Some(0));
    assert_eq!(jane.line(WAIT), "* kim left");
    // None of kim's commands reached jane as text.
    jane.write_line("/who");
    assert_eq!(jane.line(WAIT), "* online: jane");
    assert!(
        !jane
            .seen
            .iter()
            .any(|l| l.contains("/who") || l.contains("/quit") || l.contains("/dance")),
        "{:?}",
        jane.seen
    );
    jane.close_stdin();
    assert_eq!(jane.wait_exit(WAIT), Some(0));
}

#[test]
fn a_chat_line_over_the_datagram_limit_is_refused_and_the_chat_goes_on() {
    let mut frank = Proc::multicast(&["chat", "--group", &fresh(29), "--name", "frank"]);
    let group = listening_addr(&frank.line(WAIT)).to_string();
    let mut gina = Proc::multicast(&["chat", "--group", &group, "--name", "gina"]);
    gina.line(WAIT);
    assert_eq!(frank.line(WAIT), "* gina joined");
    frank.write_line(&"x".repeat(multicast::chat::MAX_CHAT_DATAGRAM));
    frank.write_line("short");
    assert_eq!(gina.line(WAIT), "frank: short");
    // Frank was told in his chat window; the line did not use up a sequence number.
    assert!(frank.line(WAIT).starts_with("! not sent: "));
    assert!(
        !gina.seen.iter().any(|l| l.starts_with("* missed")),
        "{:?}",
        gina.seen
    );
    // Nothing of it reached the test's own output: the child's stderr is kept, and empty.
    assert_eq!(frank.stderr(), Vec::<String>::new());
}

#[test]
fn chat_survives_hostile_datagrams_and_prints_only_valid_ones() {
    let mut hank = Proc::multicast(&["chat", "--group", &fresh(32), "--name", "hank"]);
    let group: std::net::SocketAddr = listening_addr(&hank.line(WAIT));
    let evil = multicast::MulticastSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let oversized = format!("chat/1 00000000000000bb 1 ivan: {}", "x".repeat(1200));
    let garbage: [&[u8]; 7] = [
        b"\xff\xfe\x00 not utf-8",
        b"chat/1 NOTHEX0000000000 1 ivan: x",
        b"chat/1 00000000000000bb -5 ivan: x",
        b"chat/1 00000000000000bb 1 iv an: x",
        b"chat/1 00000000000000bb 1 ivan: \x1b[2J",
        b"",
        oversized.as_bytes(),
    ];
    for datagram in garbage {
        evil.send_to(datagram, group).unwrap();
    }
    evil.send_to(b"chat/1 00000000000000bb 1 ivan: still alive", group)
        .unwrap();
    // The empty datagram is not chat/1: shown as foreign text. Everything else is dropped.
    assert!(hank.line(WAIT).starts_with("? 127.0.0.1:"));
    assert_eq!(hank.line(WAIT), "ivan: still alive");
    hank.close_stdin();
    assert_eq!(hank.wait_exit(WAIT), Some(0));
}

#[test]
fn a_flood_of_malformed_datagrams_writes_a_bounded_number_of_warning_lines() {
    let args = ["chat", "--group", &fresh(33), "--name", "iris"];
    let mut iris = Proc::spawn_with_env(
        env!("CARGO_BIN_EXE_multicast"),
        &args,
        &[("RUST_LOG", "warn")],
    );
    let group: std::net::SocketAddr = listening_addr(&iris.line(WAIT));
    let started = std::time::Instant::now();
    let evil = multicast::MulticastSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    for n in 0..3_000 {
        let bad = format!("chat/1 NOTHEX{n:010} 1 ivan: x");
        evil.send_to(bad.as_bytes(), group).unwrap();
    }
    // The flood may have filled iris's receive buffer (the kernel then drops datagrams): let
    // her drain it before the line that must arrive.
    std::thread::sleep(Duration::from_millis(200));
    evil.send_to(b"chat/1 00000000000000cc 1 ivan: still heard", group)
        .unwrap();
    assert_eq!(iris.line(WAIT), "ivan: still heard");
    let seconds = started.elapsed().as_secs() as usize + 1;
    iris.close_stdin();
    assert_eq!(iris.wait_exit(WAIT), Some(0));
    let warnings = iris.stderr();
    // At most 10 warnings and 1 summary per 1 s window of the flood.
    let bound = 11 * (seconds + 1);
    assert!(
        !warnings.is_empty() && warnings.len() <= bound,
        "{} stderr lines for 3,000 malformed datagrams in about {seconds} s (bound {bound})",
        warnings.len()
    );
}

#[test]
fn chat_reports_missing_sequence_numbers() {
    let mut carol = Proc::multicast(&["chat", "--group", &fresh(25), "--name", "carol"]);
    let group: std::net::SocketAddr = listening_addr(&carol.line(WAIT));
    let sender = multicast::MulticastSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    for (seq, text) in [(1, "one"), (4, "four"), (4, "four again")] {
        let line = format!("chat/1 00000000000000aa {seq} dave: {text}");
        sender.send_to(line.as_bytes(), group).unwrap();
    }
    assert_eq!(carol.line(WAIT), "dave: one");
    assert_eq!(carol.line(WAIT), "* missed 2 messages from dave");
    assert_eq!(carol.line(WAIT), "dave: four");
    carol.close_stdin();
    assert_eq!(carol.wait_exit(WAIT), Some(0));
    assert!(
        !carol.seen.iter().any(|l| l.contains("four again")),
        "a duplicate number was printed"
    );
}

#[test]
fn usage_mistakes_exit_2_with_one_clear_line() {
    let cases: [(&[&str], &str); 13] = [
        (
            &["listen", "--group", "10.0.0.1:5000"],
            "10.0.0.1 is not a multicast address",
        ),
        (
            &["send", "--group", "239.1.2.3:99999", "x"],
            "is not GROUP:PORT",
        ),
        (
            &["send", "--interface", "nosuch0", "x"],
            "no network interface named `nosuch0`",
        ),
        (
            &["listen", "--interface", "0.0.0.0"],
            "the unspecified address 0.0.0.0 is not accepted",
        ),
        (
            &["listen", "--group", "[ff02::4242]:5000"],
            "IPv6 groups need --interface",
        ),
        (&["send", "--ttl", "256", "x"], "256 is not in 0..=255"),
        (
            &["chat", "--name", "two words"],
            "--name `two words` must be",
        ),
        (
            &["send", "--group", "239.1.2.3:0", "x"],
            "cannot send to port 0",
        ),
        (
            &["send", "--count", "1000001", "x"],
            "1000001 is not in 1..=1000000",
        ),
        (&["bench", "--listeners", "65"], "65 is not in 1..=64"),
        (&["demo", "--group", "[ff02::1]:0"], "needs an IPv4 group"),
        (
            &["send", "--group", "[ff02::1]:9", "--interface", "lo", "x"],
            "cannot carry IPv6 multicast",
        ),
        (
            &["listen", "--source", "239.1.1.1"],
            "must be a unicast address",
        ),
    ];
    for (args, want) in cases {
        let (code, out, err) = run_multicast(args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("multicast: error: "), "{args:?}: {err}");
        assert!(out.is_empty(), "{args:?}: {out}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

#[test]
fn an_interface_named_by_its_ipv6_address_serves_an_ipv4_group_too() {
    // ::1 names lo; the IPv4 group then uses lo's IPv4 address, 127.0.0.1.
    let (code, _, err) = run_multicast(&[
        "send",
        "--group",
        &format!("{}:9", unique_group(26)),
        "--interface",
        "::1",
        "x",
    ]);
    assert_eq!(
        code, 0,
        "lo has 127.0.0.1 too, so ::1 selects lo and works: {err}"
    );
}

#[test]
fn bench_prints_one_line_per_listener_then_key_values() {
    let (code, out, err) = run_multicast(&[
        "bench",
        "--group",
        &fresh(27),
        "--listeners",
        "2",
        "--duration-s",
        "0.2",
        "--rate",
        "500",
    ]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert!(lines[1].starts_with("listener 1: received "));
    let last = lines[3];
    for key in [
        "listeners=2",
        "sent=",
        "delivered_per_s_per_listener_median=",
        "loss_pct_max=",
        "duplicates=0",
    ] {
        assert!(last.contains(key), "{key} missing: {last}");
    }
}

#[test]
fn doctor_says_where_a_group_is_joined() {
    let mut listener = Proc::multicast(&["listen", "--group", &fresh(30)]);
    let group = listening_addr(&listener.line(WAIT)).ip().to_string();
    let (code, out, err) = run_multicast(&["doctor", "--group", &group]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.trim_end()
            .ends_with(&format!("group {group}: joined on lo (1 user)")),
        "{out}"
    );
    let (_, out, _) = run_multicast(&["doctor", "--group", &unique_group(31).to_string()]);
    assert!(
        out.contains("no socket of this host has joined it"),
        "{out}"
    );
}

#[test]
fn doctor_lists_loopback_and_the_checklist() {
    let (code, out, err) = run_multicast(&["doctor"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("127.0.0.1"));
    assert!(out.contains("self-test: IPv4 multicast over 127.0.0.1: delivered"));
    assert!(out.contains("checklist when nothing arrives:"));
}

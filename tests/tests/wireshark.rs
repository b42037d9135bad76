//! The suite's Wireshark dissectors (`proxy/dissectors/suite.lua`) on captures the tests
//! record through the proxies with `--pcap`: rpc-lite over TCP and UDP from a be32 and an
//! le64 caller, a chat, a quote exchange. What tshark decodes is snapshotted (ports, call
//! ids chosen from the clock, and times redacted), so a dissector or pcap writer that breaks
//! fails here. Skipped, visibly, where tshark is not installed.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use suite_tests::Server;
use suite_tests::process::run;

fn lua() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../proxy/dissectors/suite.lua")
        .to_string_lossy()
        .into_owned()
}

/// A capture file of its own for each call: tests run side by side in one process.
fn scratch(name: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir()
        .join(format!(
            "suite-wireshark-{name}-{}-{n}.pcap",
            std::process::id()
        ))
        .to_string_lossy()
        .into_owned()
}

/// Ports of a capture that Wireshark assigns to other protocols (`tshark -G decodes`) and
/// that are in Linux's ephemeral range, where a server on port 0 or a client may land.
const PORTS_OF_OTHER_PROTOCOLS: [u16; 4] = [57000, 44321, 44322, 48049];

/// tshark with the suite's dissectors, two passes (so calls link forward to their answers).
/// Heuristics first: by default Wireshark gives a segment to the dissector registered for
/// its port before any heuristic runs, so a server or client that happened to get port 57000
/// (irc) would be decoded as IRC and the capture would hold no rpc-lite at all.
fn tshark(pcap: &str, args: &[&str]) -> String {
    let out = Command::new("tshark")
        .args(["-2", "-X", &format!("lua_script:{}", lua()), "-r", pcap])
        .args(["-o", "tcp.try_heuristic_first:TRUE"])
        .args(["-o", "udp.try_heuristic_first:TRUE"])
        .args(args)
        .output()
        .expect("tshark runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "tshark failed: {stderr}");
    // A Lua error is printed but does not fail tshark: it must fail the test.
    assert!(
        !stderr.contains("Lua"),
        "the dissector raised an error: {stderr}"
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        !stdout.contains("Lua Error"),
        "the dissector raised an error: {stdout}"
    );
    stdout
}

/// Starts `proxy KIND --pcap` in front of `server`, runs `client` against it, stops both.
fn capture(kind: &str, server: &[&str], client: impl FnOnce(&str)) -> String {
    capture_at(kind, server, &[0], client)
}

/// [`capture`] with the server bound to the first of `ports` on 127.0.0.1 it can take:
/// a fixed port may be held by anyone, a client of another test included.
fn capture_at(kind: &str, server: &[&str], ports: &[u16], client: impl FnOnce(&str)) -> String {
    let pcap = scratch(&format!("{kind}-{}", server.join("-")));
    let mut server = start_on_one_of(server, ports);
    let mut proxy = Server::start(
        "proxy",
        &[
            kind,
            "--listen",
            "127.0.0.1:0",
            "--to",
            &server.addr_arg(),
            "--pcap",
            &pcap,
        ],
    );
    client(&proxy.addr_arg());
    proxy.stop();
    server.stop();
    pcap
}

/// `rpc-lite call`s through the proxy: a result, a string round trip, an application error.
fn rpc_calls(transport: &str, profile: &str) -> impl FnOnce(&str) {
    let (transport, profile) = (transport.to_string(), profile.to_string());
    move |addr| {
        for call in [
            &["add", "2", "40"][..],
            &["echo", "hello, rpc"],
            &["divide", "7", "0"],
        ] {
            let mut args = vec![
                "call",
                addr,
                "--transport",
                &transport,
                "--profile",
                &profile,
            ];
            args.extend_from_slice(call);
            let (code, _, stderr) = run("rpc-lite", &args, b"");
            assert!(code == Some(0) || call[0] == "divide", "{args:?}: {stderr}");
        }
    }
}

/// One line per rpc-lite message: what tshark names in it. UDP call ids come from the clock.
fn rpc_fields(pcap: &str, udp: bool) -> String {
    let fields = [
        "rpclite.kind",
        "rpclite.label",
        "rpclite.label.byte_order",
        "rpclite.label.word_size",
        "rpclite.call_id",
        "rpclite.program",
        "rpclite.procedure_name",
        "rpclite.fault.code",
        "rpclite.fault.message",
        "rpclite.fault.app_error",
        "rpclite.request_in",
        "rpclite.response_in",
        "rpclite.time",
    ];
    let mut args = vec![
        "-Y",
        "rpclite",
        "-T",
        "fields",
        "-E",
        "separator=|",
        "-E",
        "occurrence=a",
    ];
    for f in fields {
        args.extend(["-e", f]);
    }
    let text = tshark(pcap, &args);
    text.lines()
        .map(|line| {
            let mut cols: Vec<String> = line.split('|').map(str::to_string).collect();
            if udp && !cols[4].is_empty() {
                cols[4] = "ID".into();
            }
            // Frame numbers and times: present or not is what the dissector decides.
            for i in [10, 11, 12] {
                if !cols[i].is_empty() {
                    cols[i] = match i {
                        10 => "call-in".into(),
                        11 => "answer-in".into(),
                        _ => "time".into(),
                    };
                }
            }
            cols.join("|")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn skip_without_tshark() -> bool {
    support::require::command("tshark", "apt-get install tshark").is_err()
}

#[test]
fn rpc_lite_over_tcp_from_be32_and_le64_callers() {
    if skip_without_tshark() {
        support::skip!("needs `tshark` on PATH (apt-get install tshark)");
    }
    for profile in ["be32", "le64"] {
        let pcap = capture("tcp", &["rpc-lite", "serve"], rpc_calls("tcp", profile));
        let fields = rpc_fields(&pcap, false);
        let tree = tshark(
            &pcap,
            &[
                "-Y",
                "rpclite.procedure_name == \"divide\"",
                "-V",
                "-O",
                "rpclite",
            ],
        );
        std::fs::remove_file(&pcap).unwrap();
        insta::assert_snapshot!(format!("rpc_tcp_{profile}"), fields);
        // Every header field by name, for one call and its fault.
        insta::assert_snapshot!(
            format!("rpc_tcp_{profile}_divide_tree"),
            subtrees(&tree, "rpc-lite")
        );
    }
}

/// `server` (a command line) listening on the first of `ports` it can bind on 127.0.0.1.
fn start_on_one_of(server: &[&str], ports: &[u16]) -> Server {
    let (bin, rest) = server.split_first().unwrap();
    let mut failures = Vec::new();
    for port in ports {
        let bind = format!("127.0.0.1:{port}");
        let mut args = rest.to_vec();
        args.extend(["--bind", &bind]);
        match Server::try_start(bin, &args) {
            Ok(server) => return server,
            Err(why) => failures.push(why),
        }
    }
    panic!(
        "the server took none of the ports {ports:?}:\n{}",
        failures.join("\n")
    );
}

#[test]
fn rpc_lite_is_found_on_a_port_wireshark_gives_another_protocol() {
    if skip_without_tshark() {
        support::skip!("needs `tshark` on PATH (apt-get install tshark)");
    }
    let pcap = capture_at(
        "tcp",
        &["rpc-lite", "serve"],
        &PORTS_OF_OTHER_PROTOCOLS,
        rpc_calls("tcp", "le64"),
    );
    let fields = rpc_fields(&pcap, false);
    std::fs::remove_file(&pcap).unwrap();
    // The same messages as from any other port.
    insta::assert_snapshot!("rpc_tcp_le64", fields);
}

#[test]
fn rpc_lite_over_udp_from_be32_and_le64_callers() {
    if skip_without_tshark() {
        support::skip!("needs `tshark` on PATH (apt-get install tshark)");
    }
    for profile in ["be32", "le64"] {
        let pcap = capture(
            "udp",
            &["rpc-lite", "serve", "--transport", "udp"],
            rpc_calls("udp", profile),
        );
        let fields = rpc_fields(&pcap, true);
        std::fs::remove_file(&pcap).unwrap();
        insta::assert_snapshot!(format!("rpc_udp_{profile}"), fields);
    }
}

/// The blocks of `tshark -V` output whose first line starts with `title`, with frame
/// numbers and times (which depend on timing) replaced by words.
fn subtrees(verbose: &str, title: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for line in verbose.lines() {
        if !line.starts_with(' ') {
            inside = line.starts_with(title);
        }
        if inside {
            let redacted = match line.split_once(": ") {
                Some((name, _)) if name.ends_with("in frame") => format!("{name}: FRAME]"),
                Some((name, _)) if name.trim_start().starts_with("[Time since the call") => {
                    format!("{name}: TIME]")
                }
                _ => line.to_string(),
            };
            out.push_str(&redacted);
            out.push('\n');
        }
    }
    out
}

/// The server's port in a capture (the chat has no fixed port here: "Decode As").
fn server_port(pcap: &str, proto: &str) -> String {
    let ports = tshark(
        pcap,
        &["-T", "fields", "-e", &format!("{proto}.dstport"), "-c", "1"],
    );
    ports.trim().to_string()
}

#[test]
fn a_chat_session() {
    if skip_without_tshark() {
        support::skip!("needs `tshark` on PATH (apt-get install tshark)");
    }
    let pcap = capture("tcp", &["tcp", "chat-server"], |addr| {
        let (code, _, stderr) = run(
            "tcp",
            &["chat-client", addr, "--name", "alice"],
            b"hello, room\n//slash\n/who\n/quit\n",
        );
        assert_eq!(code, Some(0), "{stderr}");
    });
    let port = server_port(&pcap, "tcp");
    let decode = format!("tcp.port=={port},tcpchat");
    // Each direction on its own: how lines of the two directions interleave, and how many
    // share a segment, is timing; the order within a direction is not.
    let mut text = String::new();
    for (title, filter) in [
        ("client to server", "dstport"),
        ("server to client", "srcport"),
    ] {
        let filter = format!("tcpchat && tcp.{filter}=={port}");
        let tree = tshark(
            &pcap,
            &["-d", &decode, "-Y", &filter, "-V", "-O", "tcpchat"],
        );
        text.push_str(&format!("== {title}\n{}", subtrees(&tree, "tcp line chat")));
    }
    std::fs::remove_file(&pcap).unwrap();
    insta::assert_snapshot!("chat", text);
}

#[test]
fn a_quote_exchange() {
    if skip_without_tshark() {
        support::skip!("needs `tshark` on PATH (apt-get install tshark)");
    }
    let pcap = capture("udp", &["udp", "quote-server"], |addr| {
        let (code, _, stderr) = run("udp", &["quote-client", addr, "--count", "2"], b"");
        assert_eq!(code, Some(0), "{stderr}");
    });
    let port = server_port(&pcap, "udp");
    let decode = format!("udp.port=={port},udpquote");
    let text = tshark(
        &pcap,
        &[
            "-d",
            &decode,
            "-Y",
            "udpquote",
            "-T",
            "fields",
            "-E",
            "separator=|",
            "-e",
            "udpquote.type",
            "-e",
            "udpquote.padding",
            "-e",
            "udpquote.padding_zero",
            "-e",
            "udpquote.number",
            "-e",
            "udpquote.quote",
            "-e",
            "udpquote.reason",
        ],
    );
    std::fs::remove_file(&pcap).unwrap();
    insta::assert_snapshot!("quote", text);
}

//! Every `bench` subcommand, run briefly against a server started for it: it must finish by
//! itself, exit 0, and end with one line of `key=value` figures (CONVENTIONS). The figures are
//! not judged here: speed is measured side by side and documented, never asserted in a test.

use suite_tests::Server;
use suite_tests::process::run;

/// Runs a bench and returns its last stdout line, asserting exit 0.
fn bench(bin: &str, args: &[&str]) -> String {
    let (code, stdout, stderr) = run(bin, args, b"");
    assert_eq!(code, Some(0), "`{bin} {}` failed: {stderr}", args.join(" "));
    let text = String::from_utf8(stdout).expect("UTF-8 figures");
    text.lines().last().unwrap_or_default().to_string()
}

/// `key=value key=value ...`: every word has a non-empty key and a non-empty value.
fn assert_key_values(line: &str, required: &[&str]) {
    let pairs: Vec<(&str, &str)> = line
        .split_whitespace()
        .map(|word| {
            word.split_once('=')
                .unwrap_or_else(|| panic!("{word:?} is not key=value in {line:?}"))
        })
        .collect();
    assert!(!pairs.is_empty(), "no figures: {line:?}");
    for (key, value) in &pairs {
        assert!(!key.is_empty() && !value.is_empty(), "{line:?}");
    }
    for key in required {
        assert!(
            pairs.iter().any(|(k, _)| k == key),
            "{key} missing from {line:?}"
        );
    }
}

#[test]
fn tcp_bench_echo_and_stream() {
    let mut server = Server::start("tcp", &["echo-server", "--bind", "127.0.0.1:0"]);
    let addr = server.addr_arg();
    let line = bench(
        "tcp",
        &["bench", "echo", "--addr", &addr, "--duration-s", "0.2"],
    );
    assert_key_values(&line, &["rt_per_s", "mismatches", "errors"]);
    assert!(
        line.contains("mismatches=0") && line.contains("errors=0"),
        "{line}"
    );
    let line = bench(
        "tcp",
        &["bench", "stream", "--addr", &addr, "--duration-s", "0.2"],
    );
    assert_key_values(&line, &["MB_per_s", "mismatches", "errors"]);
    assert!(
        line.contains("mismatches=0") && line.contains("errors=0"),
        "{line}"
    );
    server.stop();
}

#[test]
fn tcp_bench_chat() {
    let mut server = Server::start("tcp", &["chat-server", "--bind", "127.0.0.1:0"]);
    let addr = server.addr_arg();
    let args = [
        "bench",
        "chat",
        "--addr",
        &addr,
        "--clients",
        "4",
        "--senders",
        "2",
        "--messages",
        "5",
    ];
    let line = bench("tcp", &args);
    assert_key_values(&line, &["delivered", "missing"]);
    // 2 senders x 5 lines, each delivered to the 3 other members.
    assert!(
        line.contains("expected=30") && line.contains("delivered=30") && line.contains("missing=0"),
        "{line}"
    );
    server.stop();
}

#[test]
fn udp_bench_echo() {
    let mut server = Server::start("udp", &["echo-server", "--bind", "127.0.0.1:0"]);
    let line = bench(
        "udp",
        &[
            "bench",
            "echo",
            "--addr",
            &server.addr_arg(),
            "--duration-s",
            "0.2",
        ],
    );
    assert_key_values(
        &line,
        &["datagrams_per_s", "sent", "received", "mismatches"],
    );
    assert!(line.contains("mismatches=0"), "{line}");
    server.stop();
}

#[test]
fn rpc_lite_bench_over_tcp_and_udp() {
    for transport in ["tcp", "udp"] {
        let mut server = Server::start(
            "rpc-lite",
            &["serve", "--bind", "127.0.0.1:0", "--transport", transport],
        );
        let args = [
            "bench",
            "--addr",
            &server.addr_arg(),
            "--transport",
            transport,
            "--calls",
            "50",
        ];
        let line = bench("rpc-lite", &args);
        assert_key_values(&line, &["calls_per_s", "calls_ok", "errors", "mismatches"]);
        assert!(
            line.contains("calls_ok=50") && line.contains("mismatches=0"),
            "{transport}: {line}"
        );
        server.stop();
    }
}

#[test]
fn multicast_bench() {
    let line = bench(
        "multicast",
        &[
            "bench",
            "--duration-s",
            "0.2",
            "--listeners",
            "2",
            "--rate",
            "2000",
        ],
    );
    assert_key_values(&line, &["listeners", "sent", "duplicates"]);
}

#[test]
fn framing_bench() {
    let args = [
        "bench",
        "--sizes",
        "16",
        "--min-ms",
        "5",
        "--runs",
        "1",
        "--batch-bytes",
        "65536",
    ];
    let line = bench("framing", &args);
    assert_key_values(&line, &["ours_16B_MBps"]);
}

#[test]
fn multicast_doctor_runs_its_self_test() {
    let (code, stdout, stderr) = run("multicast", &["doctor"], b"");
    assert_eq!(code, Some(0), "{stderr}");
    let text = String::from_utf8_lossy(&stdout);
    assert!(
        text.contains("self-test: IPv4 multicast over 127.0.0.1: delivered"),
        "{text}"
    );
}

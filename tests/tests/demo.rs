//! Every `demo` transcript, snapshotted with ports and timings redacted
//! ([`suite_tests::redact::FILTERS`]). A demo needs no arguments, runs on loopback and exits 0
//! (CONVENTIONS), writes nothing to stderr unless `RUST_LOG` asks; its output is what a newcomer reads first, so a change to it is reviewed.

use suite_tests::process::run;
use suite_tests::redact::FILTERS;

fn snapshot_demo(bin: &str) {
    let (code, stdout, stderr) = run(bin, &["demo"], b"");
    assert_eq!(code, Some(0), "`{bin} demo` failed: {stderr}");
    // Quiet by default (CONVENTIONS): the transcript is the output, no log line beside it.
    assert_eq!(stderr, "", "`{bin} demo` wrote to stderr");
    let text = String::from_utf8(stdout).expect("demo output is UTF-8");
    let mut settings = insta::Settings::clone_current();
    for (pattern, replacement) in FILTERS {
        settings.add_filter(pattern, *replacement);
    }
    settings.bind(|| insta::assert_snapshot!(bin, text, &format!("{bin} demo")));
}

#[test]
fn framing_demo() {
    snapshot_demo("framing");
}

#[test]
fn tcp_demo() {
    snapshot_demo("tcp");
}

#[test]
fn udp_demo() {
    snapshot_demo("udp");
}

#[test]
fn multicast_demo() {
    snapshot_demo("multicast");
}

#[test]
fn rpc_lite_demo() {
    snapshot_demo("rpc-lite");
}

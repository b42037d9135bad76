//! The documented defaults are the code's: every bound a client written from
//! `PROTOCOL.md` alone relies on is read here from the crate's constants and looked up
//! in `PROTOCOL.md`, the README's bounds table and `rpc-lite serve --help`, so that the
//! three cannot drift apart again.

use std::process::Command;

use rpc_lite::tcp_transport::DEFAULT_MAX_IN_FLIGHT;
use rpc_lite::udp_transport::{
    AMPLIFICATION_LIMIT, BUSY_RETRY_AFTER, DEFAULT_CACHE_CAPACITY, DEFAULT_CACHE_PER_SOURCE,
    DEFAULT_UDP_MAX_IN_FLIGHT, DEFAULT_UDP_MAX_IN_FLIGHT_PER_SOURCE,
};

/// `text` with every run of whitespace (line breaks, table padding) made one space.
fn flat(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn doc(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(name);
    flat(&std::fs::read_to_string(path).unwrap())
}

fn serve_help() -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_rpc-lite"))
        .args(["serve", "--help"])
        .output()
        .unwrap();
    assert!(out.status.success());
    flat(&String::from_utf8_lossy(&out.stdout))
}

fn assert_says(text: &str, what: &str, phrase: &str) {
    assert!(text.contains(phrase), "{what} should say {phrase:?}");
}

#[test]
fn protocol_md_states_the_servers_defaults() {
    let spec = doc("PROTOCOL.md");
    let said = [
        format!("`--max-in-flight` (default {DEFAULT_MAX_IN_FLIGHT}) at a time"),
        format!("at most **{DEFAULT_UDP_MAX_IN_FLIGHT}** calls at once (`--max-in-flight`)"),
        format!("at most **{DEFAULT_UDP_MAX_IN_FLIGHT_PER_SOURCE}** for one address and port"),
        format!("cache holds {DEFAULT_CACHE_CAPACITY} entries (`--cache-capacity`)"),
        format!("already holds {DEFAULT_CACHE_PER_SOURCE} entries (`--cache-per-source`)"),
        format!("(this server: {})", BUSY_RETRY_AFTER.as_millis()),
        format!("no answer is larger than **{AMPLIFICATION_LIMIT} times**"),
    ];
    for phrase in &said {
        assert_says(&spec, "PROTOCOL.md", phrase);
    }
}

#[test]
fn serve_help_states_both_in_flight_defaults() {
    let help = serve_help();
    assert_says(
        &help,
        "serve --help",
        &format!(
            "per connection over TCP (default {DEFAULT_MAX_IN_FLIGHT}), per server over UDP (default {DEFAULT_UDP_MAX_IN_FLIGHT})"
        ),
    );
    assert_says(
        &help,
        "serve --help",
        &format!("[default: {DEFAULT_UDP_MAX_IN_FLIGHT_PER_SOURCE}]"),
    );
    assert_says(
        &help,
        "serve --help",
        &format!("[default: {DEFAULT_CACHE_PER_SOURCE}]"),
    );
}

#[test]
fn the_readme_bounds_table_has_the_in_flight_defaults() {
    let readme = doc("README.md");
    for (name, value) in [
        (
            "tcp_transport::DEFAULT_MAX_IN_FLIGHT",
            DEFAULT_MAX_IN_FLIGHT,
        ),
        (
            "udp_transport::DEFAULT_UDP_MAX_IN_FLIGHT",
            DEFAULT_UDP_MAX_IN_FLIGHT,
        ),
        (
            "udp_transport::DEFAULT_UDP_MAX_IN_FLIGHT_PER_SOURCE",
            DEFAULT_UDP_MAX_IN_FLIGHT_PER_SOURCE,
        ),
        (
            "udp_transport::DEFAULT_CACHE_PER_SOURCE",
            DEFAULT_CACHE_PER_SOURCE,
        ),
    ] {
        let row = readme
            .split("| ")
            .skip_while(|cell| !cell.starts_with(&format!("`{name}`")))
            .take(3)
            .collect::<String>();
        assert!(
            row.contains(&value.to_string()),
            "README row {name}: {row:?}"
        );
    }
}

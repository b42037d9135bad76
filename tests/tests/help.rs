//! Every binary's `--help`, and every subcommand's (found by walking the `Commands:` lists),
//! snapshotted: a changed flag or wording shows up in review as a changed snapshot.
//!
//! Also the flag contracts of CONVENTIONS that `--help` makes visible: every `--bind` defaults to
//! a loopback address, never all interfaces.

use suite_tests::bins::ALL;
use suite_tests::cli::all_helps;

fn snapshot_helps(bin: &str) {
    for (path, text) in all_helps(bin) {
        let command = std::iter::once(bin.to_string())
            .chain(path)
            .collect::<Vec<_>>()
            .join(" ");
        let name = command.replace(" ", "_");
        insta::assert_snapshot!(name, text, &format!("{command} --help"));
    }
}

#[test]
fn framing_help() {
    snapshot_helps("framing");
}

#[test]
fn tcp_help() {
    snapshot_helps("tcp");
}

#[test]
fn udp_help() {
    snapshot_helps("udp");
}

#[test]
fn multicast_help() {
    snapshot_helps("multicast");
}

#[test]
fn rpc_lite_help() {
    snapshot_helps("rpc-lite");
}

#[test]
fn proxy_help() {
    snapshot_helps("proxy");
}

#[test]
fn ipc_help() {
    snapshot_helps("ipc");
}

/// CONVENTIONS: serving all interfaces is an explicit choice, never the default.
#[test]
fn every_bind_flag_defaults_to_loopback() {
    let mut checked = 0;
    for bin in ALL
        .iter()
        .filter(|b| suite_tests::bins::try_bin(b).is_some())
    {
        for (path, text) in all_helps(bin) {
            let command = format!("{bin} {}", path.join(" "));
            let Some(at) = text.find("--bind") else {
                continue;
            };
            let rest = &text[at..];
            let block = &rest[..rest[2..].find("\n  -").map_or(rest.len(), |i| i + 2)];
            let default = block
                .split("[default: ")
                .nth(1)
                .and_then(|d| d.split(']').next());
            if let Some(default) = default {
                assert!(
                    default.starts_with("127.0.0.1:") || default.starts_with("[::1]:"),
                    "`{command}`: --bind defaults to {default}, not a loopback address"
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 0, "no server with a --bind default was found");
}

//! Every binary's `--help`, and every subcommand's (found by walking the `Commands:` lists),
//! snapshotted: a changed flag or wording shows up in review as a changed snapshot.
//!
//! Also the flag contracts of CONVENTIONS that `--help` makes visible: every `--bind` defaults to
//! a loopback address, never all interfaces.

use std::collections::BTreeMap;

use suite_tests::bins::ALL;
use suite_tests::process::run;

/// The help text of `bin path... --help`, asserted to exit 0.
fn help(bin: &str, path: &[String]) -> String {
    let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
    args.push("--help");
    let (code, stdout, stderr) = run(bin, &args, b"");
    assert_eq!(code, Some(0), "`{bin} {}` failed: {stderr}", args.join(" "));
    String::from_utf8(stdout).expect("help is UTF-8")
}

/// The subcommand names listed under `Commands:` (clap's layout), without `help`.
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|line| line.trim() != "Commands:")
        .skip(1)
        .take_while(|line| !line.trim().is_empty())
        .filter(|line| line.starts_with("  ") && !line.starts_with("    "))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_string)
        .collect()
}

/// `bin --help` and every subcommand's help, keyed by the command line (`tcp bench echo`).
fn all_helps(bin: &str) -> BTreeMap<String, String> {
    let mut found = BTreeMap::new();
    let mut queue = vec![Vec::<String>::new()];
    while let Some(path) = queue.pop() {
        let text = help(bin, &path);
        for sub in subcommands(&text) {
            let mut deeper = path.clone();
            deeper.push(sub);
            queue.push(deeper);
        }
        let key = std::iter::once(bin.to_string())
            .chain(path)
            .collect::<Vec<_>>()
            .join(" ");
        found.insert(key, text);
    }
    found
}

fn snapshot_helps(bin: &str) {
    for (command, text) in all_helps(bin) {
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

/// CONVENTIONS: serving all interfaces is an explicit choice, never the default.
#[test]
fn every_bind_flag_defaults_to_loopback() {
    let mut checked = 0;
    for bin in ALL
        .iter()
        .filter(|b| suite_tests::bins::try_bin(b).is_some())
    {
        for (command, text) in all_helps(bin) {
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

#[test]
fn subcommand_lists_are_parsed_from_clap_layout() {
    let text = "Usage: x <COMMAND>\n\nCommands:\n  echo-server  Serve\n  bench        Load\n  help         Print\n\nOptions:\n  -h, --help  Print help\n";
    assert_eq!(subcommands(text), ["echo-server", "bench"]);
    assert!(subcommands("Usage: x\n\nOptions:\n  -h\n").is_empty());
}

//! What a binary's `--help` says: its subcommands (clap's `Commands:` list) and its flags, so
//! tests can cover every subcommand, including ones added after the tests were written.

use std::collections::BTreeMap;

use crate::process::run;

/// The help text of `bin path... --help`.
///
/// # Panics
/// If the command does not exit 0.
pub fn help(bin: &str, path: &[String]) -> String {
    let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
    args.push("--help");
    let (code, stdout, stderr) = run(bin, &args, b"");
    assert_eq!(code, Some(0), "`{bin} {}` failed: {stderr}", args.join(" "));
    String::from_utf8(stdout).expect("help is UTF-8")
}

/// The subcommand names listed under `Commands:` (clap's layout), without `help`.
pub fn subcommands(help: &str) -> Vec<String> {
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

/// `bin --help` and the help of every subcommand at any depth, keyed by the path of
/// subcommand names (`[]` for the binary itself, `["bench", "echo"]`, ...).
pub fn all_helps(bin: &str) -> BTreeMap<Vec<String>, String> {
    let mut found = BTreeMap::new();
    let mut queue = vec![Vec::<String>::new()];
    while let Some(path) = queue.pop() {
        let text = help(bin, &path);
        for sub in subcommands(&text) {
            let mut deeper = path.clone();
            deeper.push(sub);
            queue.push(deeper);
        }
        found.insert(path, text);
    }
    found
}

/// Whether a help text documents the flag `--NAME` (as an option, not in prose).
pub fn has_flag(help: &str, flag: &str) -> bool {
    help.lines().any(|line| {
        let line = line.trim_start();
        line.starts_with(flag) || line.split(", ").any(|part| part.starts_with(flag))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subcommand_lists_are_parsed_from_clap_layout() {
        let text = "Usage: x <COMMAND>\n\nCommands:\n  echo-server  Serve\n  bench        Load\n  help         Print\n\nOptions:\n  -h, --help  Print help\n";
        assert_eq!(subcommands(text), ["echo-server", "bench"]);
        assert!(subcommands("Usage: x\n\nOptions:\n  -h\n").is_empty());
    }

    #[test]
    fn flags_are_found_in_options_not_in_prose() {
        let text = "Serve (use --bind to choose)\n\nOptions:\n      --bind <BIND>  Address\n  -h, --help  Print help\n";
        assert!(has_flag(text, "--bind"));
        assert!(has_flag(text, "--help"));
        assert!(!has_flag(text, "--mode"));
        assert!(!has_flag("Serve (use --bind to choose)\n", "--bind"));
    }
}

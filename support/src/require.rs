//! What a test needs from the machine, and the visible line it prints when it skips.
//!
//! A learner's machine is rarely root and may have neither Java nor Python. A test that
//! needs one of them checks first and, where it is missing, skips with one line naming
//! what is missing and how to get it. The line is written straight to the process's
//! stderr, past the test harness's output capture (which swallows `eprintln!` in a
//! passing test), so `cargo test` shows it.

use std::io::Write;
use std::path::Path;

/// Ok when the effective user is root (uid 0, read from `/proc/self/status`).
pub fn root(why: &str) -> Result<(), String> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let euid = status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        .and_then(|id| id.parse::<u32>().ok());
    match euid {
        Some(0) => Ok(()),
        _ => Err(format!("needs root {why} (run as root, or see tests/lab)")),
    }
}

/// Ok when `program` is an executable file on `PATH`; else names it and how to get it.
pub fn command(program: &str, how_to_get: &str) -> Result<(), String> {
    if on_path(program) {
        Ok(())
    } else {
        Err(format!("needs `{program}` on PATH ({how_to_get})"))
    }
}

/// Ok when every program is on `PATH`.
pub fn commands(programs: &[&str], how_to_get: &str) -> Result<(), String> {
    programs
        .iter()
        .try_for_each(|program| command(program, how_to_get))
}

fn on_path(program: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).any(|dir| is_executable(&dir.join(program)))
}

fn is_executable(file: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    file.metadata()
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

/// Prints `skipped: TEST: REASON` where `cargo test` shows it. Use [`crate::skip!`].
pub fn print_skip(reason: &str) {
    let test = std::thread::current().name().unwrap_or("test").to_string();
    // One write of the whole line, so parallel tests do not interleave inside it.
    let line = format!("skipped: {test}: {reason}\n");
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// Skips the current test (returns from it) with a visible line:
/// `support::skip!("needs python3 (apt-get install python3)")`.
#[macro_export]
macro_rules! skip {
    ($($reason:tt)+) => {{
        $crate::require::print_skip(&format!($($reason)+));
        return;
    }};
}

/// Skips the current test unless a check passes:
/// `support::skip_unless!(support::require::command("java", "apt-get install openjdk-17-jdk-headless"));`
#[macro_export]
macro_rules! skip_unless {
    ($check:expr) => {
        if let Err(reason) = $check {
            $crate::skip!("{reason}");
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_program_names_itself_and_the_fix() {
        let err = command("no-such-program-here", "apt-get install nothing").unwrap_err();
        assert_eq!(
            err,
            "needs `no-such-program-here` on PATH (apt-get install nothing)"
        );
        assert!(command("sh", "").is_ok());
    }

    #[test]
    fn root_check_agrees_with_the_uid() {
        let is_root = std::fs::read_to_string("/proc/self/status")
            .unwrap()
            .lines()
            .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"));
        assert_eq!(root("for namespaces").is_ok(), is_root);
    }

    #[test]
    fn skip_returns_early() {
        fn body(ran: &mut bool) {
            crate::skip_unless!(command(
                "no-such-program-here",
                "this line is the skip macro's own unit test"
            ));
            *ran = true;
        }
        let mut ran = false;
        body(&mut ran);
        assert!(!ran);
    }
}

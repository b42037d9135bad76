//! What the integration tests share: checks for the optional tools some tests need (root for
//! network namespaces, Java, Python) and a skip line the test harness cannot swallow.
//!
//! libtest captures what a passing test prints with `eprintln!`, so a skip written that way is
//! never seen. [`skip!`] writes to the terminal (`/dev/tty`) when there is one, else straight
//! to the process's stderr (which `cargo test` passes through), then returns from the test.
#![allow(dead_code, unused_macros, unused_imports)]

use std::io::Write;
use std::path::Path;

/// Prints `skipped: REASON` where it is seen, then returns from the calling test.
macro_rules! skip {
    ($($reason:tt)+) => {{
        $crate::common::print_skip(&format!($($reason)+));
        return;
    }};
}
pub(crate) use skip;

/// Writes one `skipped: ...` line to the terminal, or to stderr without the harness's capture.
pub fn print_skip(reason: &str) {
    let line = format!("skipped: {reason}\n");
    let tty = std::fs::OpenOptions::new().write(true).open("/dev/tty");
    let written = tty.and_then(|mut tty| tty.write_all(line.as_bytes()));
    if written.is_err() {
        let _ = std::io::stderr().write_all(line.as_bytes());
    }
}

/// `Ok` when the process runs as root (effective uid 0, from `/proc/self/status`).
pub fn require_root() -> Result<(), String> {
    let status = std::fs::read_to_string("/proc/self/status")
        .map_err(|e| format!("cannot read /proc/self/status: {e}"))?;
    let effective = status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1));
    match effective {
        Some("0") => Ok(()),
        Some(uid) => Err(format!("running as uid {uid}, not root")),
        None => Err("no Uid line in /proc/self/status".into()),
    }
}

/// `Ok` when `name` is an executable file in a directory of `PATH`.
pub fn require_command(name: &str) -> Result<(), String> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path).any(|dir| is_executable(&dir.join(name)));
    if found {
        Ok(())
    } else {
        Err(format!("`{name}` is not on PATH"))
    }
}

fn is_executable(file: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(file).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// True when a failed `ip` command's error text says it lacked the privilege (`EPERM`), as
/// `ip netns add` does for a user without `CAP_SYS_ADMIN` (a container, a user namespace).
pub fn is_permission_error(text: &str) -> bool {
    text.contains("Operation not permitted") || text.contains("Permission denied")
}

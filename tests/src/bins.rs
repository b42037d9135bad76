//! Finding the suite's built binaries.
//!
//! `cargo test --workspace` builds every member's binaries before it runs any test (each member
//! has integration tests, and Cargo builds a package's binaries for those). They land in
//! `target/<profile>/`, the directory above `deps/` (where this crate's test executables live)
//! and `examples/` (where its recorder lives), so [`bin_dir`] is found from
//! [`std::env::current_exe`]. Setting `SUITE_BIN_DIR` overrides it (say, for a release build).
//! `cargo test -p suite-tests` alone builds none of them: run `cargo build --workspace` first.

use std::path::PathBuf;

/// Environment variable naming the directory that holds the binaries (overrides the default).
pub const BIN_DIR_ENV: &str = "SUITE_BIN_DIR";

/// The binaries the suite builds, one per crate.
pub const ALL: [&str; 7] = [
    "framing",
    "tcp",
    "udp",
    "multicast",
    "rpc-lite",
    "ipc",
    "proxy",
];

/// The directory holding the workspace's binaries: `$SUITE_BIN_DIR`, or the `target/<profile>/`
/// directory this test executable was built into.
pub fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(BIN_DIR_ENV) {
        return PathBuf::from(dir);
    }
    let exe = std::env::current_exe().expect("the test executable knows its own path");
    let mut dir = exe
        .parent()
        .expect("the test executable lives in a directory")
        .to_path_buf();
    // Test executables live in `deps/`, examples in `examples/`: the binaries are one up.
    if dir.ends_with("deps") || dir.ends_with("examples") {
        dir.pop();
    }
    dir
}

/// The path of a built binary, or `None` when it has not been built.
pub fn try_bin(name: &str) -> Option<PathBuf> {
    let path = bin_dir().join(name);
    path.is_file().then_some(path)
}

/// The path of a built binary.
///
/// # Panics
/// When the binary is missing, with a message saying how to build it: a test cannot run a
/// program that does not exist, and skipping silently would hide it.
pub fn bin(name: &str) -> PathBuf {
    try_bin(name).unwrap_or_else(|| {
        panic!(
            "binary `{name}` not found in {}: run `cargo build --workspace` first \
             (`cargo test --workspace` builds it; `cargo test -p suite-tests` alone does not), \
             or point {BIN_DIR_ENV} at the directory holding it",
            bin_dir().display()
        )
    })
}

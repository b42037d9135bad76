//! The subcommands, one file each, and what they share: the `--group` and `--interface`
//! arguments, usage errors (exit 2) and how often blocking loops look at the shutdown flag.

pub mod bench;
pub mod chat;
pub mod demo;
pub mod doctor;
pub mod listen;
pub mod send;
pub mod target;

pub use support::cli::UsageError;

/// How long a blocked receive waits before the loop looks at the shutdown flag again (the
/// flag `support::shutdown` raises on SIGINT/SIGTERM): a signal ends a subcommand within this.
pub const POLL: std::time::Duration = std::time::Duration::from_millis(100);

//! The subcommands, one file each, and what they share: the `--group` and `--interface`
//! arguments, usage errors, and the SIGINT/SIGTERM watcher.

pub mod bench;
pub mod chat;
pub mod demo;
pub mod doctor;
pub mod listen;
pub mod send;
pub mod shutdown;
pub mod target;

/// A mistake in the command line found after parsing; the process exits with status 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

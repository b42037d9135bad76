//! Cross-crate tests for the suite: the binaries a user runs, driven the way a user drives them.
//!
//! Each crate tests its own library in-process. This crate tests what those tests cannot see:
//! the built programs (`tcp`, `udp`, `multicast`, `rpc-lite`, `framing`) started as child
//! processes, their `listening on IP:PORT` line parsed, their sockets driven with raw bytes,
//! their shutdown on SIGTERM checked (exit 0 within a bounded grace), their `--help` and
//! `demo` output snapshotted, and sessions recorded by the real proxies replayed against
//! fresh servers byte for byte.
//!
//! Underneath: `fork(2)`/`execve(2)` through [`std::process::Command`], `pipe(2)` for the
//! child's stdio, `kill(2)` (through the `kill(1)` program, so no `unsafe` is needed) for
//! SIGTERM, and `connect(2)`, `send(2)`, `recv(2)` for the replayed sessions.
//!
//! # Layout
//! - [`bins`]: where the workspace's built binaries are (next to the test executable).
//! - [`cli`]: what `--help` says: every subcommand at any depth, and its flags.
//! - [`process`]: [`process::Proc`], a child process with line-by-line stdout and a timeout
//!   on every read, and [`process::Server`], which parses the `listening on` line and sends
//!   SIGTERM when dropped.
//! - [`replay`]: replays a recorded transcript (TCP or UDP) against a fresh server; a
//!   [`replay::Recorded`] transcript also names the server to start.
//! - [`redact`]: the regex redactions (ports, addresses, timings) applied to snapshots.
//!
//! The multi-host lab (`lab/run.sh`) is a bash script beside this crate, not Rust: it needs
//! network namespaces, which need root.
#![forbid(unsafe_code)]

pub mod bins;
pub mod cli;
pub mod process;
pub mod redact;
pub mod replay;

pub use bins::bin;
pub use process::{Proc, Server};

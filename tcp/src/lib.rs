//! TCP the way Java teaches it (`ServerSocket`, `Socket`), written in Rust.
//!
//! This crate is the one a newcomer opens to learn TCP. It mirrors Java's
//! `java.net.ServerSocket` and `java.net.Socket` on top of `socket2` and `std::net`,
//! and then uses them for three classic servers: an RFC 862 echo server written twice
//! (blocking thread-per-connection and async tokio, so the two styles sit side by side),
//! a line chat, and a recording proxy.
//!
//! Underneath every call is one of a handful of system calls: `socket(2)`, `bind(2)`,
//! `listen(2)`, `accept(2)`, `connect(2)`, `recv(2)`, `send(2)`, `shutdown(2)` and
//! `setsockopt(2)` (options in `socket(7)`, `tcp(7)`, `ip(7)`, `ipv6(7)`).
//!
//! # Layout
//! - [`socket`]: `ServerSocket` and `Socket`, Java's classes as thin Rust wrappers; every
//!   option names its socket option and man page.
//! - [`server`]: what every server here shares: limits (connection cap, read deadline),
//!   accept with backoff, graceful shutdown on SIGINT/SIGTERM, the `listening on` line.
//! - [`echo`]: RFC 862 echo, blocking ([`echo::blocking`]) and async ([`echo::nonblocking`]),
//!   and the echo client.
//! - [`chat`]: the line chat server and client (protocol in `PROTOCOL.md`).
//! - [`proxy`]: a TCP proxy that can delay, throttle and record a transcript.
//! - [`transcript`]: the transcript format (writer and parser) shared with the `udp` proxy.
//! - [`mod@bench`]: load generators for `tcp bench echo|stream|chat`.
//! - [`demo`]: the scripted transcript printed by `tcp demo`.
//!
//! # Who maintains what (two developers work in this crate at once)
//! - tcp-A: `socket`, `server`, `echo`, `bench::{echo, stream, idle, stats}`, `demo::echo`,
//!   `src/main.rs` and `src/cli/{mod, echo, bench, demo}.rs`, `examples/`, `tests/echo*.rs`,
//!   `tests/{cli, socket, bench, examples}.rs`, `README.md`.
//! - tcp-B: `chat`, `proxy`, `bench::chat`, `demo::chat`, `src/cli/{chat, proxy}.rs`,
//!   `tests/chat*.rs`, `tests/proxy*.rs`, `PROTOCOL.md`.
//!
//! Changing a subcommand's flags changes its `--help` snapshot in `tests/snapshots/`:
//! whoever changes the flags re-reviews and accepts that snapshot.
#![forbid(unsafe_code)]

pub mod bench;
pub mod chat;
pub mod demo;
pub mod echo;
pub mod proxy;
pub mod server;
pub mod socket;
pub mod transcript;

pub use socket::{ServerSocket, Socket, SocketError};

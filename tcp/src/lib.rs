//! TCP the way Java teaches it (`ServerSocket`, `Socket`), written in Rust.
//!
//! This crate is the one a newcomer opens to learn TCP. It mirrors Java's
//! `java.net.ServerSocket` and `java.net.Socket` on top of `socket2` and `std::net`, and
//! uses them for two classic servers: an RFC 862 echo server, written blocking and async
//! side by side, and a line chat (wire format in `PROTOCOL.md`).
//!
//! Underneath every call is one of a handful of system calls: `socket(2)`, `bind(2)`,
//! `listen(2)`, `accept(2)`, `connect(2)`, `recv(2)`, `send(2)`, `shutdown(2)` and
//! `setsockopt(2)` (options in `socket(7)`, `tcp(7)`, `ip(7)`, `ipv6(7)`).
//!
//! # Reading order
//! 1. [`ServerSocket`] and [`Socket`] (`src/socket/`): Java's classes as thin wrappers; every
//!    option names its socket option and man page.
//! 2. Echo, blocking: [`echo::blocking::echo`], one thread per connection, `read` then
//!    `write_all` until end-of-stream.
//! 3. Echo, async: [`echo::plain::echo`], the same loop with `.await`, one fixed 4 KiB
//!    buffer and a read deadline. Then [`echo::tuned`], the same server made fast, each
//!    trick named with what it buys.
//! 4. The accept loops around them: [`server::serve_slots`] (a task per connection) and
//!    [`server::blocking::serve_blocking`] (a thread per connection), with the bounds every
//!    server applies: [`server::ServerLimits`], the progress rule against slowloris peers
//!    ([`server::progress`]), the connection table ([`server::conn_limit`]).
//! 5. Chat: [`chat::session`] (one member: a reader task and a writer task), then the
//!    pieces it uses: [`chat::lines`] (lines with a length limit and a deadline),
//!    [`chat::outbox`] (a bounded queue per member), [`chat::registry`] (the room).
//! 6. Clients: [`echo::client`] and [`chat::client`].
//!
//! The load generators (`tcp bench`) and the demo (`tcp demo`) are tools of the binary
//! (`src/cli/`), not part of this library.
#![forbid(unsafe_code)]

pub mod chat;
pub mod echo;
pub mod server;
pub mod socket;

pub use socket::{ServerSocket, Socket, SocketError};

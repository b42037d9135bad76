//! A line chat over TCP: many clients, one room, one tokio task pair per member.
//!
//! This module shows what a real server has to do beyond "read a line, send it to
//! everyone": unique names, a member cap, lines that are too long or not UTF-8, a client
//! that sends half a line and stalls, and above all a client that stops reading. Each
//! member has a bounded outgoing queue; a message is encoded once and shared by every
//! queue; a member whose queue overflows is evicted so that nobody else is slowed down.
//! The wire format is specified in `tcp/PROTOCOL.md`.
//!
//! System calls underneath: `accept(2)`, `read(2)`/`recv(2)`, `writev(2)` (one call per
//! batch of queued lines), `shutdown(2)` and `setsockopt(TCP_NODELAY)` (`tcp(7)`).
//!
//! # Layout
//! - [`protocol`]: the line types, name rules, commands; encoding and parsing.
//! - [`lines`]: cutting the byte stream into lines with a length limit and a deadline.
//! - [`outbox`]: a member's bounded outgoing queue and the `writev` batch writer.
//! - [`registry`]: who is in the room; unique names, member cap, fan-out.
//! - [`rate`]: how fast one member may send (a token bucket).
//! - [`session`]: one member's connection, reader and writer task.
//! - [`server`]: the accept loop that ties them together.
//! - [`config`]: the bounds, as documented constants.
//! - [`client`]: `tcp chat-client`, for people on two machines.

pub mod client;
pub mod config;
pub mod lines;
pub mod outbox;
pub mod protocol;
pub mod rate;
pub mod registry;
pub mod server;
pub mod session;

pub use config::ChatConfig;
pub use server::ChatServer;

//! RPC over TCP: one connection carries many calls at once.
//!
//! Each message travels in one `framing` frame (4-byte big-endian length, then the
//! message). The client numbers its calls; the server runs them concurrently, up to a
//! per-connection in-flight bound, and writes each reply as soon as it is ready
//! (completion order), so a slow call never holds up a fast one behind it.
//!
//! # Layout
//! - [`client`]: [`TcpChannel`], the caller's side (reader task, writer task, id table).
//! - [`server`]: the per-connection loop (read -> decode -> dispatch) and
//!   [`spawn`]/[`serve`].
//! - [`calls`]: the in-flight bound, the answer-on-the-spot fast path, replies.
//! - [`budget`]: the server-wide budget for frames still arriving.
//! - [`writer`]: the batching writer task both sides use.

pub mod budget;
pub mod calls;
pub mod client;
pub mod server;
pub mod writer;

pub use budget::DEFAULT_FRAME_BUDGET;
pub use client::TcpChannel;
pub use server::{DEFAULT_MAX_FRAME, DEFAULT_MAX_IN_FLIGHT, TcpServerConfig, serve, spawn};

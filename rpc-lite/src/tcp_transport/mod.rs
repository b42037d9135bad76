//! RPC over TCP: one connection carries many calls at once.
//!
//! Each message travels in one `framing` frame (4-byte big-endian length, then the
//! message). The client numbers its calls; the server runs them concurrently, up to a
//! per-connection in-flight bound, and writes each reply as soon as it is ready
//! (completion order), so a slow call never holds up a fast one behind it.
//!
//! # Layout
//! - [`client`]: [`TcpChannel`], the caller's side (reader task, writer task, id table).
//! - [`server`]: the per-connection loop and [`spawn`]/[`serve`].
//! - [`writer`]: the batching writer task both sides use.

pub mod client;
pub mod server;
pub mod writer;

pub use client::TcpChannel;
pub use server::{DEFAULT_MAX_FRAME, DEFAULT_MAX_IN_FLIGHT, TcpServerConfig, serve, spawn};

//! Load generators behind `tcp bench`: each runs for a bounded time or count, checks every
//! byte it gets back, and ends with one `key=value` line.
//!
//! # Layout
//! - [`echo`]: round trips of fixed-size messages; rate and latency percentiles.
//! - [`stream`]: bulk data through an echo server; MB/s.
//! - [`idle`]: many idle connections; the server's resident memory.
//! - [`stats`]: latency percentiles.
//! - [`chat`]: fan-out through a chat server.

pub mod chat;
pub mod echo;
pub mod idle;
pub mod stats;
pub mod stream;

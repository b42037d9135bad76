//! What every server in this crate shares: bounds on what peers can use, accepting
//! without crashing, and stopping gracefully.
//!
//! A server faces peers it cannot trust. Each resource a peer controls has a bound here
//! ([`ServerLimits`]): how many connections at once, how long a read or write may stall.
//! `accept(2)` failures such as `EMFILE` (out of file descriptors) are answered with a
//! short, growing pause ([`AcceptBackoff`]) instead of a busy loop or a crash. On SIGINT or
//! SIGTERM a server stops accepting, lets open connections finish within a grace period,
//! and exits 0 ([`shutdown`]).
//!
//! # Layout
//! - [`limits`]: `ServerLimits` and the default constants.
//! - [`conn_limit`]: the connection cap, a table of open connections; who makes room.
//! - [`progress`]: the progress rule, how much a peer must send to keep its connection.
//! - [`accept`]: `AcceptBackoff` and the async and blocking accept helpers.
//! - [`shutdown`]: waiting for SIGINT/SIGTERM; the `listening on` line.
//! - [`mod@serve`]: the async accept loop (tokio) that chat and async echo use.
//! - [`blocking`]: the thread-per-connection accept loop that blocking echo uses.

pub mod accept;
pub mod blocking;
pub mod conn_limit;
pub mod limits;
pub mod progress;
pub mod serve;
pub mod shutdown;

pub use accept::{AcceptBackoff, accept_async};
pub use conn_limit::{ConnectionTable, Slot};
pub use limits::ServerLimits;
pub use progress::ReadProgress;
pub use serve::{serve, serve_slots};
pub use shutdown::{ShutdownSignal, print_listening};
/// The shutdown trigger every server takes: cancel it to stop the server.
pub use tokio_util::sync::CancellationToken;

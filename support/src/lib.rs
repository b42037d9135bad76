//! `support`: the conventions every binary of the suite shares, written once.
//!
//! The socket crates teach; this crate keeps their command-line programs, benches and
//! tests speaking with one voice, so that each convention has one implementation:
//!
//! - an error is one line, `NAME: error: WHAT: CAUSE`, with a hint only where it is true;
//!   exit code 2 for a usage mistake, 1 for a failure at run time ([`cli`]);
//! - a server's first stdout line is `listening on IP:PORT` ([`cli::print_listening`]);
//! - logs go to stderr, quiet unless `RUST_LOG` asks, and a flood of bad input from a
//!   peer cannot flood the log ([`log`]);
//! - SIGINT and SIGTERM stop accepting and let work in flight finish; a second signal
//!   stops at once ([`shutdown`], over `sigaction(2)` via `signal-hook`);
//! - latency percentiles come from one histogram library, `hdrhistogram` ([`stats`]);
//! - a test that needs root, Java or Python says so in one visible line and skips
//!   ([`skip!`], [`require`]).
//!
//! # Layout
//! - [`cli`]: the error line, exit codes, clap parsing, `host:port` arguments, the listening line.
//! - [`log`]: tracing set-up and [`log::Throttle`] for rate-limited warnings.
//! - [`shutdown`]: signal handlers feeding a cancellation token and a stop flag.
//! - [`stats`]: [`stats::Latencies`], a latency histogram with the suite's percentile rule.
//! - [`require`]: checks behind the visible test skips.
//! - [`net`]: which socket errors a server survives (one datagram, one peer, one connection).
//! - [`rng`]: SplitMix64, the seeded generator behind every fault and jitter, so runs repeat.
#![forbid(unsafe_code)]

pub mod cli;
pub mod log;
pub mod net;
pub mod require;
pub mod rng;
pub mod shutdown;
pub mod stats;

//! RPC over UDP: one datagram per message, retransmission, at-most-once execution.
//!
//! UDP loses, duplicates and reorders datagrams. The client therefore resends a call
//! (same call id) with exponential backoff until a reply arrives or the deadline passes;
//! the server remembers each reply for a while in a bounded, expiring cache keyed by
//! (client address, call id), so a resent call is answered from the cache instead of
//! running again. That makes every call execute **at most once**, even a call that is
//! not idempotent (`incr`); ONC RPC servers call the same cache the *duplicate request
//! cache*.
//!
//! # Layout
//! - [`client`]: [`UdpChannel`], retransmission with backoff.
//! - [`cache`]: [`ReplyCache`], bounded and expiring.
//! - [`admission`]: [`admission::InFlight`], in-flight slots with a share per source.
//! - [`server`]: the receive loop and [`spawn`]/[`serve`].

pub mod admission;
pub mod cache;
pub mod client;
pub mod server;

pub use admission::{DEFAULT_UDP_MAX_IN_FLIGHT, DEFAULT_UDP_MAX_IN_FLIGHT_PER_SOURCE};
pub use cache::{
    CacheLimits, DEFAULT_CACHE_BYTES, DEFAULT_CACHE_CAPACITY, DEFAULT_CACHE_PER_SOURCE,
    DEFAULT_CACHE_TTL, Lookup, ReplyCache,
};
pub use client::{RetryPolicy, UdpChannel};
pub use server::{
    AMPLIFICATION_LIMIT, BUSY_RETRY_AFTER, DEFAULT_MAX_DATAGRAM, UdpServerConfig, serve, spawn,
};

//! # udp: datagrams with boundaries, no connection, no delivery promise
//!
//! The crate a newcomer opens to learn UDP, after Java's `java.net.DatagramSocket` and
//! `java.net.DatagramPacket`. Underneath are `socket(2)`, `bind(2)`, `sendto(2)`,
//! `recvfrom(2)` (with `MSG_TRUNC`, so a datagram cut by a short buffer is reported, not hidden),
//! `connect(2)` on a UDP socket, and `setsockopt(2)`; see `udp(7)`, `socket(7)`, `ip(7)`.
//!
//! # Layout
//! - [`socket`]: [`DatagramSocket`], the blocking socket (bind, connect/disconnect, send/receive,
//!   receive timeout, broadcast, buffer sizes), and the size limits.
//! - [`packet`]: [`DatagramPacket`], bytes plus peer address, with truncation reported.
//! - [`async_socket`]: [`AsyncDatagramSocket`], the tokio twin used by the servers.
//! - [`error`]: [`UdpError`] and which errors a server survives.
//! - [`echo`]: the RFC 862 echo server, async and blocking.
//! - [`echo_batch`]: the same echo with `recvmmsg(2)`/`sendmmsg(2)`, many datagrams per call.
//! - [`quote`]: the quote service (the Java tutorial's, done properly): wire format, book, server.
//! - [`client`]: [`client::RetryClient`], request/response with timeout, backoff, jitter, stats.
//! - [`rng`]: a seeded SplitMix64, so retry jitter repeats for the same seed.
#![forbid(unsafe_code)]

pub mod async_socket;
pub mod client;
pub mod echo;
pub mod echo_batch;
pub mod error;
pub mod packet;
pub mod quote;
pub mod rng;
pub mod socket;

pub use async_socket::AsyncDatagramSocket;
pub use error::{Result, UdpError};
pub use packet::DatagramPacket;
pub use socket::{
    DatagramSocket, DatagramSocketBuilder, MAX_DATAGRAM_BUFFER, MAX_PAYLOAD_V4, MAX_PAYLOAD_V6,
    ReceiveInfo,
};

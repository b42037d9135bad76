//! # multicast: one datagram, every member of a group
//!
//! The crate a newcomer opens to learn IP multicast, after Java's `java.net.MulticastSocket`.
//! A multicast socket is a UDP socket (here the `udp` crate's [`udp::DatagramSocket`], as in
//! Java `MulticastSocket extends DatagramSocket`) plus group membership: the host tells its
//! network "deliver datagrams for group G to me" (IGMP for IPv4, MLD for IPv6), and one
//! `sendto(2)` to G reaches every member on the link.
//!
//! Underneath are `setsockopt(2)` calls of `ip(7)` and `ipv6(7)`: `IP_ADD_MEMBERSHIP`,
//! `IP_DROP_MEMBERSHIP`, `IP_ADD_SOURCE_MEMBERSHIP`, `IP_MULTICAST_TTL`, `IP_MULTICAST_LOOP`,
//! `IP_MULTICAST_IF`, `IP_MULTICAST_ALL`, `IPV6_JOIN_GROUP`, `IPV6_LEAVE_GROUP`,
//! `IPV6_MULTICAST_HOPS`, `IPV6_MULTICAST_LOOP`, `IPV6_MULTICAST_IF`, and `SO_REUSEADDR` with
//! `SO_REUSEPORT` from `socket(7)`, so that several listeners of one host share a port.
//!
//! Safe by default: datagrams leave by the loopback interface (127.0.0.1) with a time-to-live of
//! 1 unless the caller names another interface.
//!
//! # Layout
//! - [`socket`]: [`MulticastSocket`]: join, leave, source-specific join, TTL, loopback,
//!   outgoing interface; send and receive through the datagram socket.
//! - [`interface`]: [`NetworkInterface`], Java's class of that name: index, addresses, flags.
//! - [`group`]: which addresses are groups, and their scopes; the address checks.
//! - [`membership`]: the groups this host has joined, from `/proc/net/igmp` and `igmp6`.
//! - [`chat`]: the chat datagram (`chat/1 ID SEQ NAME: text`, `... NAME +join`), sequence tracking.
//! - [`presence`]: who is in the chat, without a server: joins, leaves, heartbeats, timeouts.
//! - [`error`]: [`MulticastError`], one message per mistake.
#![forbid(unsafe_code)]

pub mod chat;
pub mod error;
pub mod group;
pub mod interface;
pub mod membership;
pub mod presence;
pub mod socket;

pub use error::{MulticastError, Result};
pub use group::{DEFAULT_GROUP_V4, DEFAULT_PORT, Scope};
pub use interface::NetworkInterface;
pub use socket::{DEFAULT_TTL, MulticastSocket};

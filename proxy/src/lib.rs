//! # proxy: a man in the middle you control
//!
//! Two proxies that sit between a client and a server on loopback, forward every byte, and
//! can make the network worse on purpose or write down what went through:
//!
//! - [`tcp`]: accepts a client, connects to the server, pumps bytes both ways keeping TCP's
//!   half-close; can delay, throttle, and record a transcript.
//! - [`udp`]: one upstream socket per client address; loses, duplicates, reorders and delays
//!   datagrams under a seed, so a run repeats exactly.
//! - [`transcript`]: the plain-text transcript both write (`--record FILE`), its parser and
//!   [`transcript::replay`], which plays a recorded TCP connection back against a server.
//! - [`pcap`]: the same traffic as a pcap file (`--pcap FILE`) for Wireshark and tcpdump.
//! - [`rng`]: the seeded SplitMix64 the UDP proxy's faults come from.
//!
//! Underneath: `socket(2)`, `bind(2)`, `listen(2)`, `accept(2)`, `connect(2)`, `read(2)`,
//! `write(2)`, `shutdown(2)`, `sendto(2)`, `recvfrom(2)`, `setsockopt(2)` (`tcp(7)`, `udp(7)`).
//! The reading order is in the crate's `README.md`; the formats in its `PROTOCOL.md`.
#![forbid(unsafe_code)]

pub mod pcap;
pub mod rng;
pub mod tcp;
pub mod transcript;
pub mod udp;

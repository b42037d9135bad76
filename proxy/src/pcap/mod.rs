//! pcap files: what the proxies forwarded, as Wireshark and `tcpdump -r` see a capture.
//!
//! A proxy holds two real connections (client to proxy, proxy to server) but the
//! conversation is one, so the capture shows it as if taken on the wire between the client
//! and the server: every packet's addresses are the client's and the server's, its headers
//! (Ethernet, IPv4 or IPv6, TCP or UDP) are synthesized, its payload is the bytes forwarded,
//! and its timestamp is the moment the proxy read them. For TCP the sequence and
//! acknowledgement numbers run on consistently, so Wireshark can follow and reassemble the
//! stream; SYN, SYN-ACK, ACK open each connection and FIN (half-close) or RST end it.
//!
//! The file format is classic libpcap (`pcap-file` writes it; link type Ethernet), the
//! headers are built by `etherparse` (with real checksums). No system call beyond the file's
//! `write(2)`: nothing here touches the network.
//!
//! # Layout
//! - [`write`]: [`write::TcpPcap`] and [`write::UdpPcap`], one per proxy.

pub mod write;

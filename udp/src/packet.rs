//! [`DatagramPacket`]: one datagram's bytes and the peer it came from or goes to, after Java's
//! `java.net.DatagramPacket`.
//!
//! A datagram keeps its boundaries: one `sendto(2)` is one `recvfrom(2)` on the other side, never
//! merged with or split across others. If the receive buffer is shorter than the datagram, the
//! kernel cuts it. Java hides that; this packet records it ([`DatagramPacket::is_truncated`],
//! [`DatagramPacket::datagram_len`]), from the `MSG_TRUNC` flag of `recv(2)`.

use std::net::SocketAddr;

use crate::socket::ReceiveInfo;

/// A datagram to send or a buffer to receive one into.
///
/// ```
/// use udp::DatagramPacket;
/// let to = "127.0.0.1:7".parse().unwrap();
/// let out = DatagramPacket::new(b"hello".to_vec(), to);     // Java: new DatagramPacket(buf, len, addr)
/// assert_eq!(out.data(), b"hello");
/// let inbox = DatagramPacket::with_capacity(1500);          // Java: new DatagramPacket(new byte[1500], 1500)
/// assert_eq!(inbox.capacity(), 1500);
/// assert!(inbox.data().is_empty());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatagramPacket {
    /// Storage; its length is the packet's capacity.
    buf: Vec<u8>,
    /// Valid bytes at the front of `buf`.
    len: usize,
    /// Length of the datagram on the wire (larger than `len` when truncated).
    datagram_len: usize,
    /// Source after a receive, destination for a send.
    peer: Option<SocketAddr>,
}

impl DatagramPacket {
    /// A packet carrying `data` to `peer` (Java: `new DatagramPacket(buf, len, address)`).
    pub fn new(data: impl Into<Vec<u8>>, peer: SocketAddr) -> Self {
        let mut packet = Self::unaddressed(data);
        packet.peer = Some(peer);
        packet
    }

    /// A packet carrying `data` with no destination: for a connected socket.
    pub fn unaddressed(data: impl Into<Vec<u8>>) -> Self {
        let buf = data.into();
        let len = buf.len();
        Self {
            buf,
            len,
            datagram_len: len,
            peer: None,
        }
    }

    /// An empty packet able to receive datagrams of up to `capacity` bytes without truncation.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            buf: vec![0; capacity],
            len: 0,
            datagram_len: 0,
            peer: None,
        }
    }

    /// The datagram's bytes (Java: `getData()` up to `getLength()`).
    pub fn data(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Number of valid bytes (Java: `getLength()`).
    pub fn len(&self) -> usize {
        self.len
    }

    /// True for an empty datagram (zero bytes are a valid UDP datagram).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How many bytes a receive can store.
    pub fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// Where the datagram came from, or goes to (Java: `getSocketAddress()`).
    pub fn peer(&self) -> Option<SocketAddr> {
        self.peer
    }

    /// Sets the destination (Java: `setSocketAddress()`).
    pub fn set_peer(&mut self, peer: SocketAddr) {
        self.peer = Some(peer);
    }

    /// Replaces the contents with `data` (Java: `setData()`); the capacity becomes `data.len()`.
    pub fn set_data(&mut self, data: impl Into<Vec<u8>>) {
        self.buf = data.into();
        self.len = self.buf.len();
        self.datagram_len = self.len;
    }

    /// True if the last received datagram was longer than the buffer and got cut
    /// (`MSG_TRUNC`). Java silently drops the excess.
    pub fn is_truncated(&self) -> bool {
        self.datagram_len > self.len
    }

    /// The length the datagram had on the wire, even when truncated.
    pub fn datagram_len(&self) -> usize {
        self.datagram_len
    }

    /// Takes the bytes out of the packet.
    pub fn into_data(mut self) -> Vec<u8> {
        self.buf.truncate(self.len);
        self.buf
    }

    /// The whole buffer, for a receive call to fill.
    pub(crate) fn buffer_mut(&mut self) -> &mut [u8] {
        &mut self.buf
    }

    /// Records what a receive call reported.
    pub(crate) fn set_received(&mut self, info: ReceiveInfo) {
        self.len = info.len;
        self.datagram_len = info.datagram_len;
        self.peer = Some(info.peer);
    }
}

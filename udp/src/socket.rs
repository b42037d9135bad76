//! [`DatagramSocket`]: a blocking UDP socket after Java's `java.net.DatagramSocket`, on `socket2`.
//!
//! Each method wraps one system call or socket option, named in its first doc line:
//! `socket(2)`, `bind(2)`, `connect(2)` (also with `AF_UNSPEC` to disconnect), `sendto(2)`,
//! `recvfrom(2)` with `MSG_TRUNC`, and `setsockopt(2)` for `SO_REUSEADDR`, `SO_REUSEPORT`,
//! `SO_RCVTIMEO`, `SO_BROADCAST`, `SO_RCVBUF`, `SO_SNDBUF`, `IPV6_V6ONLY` (see `socket(7)`,
//! `udp(7)`, `ip(7)`, `ipv6(7)`).
//!
//! # Building on it
//! Other crates (the `multicast` crate's `MulticastSocket`, like Java's `MulticastSocket extends
//! DatagramSocket`) build on this type through three stable entry points:
//! - [`DatagramSocket::builder`] sets options that must come *before* `bind(2)`, including any
//!   extra ones through [`DatagramSocketBuilder::configure`];
//! - [`DatagramSocket::open`] + [`DatagramSocket::bind_prepared`] for full control of the
//!   unbound `socket2::Socket`;
//! - [`DatagramSocket::as_socket2`] for options after bind (`IP_ADD_MEMBERSHIP`, ...).
//!
//! # Sizes
//! The largest UDP payload is 65,535 minus the UDP header (8 bytes) minus, for IPv4, the IP header
//! (20 bytes): [`MAX_PAYLOAD_V4`] = 65,507. For IPv6 the payload-length field does not count the
//! 40-byte fixed header: [`MAX_PAYLOAD_V6`] = 65,527 (without jumbograms, RFC 2675).

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsFd;
use std::time::Duration;

use rustix::net::RecvFlags;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use crate::error::{Result, UdpError};
use crate::packet::DatagramPacket;

/// Largest UDP payload over IPv4: 65,535 - 20 (IPv4 header) - 8 (UDP header).
pub const MAX_PAYLOAD_V4: usize = 65_507;

/// Largest UDP payload over IPv6 without jumbograms: 65,535 - 8 (UDP header).
pub const MAX_PAYLOAD_V6: usize = 65_527;

/// A buffer this large receives any UDP datagram whole.
pub const MAX_DATAGRAM_BUFFER: usize = 65_536;

/// What one receive call reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReceiveInfo {
    /// Bytes stored in the buffer.
    pub len: usize,
    /// Bytes the datagram had; larger than `len` if it was truncated (`MSG_TRUNC`).
    pub datagram_len: usize,
    /// Sender address.
    pub peer: SocketAddr,
}

impl ReceiveInfo {
    /// True if the datagram did not fit and its tail was discarded.
    pub fn is_truncated(&self) -> bool {
        self.datagram_len > self.len
    }
}

/// The largest payload for a destination's address family, and the family's name.
pub fn max_payload_for(peer: &SocketAddr) -> (usize, &'static str) {
    match peer {
        SocketAddr::V4(_) => (MAX_PAYLOAD_V4, "IPv4"),
        SocketAddr::V6(_) => (MAX_PAYLOAD_V6, "IPv6"),
    }
}

/// Checks a payload against the family's limit before the kernel sees it (else `EMSGSIZE`).
pub fn check_payload_len(len: usize, peer: &SocketAddr) -> Result<()> {
    let (max, family) = max_payload_for(peer);
    if len > max {
        return Err(UdpError::TooLarge { len, max, family });
    }
    Ok(())
}

/// Names the error of a `send(2)` on a socket that should be connected: no peer (`EDESTADDRREQ`,
/// `ENOTCONN`), too large for the peer's family (`EMSGSIZE`), or the OS error as it is.
pub(crate) fn connected_send_error(e: io::Error, len: usize, peer: Option<SocketAddr>) -> UdpError {
    use rustix::io::Errno;
    let code = e.raw_os_error();
    if [Errno::DESTADDRREQ, Errno::NOTCONN]
        .iter()
        .any(|n| code == Some(n.raw_os_error()))
    {
        return UdpError::NoDestination;
    }
    if code == Some(Errno::MSGSIZE.raw_os_error())
        && let Some(peer) = peer
        && let Err(too_large) = check_payload_len(len, &peer)
    {
        return too_large;
    }
    UdpError::io("send", e)
}

/// `recvfrom(2)` with `MSG_TRUNC`: Linux then returns the datagram's real length even if the
/// buffer was shorter, so truncation is detected and measured.
///
/// # Notes
/// `MSG_TRUNC` as an *input* flag is Linux-specific; elsewhere `datagram_len` equals `len`.
pub fn recv_from_fd(fd: impl AsFd, buf: &mut [u8]) -> io::Result<ReceiveInfo> {
    let (len, datagram_len, addr) = rustix::net::recvfrom(fd, buf, RecvFlags::TRUNC)?;
    let peer = addr
        .and_then(|a| SocketAddr::try_from(a).ok())
        .ok_or_else(|| io::Error::other("recvfrom returned no IP source address"))?;
    Ok(ReceiveInfo {
        len,
        datagram_len: datagram_len.max(len),
        peer,
    })
}

/// A caller's extra step on the unbound socket (see [`DatagramSocketBuilder::configure`]).
type ConfigureHook = Box<dyn FnOnce(&Socket) -> io::Result<()>>;

/// Options applied between `socket(2)` and `bind(2)`; create with [`DatagramSocket::builder`].
#[derive(Default)]
pub struct DatagramSocketBuilder {
    reuse_address: bool,
    reuse_port: bool,
    only_v6: Option<bool>,
    broadcast: bool,
    recv_buffer: Option<usize>,
    send_buffer: Option<usize>,
    configure: Vec<ConfigureHook>,
}

impl DatagramSocketBuilder {
    /// Sets `SO_REUSEADDR` (Java: `setReuseAddress`). Off by default, as in Java's
    /// `DatagramSocket`: for UDP on Linux it lets a second socket bind the same address and
    /// port and silently take a share of the datagrams, so a server that sets it would not
    /// notice that its port is already in use. Multicast listeners turn it on (as Java's
    /// `MulticastSocket` does) so that several may share a group's port.
    pub fn reuse_address(mut self, on: bool) -> Self {
        self.reuse_address = on;
        self
    }

    /// Sets `SO_REUSEPORT`: several sockets may bind the same address and port; the kernel spreads
    /// unicast datagrams among them and gives each a copy of multicast ones. Unix only.
    pub fn reuse_port(mut self, on: bool) -> Self {
        self.reuse_port = on;
        self
    }

    /// Sets `IPV6_V6ONLY` on an IPv6 socket (`false` lets `[::]` also receive IPv4).
    pub fn only_v6(mut self, on: bool) -> Self {
        self.only_v6 = Some(on);
        self
    }

    /// Sets `SO_BROADCAST` (Java: `setBroadcast`).
    pub fn broadcast(mut self, on: bool) -> Self {
        self.broadcast = on;
        self
    }

    /// Sets `SO_RCVBUF` (Java: `setReceiveBufferSize`). Linux doubles the value and caps it at
    /// `net.core.rmem_max`.
    pub fn recv_buffer_size(mut self, bytes: usize) -> Self {
        self.recv_buffer = Some(bytes);
        self
    }

    /// Sets `SO_SNDBUF` (Java: `setSendBufferSize`). Linux doubles the value and caps it at
    /// `net.core.wmem_max`.
    pub fn send_buffer_size(mut self, bytes: usize) -> Self {
        self.send_buffer = Some(bytes);
        self
    }

    /// Runs `f` on the unbound socket after the options above, before `bind(2)`: the hook for
    /// options this builder does not name.
    pub fn configure(mut self, f: impl FnOnce(&Socket) -> io::Result<()> + 'static) -> Self {
        self.configure.push(Box::new(f));
        self
    }

    /// Creates the socket, applies the options, and binds it to `addr` (port 0: any free port).
    pub fn bind(self, addr: SocketAddr) -> Result<DatagramSocket> {
        let socket = DatagramSocket::open(addr)?;
        self.apply(&socket)
            .map_err(|e| UdpError::io(format!("set options before binding {addr}"), e))?;
        DatagramSocket::bind_prepared(socket, addr)
    }

    fn apply(self, socket: &Socket) -> io::Result<()> {
        socket.set_reuse_address(self.reuse_address)?;
        #[cfg(unix)]
        socket.set_reuse_port(self.reuse_port)?;
        if let Some(on) = self.only_v6 {
            socket.set_only_v6(on)?;
        }
        socket.set_broadcast(self.broadcast)?;
        if let Some(bytes) = self.recv_buffer {
            socket.set_recv_buffer_size(bytes)?;
        }
        if let Some(bytes) = self.send_buffer {
            socket.set_send_buffer_size(bytes)?;
        }
        self.configure.into_iter().try_for_each(|f| f(socket))
    }
}

/// A blocking UDP socket (Java: `DatagramSocket`).
///
/// ```
/// use udp::{DatagramPacket, DatagramSocket};
/// let server = DatagramSocket::bind("127.0.0.1:0".parse().unwrap())?;
/// let client = DatagramSocket::bind("127.0.0.1:0".parse().unwrap())?;
/// client.send(&DatagramPacket::new(b"ping".to_vec(), server.local_addr()?))?;
/// let mut inbox = DatagramPacket::with_capacity(1500);
/// server.receive(&mut inbox)?;
/// assert_eq!(inbox.data(), b"ping");
/// assert_eq!(inbox.peer(), Some(client.local_addr()?));
/// # Ok::<(), udp::UdpError>(())
/// ```
#[derive(Debug)]
pub struct DatagramSocket {
    socket: Socket,
}

impl DatagramSocket {
    /// `socket(2)` + `bind(2)` on `addr` (Java: `new DatagramSocket(addr)`). A port already
    /// in use is an error ([`DatagramSocketBuilder::reuse_address`] says why).
    /// Port 0 picks a free port; [`DatagramSocket::local_addr`] tells which.
    pub fn bind(addr: SocketAddr) -> Result<Self> {
        Self::builder().bind(addr)
    }

    /// Starts a [`DatagramSocketBuilder`] for options that must be set before `bind(2)`.
    pub fn builder() -> DatagramSocketBuilder {
        DatagramSocketBuilder::default()
    }

    /// `socket(AF_INET or AF_INET6, SOCK_DGRAM, IPPROTO_UDP)`: a new, unbound UDP socket of the
    /// family of `addr`, for callers that set their own options before
    /// [`DatagramSocket::bind_prepared`].
    pub fn open(addr: SocketAddr) -> Result<Socket> {
        Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))
            .map_err(|e| UdpError::io("socket(SOCK_DGRAM)", e))
    }

    /// `bind(2)`s a prepared, unbound socket to `addr`, with the options its caller set.
    pub fn bind_prepared(socket: Socket, addr: SocketAddr) -> Result<Self> {
        socket
            .bind(&SockAddr::from(addr))
            .map_err(|e| UdpError::io(format!("bind {addr}"), e))?;
        Ok(Self { socket })
    }

    /// Wraps a socket that is already a bound UDP socket.
    pub fn from_socket2(socket: Socket) -> Self {
        Self { socket }
    }

    /// The underlying `socket2::Socket`, for options this type does not wrap.
    pub fn as_socket2(&self) -> &Socket {
        &self.socket
    }

    /// Gives up the wrapper and returns the `socket2::Socket`.
    pub fn into_socket2(self) -> Socket {
        self.socket
    }

    /// `dup(2)`: a second handle on the same socket, e.g. one thread receives, another sends.
    pub fn try_clone(&self) -> Result<Self> {
        let socket = self
            .socket
            .try_clone()
            .map_err(|e| UdpError::io("dup", e))?;
        Ok(Self { socket })
    }

    /// `getsockname(2)`: the bound address (Java: `getLocalSocketAddress`).
    pub fn local_addr(&self) -> Result<SocketAddr> {
        let addr = self
            .socket
            .local_addr()
            .map_err(|e| UdpError::io("getsockname", e))?;
        addr.as_socket()
            .ok_or_else(|| UdpError::io("getsockname", io::Error::other("not an IP socket")))
    }

    /// `connect(2)` on UDP: no packet is sent. The kernel remembers `peer` as the default
    /// destination and from then on *only accepts datagrams from it*; ICMP errors for it (port
    /// unreachable) are reported on later calls (Java: `connect`).
    pub fn connect(&self, peer: SocketAddr) -> Result<()> {
        self.socket
            .connect(&SockAddr::from(peer))
            .map_err(|e| UdpError::io(format!("connect {peer}"), e))
    }

    /// `connect(2)` with `AF_UNSPEC`: forgets the peer; datagrams from anyone arrive again
    /// (Java: `disconnect`).
    ///
    /// # Notes
    /// Linux also forgets a local port the kernel picked (bind to port 0): the socket would get a
    /// new port on its next send. Like Java's own implementation, this method binds the old
    /// address again. Some BSDs report `EAFNOSUPPORT` although they did disconnect; that is
    /// treated as success.
    pub fn disconnect(&self) -> Result<()> {
        let before = self.local_addr()?;
        match rustix::net::connect_unspec(&self.socket) {
            Ok(()) | Err(rustix::io::Errno::AFNOSUPPORT) => {}
            Err(e) => return Err(UdpError::io("connect(AF_UNSPEC)", e.into())),
        }
        if self.local_addr()?.port() == 0 {
            self.socket
                .bind(&SockAddr::from(before))
                .map_err(|e| UdpError::io(format!("bind {before} again after disconnect"), e))?;
        }
        Ok(())
    }

    /// `getpeername(2)`: the connected peer, or `None` (Java: `getRemoteSocketAddress`).
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.socket.peer_addr().ok().and_then(|a| a.as_socket())
    }

    /// Sends `packet` with `sendto(2)` to its peer, or with `send(2)` to the connected peer when it
    /// has none (Java: `send`). The whole packet goes as one datagram.
    pub fn send(&self, packet: &DatagramPacket) -> Result<()> {
        match packet.peer() {
            Some(peer) => self.send_to(packet.data(), peer).map(drop),
            None => self.send_connected(packet.data()).map(drop),
        }
    }

    /// `sendto(2)`: one datagram with `data` to `peer`.
    pub fn send_to(&self, data: &[u8], peer: SocketAddr) -> Result<usize> {
        check_payload_len(data.len(), &peer)?;
        self.socket
            .send_to(data, &SockAddr::from(peer))
            .map_err(|e| UdpError::io(format!("sendto {peer}"), e))
    }

    /// `send(2)`: one datagram to the connected peer. Not connected: [`UdpError::NoDestination`];
    /// too large for the peer's family: [`UdpError::TooLarge`] (checked only when the kernel
    /// says `EMSGSIZE`, so the common case costs one system call).
    pub fn send_connected(&self, data: &[u8]) -> Result<usize> {
        self.socket
            .send(data)
            .map_err(|e| connected_send_error(e, data.len(), self.peer_addr()))
    }

    /// Receives one datagram into `packet`, filling its data, length and peer (Java: `receive`).
    /// A datagram longer than the packet's capacity is cut, and the packet says so
    /// ([`DatagramPacket::is_truncated`]). Blocks up to the receive timeout, then returns
    /// [`UdpError::Timeout`].
    pub fn receive(&self, packet: &mut DatagramPacket) -> Result<()> {
        let info = self.recv_from(packet.buffer_mut())?;
        packet.set_received(info);
        Ok(())
    }

    /// `recvfrom(2)` with `MSG_TRUNC` into a plain buffer; reports length, true length and sender.
    pub fn recv_from(&self, buf: &mut [u8]) -> Result<ReceiveInfo> {
        recv_from_fd(&self.socket, buf).map_err(|e| UdpError::io("recvfrom", e))
    }

    /// Sets `SO_RCVTIMEO`: how long a receive waits (`None`: forever). Java: `setSoTimeout`, where
    /// 0 means forever; here a zero duration is rejected by the OS, use `None`.
    pub fn set_so_timeout(&self, timeout: Option<Duration>) -> Result<()> {
        self.socket
            .set_read_timeout(timeout)
            .map_err(|e| UdpError::io("setsockopt(SO_RCVTIMEO)", e))
    }

    /// Reads `SO_RCVTIMEO` (Java: `getSoTimeout`).
    pub fn so_timeout(&self) -> Result<Option<Duration>> {
        self.socket
            .read_timeout()
            .map_err(|e| UdpError::io("getsockopt(SO_RCVTIMEO)", e))
    }

    /// Sets `SO_BROADCAST`: allows sending to a broadcast address (Java: `setBroadcast`).
    pub fn set_broadcast(&self, on: bool) -> Result<()> {
        self.socket
            .set_broadcast(on)
            .map_err(|e| UdpError::io("setsockopt(SO_BROADCAST)", e))
    }

    /// Reads `SO_BROADCAST` (Java: `getBroadcast`).
    pub fn broadcast(&self) -> Result<bool> {
        self.socket
            .broadcast()
            .map_err(|e| UdpError::io("getsockopt(SO_BROADCAST)", e))
    }

    /// Sets `SO_RCVBUF` (Java: `setReceiveBufferSize`); Linux stores twice the value, capped by
    /// `net.core.rmem_max`.
    pub fn set_receive_buffer_size(&self, bytes: usize) -> Result<()> {
        self.socket
            .set_recv_buffer_size(bytes)
            .map_err(|e| UdpError::io("setsockopt(SO_RCVBUF)", e))
    }

    /// Reads `SO_RCVBUF` (Java: `getReceiveBufferSize`).
    pub fn receive_buffer_size(&self) -> Result<usize> {
        self.socket
            .recv_buffer_size()
            .map_err(|e| UdpError::io("getsockopt(SO_RCVBUF)", e))
    }

    /// Sets `SO_SNDBUF` (Java: `setSendBufferSize`).
    pub fn set_send_buffer_size(&self, bytes: usize) -> Result<()> {
        self.socket
            .set_send_buffer_size(bytes)
            .map_err(|e| UdpError::io("setsockopt(SO_SNDBUF)", e))
    }

    /// Reads `SO_SNDBUF` (Java: `getSendBufferSize`).
    pub fn send_buffer_size(&self) -> Result<usize> {
        self.socket
            .send_buffer_size()
            .map_err(|e| UdpError::io("getsockopt(SO_SNDBUF)", e))
    }

    /// Reads `SO_REUSEADDR` (Java: `getReuseAddress`); off unless the builder turned it on.
    pub fn reuse_address(&self) -> Result<bool> {
        self.socket
            .reuse_address()
            .map_err(|e| UdpError::io("getsockopt(SO_REUSEADDR)", e))
    }

    /// Turns this into a tokio socket for async servers (sets `O_NONBLOCK`). Needs a running
    /// tokio runtime.
    pub fn into_async(self) -> Result<crate::AsyncDatagramSocket> {
        crate::AsyncDatagramSocket::from_std(self.into())
    }
}

impl From<DatagramSocket> for UdpSocket {
    fn from(socket: DatagramSocket) -> Self {
        socket.socket.into()
    }
}

impl From<UdpSocket> for DatagramSocket {
    fn from(socket: UdpSocket) -> Self {
        Self {
            socket: socket.into(),
        }
    }
}

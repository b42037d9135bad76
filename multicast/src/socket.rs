//! [`MulticastSocket`]: Java's `java.net.MulticastSocket`, a [`udp::DatagramSocket`] that can
//! join groups.
//!
//! As in Java (`MulticastSocket extends DatagramSocket`), sending and receiving are the datagram
//! socket's; what this type adds is a handful of socket options, each wrapping one
//! `setsockopt(2)` call of `ip(7)` or `ipv6(7)`:
//!
//! | concept | IPv4 | IPv6 |
//! |---|---|---|
//! | join / leave a group on an interface | `IP_ADD_MEMBERSHIP` / `IP_DROP_MEMBERSHIP` | `IPV6_JOIN_GROUP` / `IPV6_LEAVE_GROUP` |
//! | join / leave, one sender only (SSM) | `IP_ADD_SOURCE_MEMBERSHIP` / `IP_DROP_SOURCE_MEMBERSHIP` | (not here) |
//! | how far sent datagrams go | `IP_MULTICAST_TTL` | `IPV6_MULTICAST_HOPS` |
//! | deliver own datagrams to this host | `IP_MULTICAST_LOOP` | `IPV6_MULTICAST_LOOP` |
//! | which interface sends | `IP_MULTICAST_IF` | `IPV6_MULTICAST_IF` |
//! | only groups this socket joined | `IP_MULTICAST_ALL` (Linux) | `IPV6_MULTICAST_ALL` (Linux) |
//!
//! # Safe defaults
//! A new socket sends out of the loopback interface (127.0.0.1, or `lo`'s index for IPv6) with a
//! time-to-live of 1, never out of whatever interface the default route names. Sending
//! elsewhere is an explicit [`MulticastSocket::set_interface`].

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::time::Duration;

use socket2::Socket;
use udp::{DatagramPacket, DatagramSocket, ReceiveInfo};

use crate::error::{MulticastError, Result};
use crate::group::{check_family, check_group};
use crate::interface::NetworkInterface;

/// The default time-to-live (IPv4) / hop limit (IPv6): 1, the local link only.
pub const DEFAULT_TTL: u32 = 1;

/// A UDP socket with group membership (Java: `MulticastSocket`).
///
/// ```no_run
/// use multicast::{MulticastSocket, NetworkInterface};
/// let lo = NetworkInterface::loopback()?;
/// let listener = MulticastSocket::listener("239.255.42.99:4446".parse().unwrap(), &lo)?;
/// let sender = MulticastSocket::sender(&lo, false)?;
/// sender.send_to(b"hello", "239.255.42.99:4446".parse().unwrap())?;
/// let mut buf = [0u8; 1500];
/// let got = listener.recv_from(&mut buf)?;
/// assert_eq!(&buf[..got.len], b"hello");
/// # Ok::<(), multicast::MulticastError>(())
/// ```
#[derive(Debug)]
pub struct MulticastSocket {
    socket: DatagramSocket,
    /// The interface for [`MulticastSocket::join`], [`MulticastSocket::leave`] and sending.
    interface: NetworkInterface,
    is_v6: bool,
}

impl MulticastSocket {
    /// Creates a socket bound to `addr` with `SO_REUSEADDR` and `SO_REUSEPORT` set before
    /// `bind(2)`, so several sockets on one host can share the group's port (Java:
    /// `new MulticastSocket(SocketAddress)`, which sets `SO_REUSEADDR`).
    ///
    /// Then sets the safe defaults: `IP_MULTICAST_IF` = the loopback interface,
    /// `IP_MULTICAST_TTL` = 1, `IP_MULTICAST_LOOP` on, and `IP_MULTICAST_ALL` off (so the
    /// socket receives only the groups IT joined, not every group any socket of the host joined
    /// on that port: a Linux default that surprises everyone). IPv6 likewise.
    ///
    /// # Errors
    /// [`MulticastError::Udp`] if the socket cannot be created or bound (port in use without
    /// `SO_REUSEPORT` on the other socket, address not local).
    pub fn bind(addr: SocketAddr) -> Result<MulticastSocket> {
        let interface = match addr {
            // A link-local IPv6 address names its interface in the scope id; the kernel refuses
            // any other IPV6_MULTICAST_IF for a socket bound to it.
            SocketAddr::V6(v6) if v6.scope_id() != 0 => NetworkInterface::by_index(v6.scope_id())?,
            _ => NetworkInterface::loopback()?,
        };
        Self::bind_on(addr, &interface)
    }

    /// [`MulticastSocket::bind`] with `interface` instead of loopback as the outgoing interface
    /// and the default for [`MulticastSocket::join`].
    ///
    /// # Errors
    /// As [`MulticastSocket::bind`], or an interface the socket cannot use.
    pub fn bind_on(addr: SocketAddr, interface: &NetworkInterface) -> Result<MulticastSocket> {
        let socket = DatagramSocket::builder()
            .reuse_address(true)
            .reuse_port(true)
            .bind(addr)?;
        let mut this = MulticastSocket {
            socket,
            interface: interface.clone(),
            is_v6: addr.is_ipv6(),
        };
        this.set_interface(interface)?;
        this.set_time_to_live(DEFAULT_TTL)?;
        this.set_loopback(true)?;
        this.set_multicast_all(false)?;
        Ok(this)
    }

    /// A receiving socket for `group` (`GROUP:PORT`) on `interface`: bound to the group
    /// address itself and the group's port, then joined on `interface`.
    ///
    /// Binding the group address (rather than `0.0.0.0`) makes the kernel hand this socket only
    /// datagrams sent to that group: a unicast datagram, or one for another group on the same
    /// port, is not delivered to it. IPv6 link-local groups carry the interface index as the
    /// bind address's scope id.
    ///
    /// # Errors
    /// A group that is not multicast, an interface without an address of the group's family,
    /// or a failed bind or join.
    pub fn listener(group: SocketAddr, interface: &NetworkInterface) -> Result<MulticastSocket> {
        check_group(group.ip())?;
        let bind_addr = match group {
            SocketAddr::V4(_) => group,
            SocketAddr::V6(v6) => {
                SocketAddr::V6(SocketAddrV6::new(*v6.ip(), v6.port(), 0, interface.index))
            }
        };
        let socket = Self::bind_on(bind_addr, interface)?;
        socket.join_group(group.ip(), interface)?;
        Ok(socket)
    }

    /// A sending socket on `interface`: bound to one of the interface's own addresses and an
    /// ephemeral port (an IPv6 link-local address with the interface's scope id when it has one),
    /// with `IP_MULTICAST_IF` / `IPV6_MULTICAST_IF` set to it.
    ///
    /// # Errors
    /// An interface without an address of the requested family, or a failed bind.
    pub fn sender(interface: &NetworkInterface, ipv6: bool) -> Result<MulticastSocket> {
        let bind_addr = if ipv6 {
            SocketAddr::V6(sender_address_v6(interface)?)
        } else {
            SocketAddr::new(IpAddr::V4(interface.ipv4_for_multicast()?), 0)
        };
        Self::bind_on(bind_addr, interface)
    }

    /// `IP_ADD_MEMBERSHIP` (IPv4, `struct ip_mreq`: group + interface address) or
    /// `IPV6_JOIN_GROUP` (IPv6, `struct ipv6_mreq`: group + interface index). Java:
    /// `joinGroup(SocketAddress, NetworkInterface)`.
    ///
    /// The kernel then reports the membership to routers on that link (IGMP, MLD) and delivers
    /// the group's datagrams that arrive on that interface to this socket. Joining the same group
    /// twice on one interface is `EADDRINUSE`.
    ///
    /// # Errors
    /// Not a group, the wrong family, an interface without an IPv4 address, or the kernel's
    /// refusal.
    pub fn join_group(&self, group: IpAddr, interface: &NetworkInterface) -> Result<()> {
        self.check_group(group)?;
        let on = &interface.name;
        match group {
            IpAddr::V4(g) => {
                let addr = interface.ipv4_for_multicast()?;
                self.raw()
                    .join_multicast_v4(&g, &addr)
                    .map_err(MulticastError::io(format!("IP_ADD_MEMBERSHIP {g} on {on}")))
            }
            IpAddr::V6(g) => self
                .raw()
                .join_multicast_v6(&g, interface.index)
                .map_err(MulticastError::io(format!("IPV6_JOIN_GROUP {g} on {on}"))),
        }
    }

    /// `IP_DROP_MEMBERSHIP` / `IPV6_LEAVE_GROUP`: stop receiving `group` on `interface` (Java:
    /// `leaveGroup`). Closing the socket leaves every group it joined.
    ///
    /// # Errors
    /// As [`MulticastSocket::join_group`]; leaving a group not joined is `EADDRNOTAVAIL`.
    pub fn leave_group(&self, group: IpAddr, interface: &NetworkInterface) -> Result<()> {
        self.check_group(group)?;
        let on = &interface.name;
        match group {
            IpAddr::V4(g) => {
                let addr = interface.ipv4_for_multicast()?;
                self.raw()
                    .leave_multicast_v4(&g, &addr)
                    .map_err(MulticastError::io(format!(
                        "IP_DROP_MEMBERSHIP {g} on {on}"
                    )))
            }
            IpAddr::V6(g) => self
                .raw()
                .leave_multicast_v6(&g, interface.index)
                .map_err(MulticastError::io(format!("IPV6_LEAVE_GROUP {g} on {on}"))),
        }
    }

    /// Joins `group` on this socket's interface (see [`MulticastSocket::join_group`]).
    ///
    /// # Errors
    /// As [`MulticastSocket::join_group`].
    pub fn join(&self, group: IpAddr) -> Result<()> {
        self.join_group(group, &self.interface)
    }

    /// Leaves `group` on this socket's interface (see [`MulticastSocket::leave_group`]).
    ///
    /// # Errors
    /// As [`MulticastSocket::leave_group`].
    pub fn leave(&self, group: IpAddr) -> Result<()> {
        self.leave_group(group, &self.interface)
    }

    /// `IP_ADD_SOURCE_MEMBERSHIP` (`struct ip_mreq_source`): receive `group` only from `source`,
    /// source-specific multicast (RFC 4607, IGMPv3). IPv4 only here. Java has no such method
    /// (it needs `DatagramChannel.join(group, interf, source)`).
    ///
    /// # Errors
    /// A source that is not unicast, an IPv6 group, or the kernel's refusal.
    pub fn join_source_group(
        &self,
        source: IpAddr,
        group: IpAddr,
        interface: &NetworkInterface,
    ) -> Result<()> {
        let (s, g, i) = self.ssm_args(source, group, interface)?;
        self.raw()
            .join_ssm_v4(&s, &g, &i)
            .map_err(MulticastError::io(format!(
                "IP_ADD_SOURCE_MEMBERSHIP {g} from {s} on {}",
                interface.name
            )))
    }

    /// `IP_DROP_SOURCE_MEMBERSHIP`: undo [`MulticastSocket::join_source_group`].
    ///
    /// # Errors
    /// As [`MulticastSocket::join_source_group`].
    pub fn leave_source_group(
        &self,
        source: IpAddr,
        group: IpAddr,
        interface: &NetworkInterface,
    ) -> Result<()> {
        let (s, g, i) = self.ssm_args(source, group, interface)?;
        self.raw()
            .leave_ssm_v4(&s, &g, &i)
            .map_err(MulticastError::io(format!(
                "IP_DROP_SOURCE_MEMBERSHIP {g} from {s} on {}",
                interface.name
            )))
    }

    fn ssm_args(
        &self,
        source: IpAddr,
        group: IpAddr,
        iface: &NetworkInterface,
    ) -> Result<(Ipv4Addr, Ipv4Addr, Ipv4Addr)> {
        self.check_group(group)?;
        check_family("source", source, self.is_v6)?;
        if source.is_multicast() || source.is_unspecified() {
            return Err(MulticastError::BadSource { addr: source });
        }
        match (source, group) {
            (IpAddr::V4(s), IpAddr::V4(g)) => Ok((s, g, iface.ipv4_for_multicast()?)),
            _ => Err(MulticastError::SsmIpv6Unsupported),
        }
    }

    /// `IP_MULTICAST_TTL` / `IPV6_MULTICAST_HOPS`: how many routers a sent datagram may cross
    /// (Java: `setTimeToLive`). 0 stays on this host, 1 (the default) on the local link.
    ///
    /// # Errors
    /// [`MulticastError::BadTtl`] above 255, or the kernel's refusal.
    pub fn set_time_to_live(&self, ttl: u32) -> Result<()> {
        if ttl > 255 {
            return Err(MulticastError::BadTtl { ttl });
        }
        self.per_family(
            ("IP_MULTICAST_TTL", |s| s.set_multicast_ttl_v4(ttl)),
            ("IPV6_MULTICAST_HOPS", |s| s.set_multicast_hops_v6(ttl)),
        )
    }

    /// Reads `IP_MULTICAST_TTL` / `IPV6_MULTICAST_HOPS` (Java: `getTimeToLive`).
    ///
    /// # Errors
    /// The kernel's refusal.
    pub fn time_to_live(&self) -> Result<u32> {
        self.per_family(
            ("IP_MULTICAST_TTL", |s| s.multicast_ttl_v4()),
            ("IPV6_MULTICAST_HOPS", |s| s.multicast_hops_v6()),
        )
    }

    /// `IP_MULTICAST_LOOP` / `IPV6_MULTICAST_LOOP`: `true` delivers this socket's own datagrams to
    /// listeners on this host too (the default).
    ///
    /// # Java's inverted flag
    /// Java's `setLoopbackMode(boolean disable)` takes the OPPOSITE meaning: `true` there turns
    /// loopback OFF. Here `true` means loopback ON, as in the socket option. (Java 14 added
    /// `setOption(StandardSocketOptions.IP_MULTICAST_LOOP, true)` with the kernel's meaning.)
    ///
    /// # Notes
    /// On Linux and the BSDs the option belongs to the sending socket; on Windows it is checked on
    /// the receiving one. It controls the extra local copy of a datagram sent on a real link: on
    /// the loopback device the datagram comes back in anyway, loop off or not.
    ///
    /// # Errors
    /// The kernel's refusal.
    pub fn set_loopback(&self, on: bool) -> Result<()> {
        self.per_family(
            ("IP_MULTICAST_LOOP", |s| s.set_multicast_loop_v4(on)),
            ("IPV6_MULTICAST_LOOP", |s| s.set_multicast_loop_v6(on)),
        )
    }

    /// Reads `IP_MULTICAST_LOOP` / `IPV6_MULTICAST_LOOP`: `true` if loopback is ON.
    ///
    /// # Errors
    /// The kernel's refusal.
    pub fn loopback(&self) -> Result<bool> {
        self.per_family(
            ("IP_MULTICAST_LOOP", |s| s.multicast_loop_v4()),
            ("IPV6_MULTICAST_LOOP", |s| s.multicast_loop_v6()),
        )
    }

    /// `IP_MULTICAST_IF` (by the interface's IPv4 address) / `IPV6_MULTICAST_IF` (by its index):
    /// the interface sent datagrams leave by, and the default for [`MulticastSocket::join`]
    /// (Java: `setNetworkInterface`).
    ///
    /// # Errors
    /// An interface without an IPv4 address for an IPv4 socket, or the kernel's refusal.
    pub fn set_interface(&mut self, interface: &NetworkInterface) -> Result<()> {
        if self.is_v6 {
            self.raw()
                .set_multicast_if_v6(interface.index)
                .map_err(MulticastError::io("IPV6_MULTICAST_IF"))?;
        } else {
            let addr = interface.ipv4_for_multicast()?;
            self.raw()
                .set_multicast_if_v4(&addr)
                .map_err(MulticastError::io("IP_MULTICAST_IF"))?;
        }
        self.interface = interface.clone();
        Ok(())
    }

    /// Reads `IP_MULTICAST_IF` / `IPV6_MULTICAST_IF` back from the kernel and looks the interface
    /// up (Java: `getNetworkInterface`).
    ///
    /// # Errors
    /// The kernel's refusal, or an interface that no longer exists.
    pub fn interface(&self) -> Result<NetworkInterface> {
        if self.is_v6 {
            let index = self
                .raw()
                .multicast_if_v6()
                .map_err(MulticastError::io("IPV6_MULTICAST_IF"))?;
            NetworkInterface::by_index(index)
        } else {
            let addr = self
                .raw()
                .multicast_if_v4()
                .map_err(MulticastError::io("IP_MULTICAST_IF"))?;
            NetworkInterface::by_address(IpAddr::V4(addr))
        }
    }

    /// `IP_MULTICAST_ALL` / `IPV6_MULTICAST_ALL` (Linux): `false` (this crate's default) delivers
    /// only groups this socket joined; `true` (the kernel's default) also delivers groups that
    /// OTHER sockets of the host joined, if this socket's bound address and port match.
    ///
    /// # Errors
    /// The kernel's refusal.
    pub fn set_multicast_all(&self, on: bool) -> Result<()> {
        self.per_family(
            ("IP_MULTICAST_ALL", |s| s.set_multicast_all_v4(on)),
            ("IPV6_MULTICAST_ALL", |s| s.set_multicast_all_v6(on)),
        )
    }

    /// `sendto(2)` one datagram to `group` (Java: `send`). The group is checked first.
    ///
    /// # Errors
    /// Not a group, the wrong family, too large, or the kernel's refusal (`ENETUNREACH` for IPv6
    /// on the loopback interface, which cannot carry IPv6 multicast).
    pub fn send_to(&self, data: &[u8], group: SocketAddr) -> Result<usize> {
        self.check_group(group.ip())?;
        Ok(self.socket.send_to(data, group)?)
    }

    /// Sends `packet` to its peer (Java: `send(DatagramPacket)`).
    ///
    /// # Errors
    /// As [`MulticastSocket::send_to`].
    pub fn send(&self, packet: &DatagramPacket) -> Result<()> {
        if let Some(peer) = packet.peer() {
            self.check_group(peer.ip())?;
        }
        Ok(self.socket.send(packet)?)
    }

    /// Receives one datagram into `packet` (Java: `receive`).
    ///
    /// # Errors
    /// A timeout ([`MulticastError::is_timeout`]) or the kernel's refusal.
    pub fn receive(&self, packet: &mut DatagramPacket) -> Result<()> {
        Ok(self.socket.receive(packet)?)
    }

    /// `recvfrom(2)` into a plain buffer: length, true length and sender.
    ///
    /// # Errors
    /// A timeout ([`MulticastError::is_timeout`]) or the kernel's refusal.
    pub fn recv_from(&self, buf: &mut [u8]) -> Result<ReceiveInfo> {
        Ok(self.socket.recv_from(buf)?)
    }

    /// `SO_RCVTIMEO`: how long a receive waits (Java: `setSoTimeout`).
    ///
    /// # Errors
    /// The kernel's refusal (a zero duration: use `None` to wait forever).
    pub fn set_so_timeout(&self, timeout: Option<Duration>) -> Result<()> {
        Ok(self.socket.set_so_timeout(timeout)?)
    }

    /// `getsockname(2)`: the bound address and port.
    ///
    /// # Errors
    /// The kernel's refusal.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        Ok(self.socket.local_addr()?)
    }

    /// True for an IPv6 socket.
    pub fn is_ipv6(&self) -> bool {
        self.is_v6
    }

    /// The datagram socket underneath, for everything a `DatagramSocket` does (buffer sizes, ...).
    pub fn as_datagram_socket(&self) -> &DatagramSocket {
        &self.socket
    }

    /// Turns this into the `udp` crate's tokio socket (sets `O_NONBLOCK`), for async programs.
    /// Memberships and multicast options belong to the socket, so they carry over; set them
    /// before converting. Needs a running tokio runtime.
    ///
    /// # Errors
    /// If tokio cannot register the socket.
    pub fn into_async(self) -> Result<udp::AsyncDatagramSocket> {
        Ok(self.socket.into_async()?)
    }

    /// Gives up the multicast wrapper (memberships stay until the socket is closed).
    pub fn into_datagram_socket(self) -> DatagramSocket {
        self.socket
    }

    /// The `socket2::Socket` under the datagram socket: where the options are set.
    /// Runs the IPv4 or the IPv6 form of one socket option, whichever family this socket
    /// is, and names that option in the error.
    fn per_family<T>(
        &self,
        v4: (&'static str, impl FnOnce(&Socket) -> io::Result<T>),
        v6: (&'static str, impl FnOnce(&Socket) -> io::Result<T>),
    ) -> Result<T> {
        if self.is_v6 {
            (v6.1)(self.raw()).map_err(MulticastError::io(v6.0))
        } else {
            (v4.1)(self.raw()).map_err(MulticastError::io(v4.0))
        }
    }

    fn raw(&self) -> &Socket {
        self.socket.as_socket2()
    }

    fn check_group(&self, group: IpAddr) -> Result<()> {
        check_group(group)?;
        check_family("group", group, self.is_v6)
    }
}

/// The address an IPv6 sender binds: the interface's link-local address with its index as scope
/// id if it has one, else its first IPv6 address.
fn sender_address_v6(interface: &NetworkInterface) -> Result<SocketAddrV6> {
    let link_local = |a: &Ipv6Addr| a.segments()[0] & 0xffc0 == 0xfe80;
    let mut addrs: Vec<Ipv6Addr> = interface.ipv6().collect();
    addrs.sort_by_key(|a| !link_local(a));
    let addr = addrs.first().ok_or_else(|| MulticastError::NoIpv6Address {
        name: interface.name.clone(),
    })?;
    let scope = if link_local(addr) { interface.index } else { 0 };
    Ok(SocketAddrV6::new(*addr, 0, 0, scope))
}

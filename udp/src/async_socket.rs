//! [`AsyncDatagramSocket`]: the tokio twin of [`crate::DatagramSocket`] for servers that wait on
//! many things at once (datagrams, timers, a shutdown signal).
//!
//! Same system calls underneath (`recvfrom(2)` with `MSG_TRUNC`, `sendto(2)`), on a non-blocking
//! socket: when the kernel says `EAGAIN`, tokio parks the task until `epoll(7)` reports the socket
//! readable or writable again.

use std::net::{SocketAddr, UdpSocket as StdUdpSocket};

use tokio::io::Interest;
use tokio::net::UdpSocket;

use crate::error::{Result, UdpError};
use crate::packet::DatagramPacket;
use crate::socket::{
    DatagramSocket, ReceiveInfo, check_payload_len, connected_send_error, recv_from_fd,
};

/// An async UDP socket that reports truncation like [`DatagramSocket`] does.
#[derive(Debug)]
pub struct AsyncDatagramSocket {
    socket: UdpSocket,
}

impl AsyncDatagramSocket {
    /// Binds like [`DatagramSocket::bind`] (`SO_REUSEADDR`), then hands the socket to tokio.
    pub async fn bind(addr: SocketAddr) -> Result<Self> {
        DatagramSocket::bind(addr)?.into_async()
    }

    /// Wraps a bound std socket; sets it non-blocking. Needs a running tokio runtime.
    pub fn from_std(socket: StdUdpSocket) -> Result<Self> {
        socket
            .set_nonblocking(true)
            .map_err(|e| UdpError::io("set O_NONBLOCK", e))?;
        let socket =
            UdpSocket::from_std(socket).map_err(|e| UdpError::io("register with tokio", e))?;
        Ok(Self { socket })
    }

    /// Wraps a tokio socket.
    pub fn from_tokio(socket: UdpSocket) -> Self {
        Self { socket }
    }

    /// The tokio socket underneath.
    pub fn as_tokio(&self) -> &UdpSocket {
        &self.socket
    }

    /// `getsockname(2)`.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        self.socket
            .local_addr()
            .map_err(|e| UdpError::io("getsockname", e))
    }

    /// `connect(2)` on UDP: sets the default destination and filters arrivals to that peer.
    pub async fn connect(&self, peer: SocketAddr) -> Result<()> {
        self.socket
            .connect(peer)
            .await
            .map_err(|e| UdpError::io(format!("connect {peer}"), e))
    }

    /// Waits for one datagram; `recvfrom(2)` with `MSG_TRUNC` (see [`DatagramSocket::recv_from`]).
    ///
    /// Also wakes on a pending socket error (`EPOLLERR`, e.g. an ICMP "port unreachable" on a
    /// connected socket), which `epoll` does not report as readable; the error is returned.
    pub async fn recv_from(&self, buf: &mut [u8]) -> Result<ReceiveInfo> {
        self.socket
            .async_io(Interest::READABLE | Interest::ERROR, || {
                recv_from_fd(&self.socket, buf)
            })
            .await
            .map_err(|e| UdpError::io("recvfrom", e))
    }

    /// Waits for one datagram into `packet` (see [`DatagramSocket::receive`]).
    pub async fn receive(&self, packet: &mut DatagramPacket) -> Result<()> {
        let info = self.recv_from(packet.buffer_mut()).await?;
        packet.set_received(info);
        Ok(())
    }

    /// `sendto(2)`: one datagram to `peer`, waiting while the send buffer is full.
    pub async fn send_to(&self, data: &[u8], peer: SocketAddr) -> Result<usize> {
        check_payload_len(data.len(), &peer)?;
        self.socket
            .send_to(data, peer)
            .await
            .map_err(|e| UdpError::io(format!("sendto {peer}"), e))
    }

    /// `send(2)`: one datagram to the connected peer (errors as in
    /// [`DatagramSocket::send_connected`]).
    pub async fn send(&self, data: &[u8]) -> Result<usize> {
        match self.socket.send(data).await {
            Ok(n) => Ok(n),
            Err(e) => Err(connected_send_error(
                e,
                data.len(),
                self.socket.peer_addr().ok(),
            )),
        }
    }

    /// Sends `packet` to its peer, or to the connected peer when it has none.
    pub async fn send_packet(&self, packet: &DatagramPacket) -> Result<()> {
        match packet.peer() {
            Some(peer) => self.send_to(packet.data(), peer).await.map(drop),
            None => self.send(packet.data()).await.map(drop),
        }
    }
}

impl From<AsyncDatagramSocket> for UdpSocket {
    fn from(socket: AsyncDatagramSocket) -> Self {
        socket.socket
    }
}

//! A [`Channel`]: the transport a stub sends its calls through, TCP or UDP.

use std::time::Duration;

use bytes::Bytes;

use crate::error::RpcError;
use crate::handle::ServerHandle;
use crate::message::{Header, Message};
use crate::registry::Registry;
use crate::tcp_transport::{TcpChannel, TcpServerConfig};
use crate::udp_transport::UdpChannel;

/// Which transport to use (`--transport tcp|udp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Transport {
    /// One connection, many calls at once, matched by call id.
    Tcp,
    /// One datagram per message, retransmission, at-most-once reply cache.
    Udp,
}

/// Where calls go: one TCP connection or one UDP socket. Cheap to clone (shared).
#[derive(Clone, Debug)]
pub enum Channel {
    /// Over a TCP connection.
    Tcp(TcpChannel),
    /// Over a UDP socket.
    Udp(UdpChannel),
}

impl Channel {
    /// Connects to `addr` (`host:port`) over `transport`.
    pub async fn connect(addr: &str, transport: Transport) -> Result<Channel, RpcError> {
        Ok(match transport {
            Transport::Tcp => Channel::Tcp(TcpChannel::connect(addr).await?),
            Transport::Udp => Channel::Udp(UdpChannel::connect(addr).await?),
        })
    }

    /// Starts a TCP server for `registry` on `127.0.0.1:0` and connects to it: handy
    /// for examples and tests. The server stops when the handle is dropped.
    pub async fn in_process(registry: Registry) -> Result<(Channel, ServerHandle), RpcError> {
        let addr = "127.0.0.1:0".parse().expect("valid address");
        let server = crate::tcp_transport::spawn(addr, registry, TcpServerConfig::default())
            .await
            .map_err(|source| RpcError::Io {
                context: "bind 127.0.0.1:0".into(),
                source,
            })?;
        let channel = Channel::connect(&server.addr().to_string(), Transport::Tcp).await?;
        Ok((channel, server))
    }

    /// Sends a call (the channel fills in call id and deadline) and waits up to
    /// `timeout` for its reply.
    pub async fn call(
        &self,
        header: Header,
        body: Bytes,
        timeout: Duration,
    ) -> Result<Message, RpcError> {
        match self {
            Channel::Tcp(c) => c.call(header, body, timeout).await,
            Channel::Udp(c) => c.call(header, body, timeout).await,
        }
    }
}

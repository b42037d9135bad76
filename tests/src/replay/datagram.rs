//! The client side of a UDP replay: one connected socket per recorded session (client
//! address); each data record is exactly one datagram (`send(2)`, `recv(2)`).

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};

use proxy::transcript::{Direction, Record, Transcript};

use super::{ReplayError, ReplayReport, Transport, io_err};
use crate::process::IO_TIMEOUT;

/// The client side of a UDP replay: one socket per recorded session (client address).
pub(super) struct UdpReplay {
    server: SocketAddr,
    sockets: HashMap<u64, UdpSocket>,
    report: ReplayReport,
}

/// Largest datagram the replayer can receive (the IPv4 UDP maximum payload is 65,507).
const MAX_DATAGRAM: usize = 65_536;

impl UdpReplay {
    pub(super) fn new(server: SocketAddr) -> Self {
        UdpReplay {
            server,
            sockets: HashMap::new(),
            report: ReplayReport::default(),
        }
    }

    pub(super) fn run(mut self, transcript: &Transcript) -> Result<ReplayReport, ReplayError> {
        for (index, record) in transcript.records.iter().enumerate() {
            self.step(index, record)?;
        }
        Ok(self.report)
    }

    fn step(&mut self, index: usize, record: &Record) -> Result<(), ReplayError> {
        let unsupported = |what| ReplayError::Unsupported {
            index,
            what,
            transport: Transport::Udp,
        };
        match record {
            Record::Open { conn } => self.open(*conn),
            Record::Data {
                conn,
                dir: Direction::ClientToServer,
                bytes,
                ..
            } => {
                let socket = self
                    .sockets
                    .get(conn)
                    .ok_or(ReplayError::NotOpen { index, conn: *conn })?;
                socket.send(bytes).map_err(io_err(*conn, "send"))?;
                self.report.sent += bytes.len() as u64;
                Ok(())
            }
            Record::Data {
                conn,
                dir: Direction::ServerToClient,
                offset,
                bytes,
            } => self.expect(index, *conn, *offset, bytes),
            Record::Eof { .. } => Err(unsupported("eof")),
            Record::Reset { .. } => Err(unsupported("reset")),
            Record::Close { conn } => {
                self.sockets.remove(conn);
                Ok(())
            }
        }
    }

    fn open(&mut self, conn: u64) -> Result<(), ReplayError> {
        // Loopback server: a loopback client. Otherwise let the kernel pick the source address.
        let ip = if self.server.ip().is_loopback() {
            self.server.ip()
        } else {
            unspecified(&self.server)
        };
        let local = SocketAddr::new(ip, 0);
        let socket = UdpSocket::bind(local).map_err(io_err(conn, "bind"))?;
        socket
            .connect(self.server)
            .map_err(io_err(conn, "connect"))?;
        socket
            .set_read_timeout(Some(IO_TIMEOUT))
            .map_err(io_err(conn, "SO_RCVTIMEO"))?;
        self.sockets.insert(conn, socket);
        self.report.connections += 1;
        Ok(())
    }

    fn expect(
        &mut self,
        index: usize,
        conn: u64,
        offset: u64,
        expected: &[u8],
    ) -> Result<(), ReplayError> {
        let socket = self
            .sockets
            .get(&conn)
            .ok_or(ReplayError::NotOpen { index, conn })?;
        let mut buf = vec![0u8; MAX_DATAGRAM];
        let n = socket
            .recv(&mut buf)
            .map_err(io_err(conn, "waiting for the server's datagram"))?;
        if &buf[..n] != expected {
            return Err(ReplayError::Mismatch {
                conn,
                offset,
                expected: expected.to_vec(),
                got: buf[..n].to_vec(),
            });
        }
        self.report.checked += n as u64;
        Ok(())
    }
}

/// `0.0.0.0` or `::`, matching the family of `addr`.
fn unspecified(addr: &SocketAddr) -> std::net::IpAddr {
    match addr {
        SocketAddr::V4(_) => std::net::Ipv4Addr::UNSPECIFIED.into(),
        SocketAddr::V6(_) => std::net::Ipv6Addr::UNSPECIFIED.into(),
    }
}

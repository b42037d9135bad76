//! The client side of a TCP replay: one stream per recorded connection, `connect(2)`,
//! `send(2)`, `recv(2)`, `shutdown(2)`, and `SO_LINGER` 0 for a recorded reset.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use proxy::transcript::{Direction, Record, Transcript};

use super::{ReplayError, ReplayReport, io_err};
use crate::process::IO_TIMEOUT;

/// The client side of a TCP replay: one stream per recorded connection.
pub(super) struct TcpReplay {
    server: SocketAddr,
    streams: HashMap<u64, TcpStream>,
    report: ReplayReport,
}

impl TcpReplay {
    pub(super) fn new(server: SocketAddr) -> Self {
        TcpReplay {
            server,
            streams: HashMap::new(),
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
        use Direction::{ClientToServer as Up, ServerToClient as Down};
        match record {
            Record::Open { conn } => self.open(*conn),
            Record::Data {
                conn,
                dir: Up,
                bytes,
                ..
            } => self.send(index, *conn, bytes),
            Record::Data {
                conn,
                dir: Down,
                offset,
                bytes,
            } => self.expect(index, *conn, *offset, bytes),
            Record::Eof { conn, dir: Up, .. } => {
                let stream = self.stream(index, *conn)?;
                stream
                    .shutdown(Shutdown::Write)
                    .map_err(io_err(*conn, "shutdown(SHUT_WR)"))
            }
            Record::Eof {
                conn, dir: Down, ..
            } => self.expect_end(index, *conn),
            Record::Reset { conn, dir: Up, .. } => self.reset(index, *conn),
            Record::Reset {
                conn, dir: Down, ..
            } => self.expect_reset(index, *conn),
            Record::Close { conn } => {
                self.streams.remove(conn);
                Ok(())
            }
        }
    }

    fn open(&mut self, conn: u64) -> Result<(), ReplayError> {
        let stream = TcpStream::connect_timeout(&self.server, IO_TIMEOUT)
            .map_err(io_err(conn, "connect"))?;
        stream
            .set_nodelay(true)
            .map_err(io_err(conn, "TCP_NODELAY"))?;
        stream
            .set_read_timeout(Some(IO_TIMEOUT))
            .map_err(io_err(conn, "SO_RCVTIMEO"))?;
        self.streams.insert(conn, stream);
        self.report.connections += 1;
        Ok(())
    }

    fn stream(&mut self, index: usize, conn: u64) -> Result<&mut TcpStream, ReplayError> {
        self.streams
            .get_mut(&conn)
            .ok_or(ReplayError::NotOpen { index, conn })
    }

    fn send(&mut self, index: usize, conn: u64, bytes: &[u8]) -> Result<(), ReplayError> {
        self.stream(index, conn)?
            .write_all(bytes)
            .map_err(io_err(conn, "send"))?;
        self.report.sent += bytes.len() as u64;
        Ok(())
    }

    /// Reads exactly `expected.len()` bytes (however the server split them) and compares.
    fn expect(
        &mut self,
        index: usize,
        conn: u64,
        offset: u64,
        expected: &[u8],
    ) -> Result<(), ReplayError> {
        let stream = self.stream(index, conn)?;
        let got = read_up_to(stream, expected.len())
            .map_err(io_err(conn, "waiting for the server's bytes"))?;
        if got != expected {
            return Err(ReplayError::Mismatch {
                conn,
                offset,
                expected: expected.to_vec(),
                got,
            });
        }
        self.report.checked += got.len() as u64;
        Ok(())
    }

    fn expect_end(&mut self, index: usize, conn: u64) -> Result<(), ReplayError> {
        let stream = self.stream(index, conn)?;
        let mut byte = [0u8; 256];
        match stream.read(&mut byte) {
            Ok(0) => Ok(()),
            Ok(n) => Err(ReplayError::ExtraBytes {
                conn,
                got: byte[..n].to_vec(),
            }),
            Err(e) => Err(ReplayError::Io {
                conn,
                context: "waiting for end-of-stream",
                source: e,
            }),
        }
    }

    /// The client's connection was reset: close it with `SO_LINGER` 0 so the kernel sends RST.
    fn reset(&mut self, index: usize, conn: u64) -> Result<(), ReplayError> {
        let stream = self
            .streams
            .remove(&conn)
            .ok_or(ReplayError::NotOpen { index, conn })?;
        socket2::SockRef::from(&stream)
            .set_linger(Some(Duration::ZERO))
            .map_err(io_err(conn, "SO_LINGER"))?;
        Ok(())
    }

    /// The server's side ended with an error: accept an error or end-of-stream, nothing else.
    fn expect_reset(&mut self, index: usize, conn: u64) -> Result<(), ReplayError> {
        let stream = self.stream(index, conn)?;
        let mut byte = [0u8; 256];
        match stream.read(&mut byte) {
            Ok(n @ 1..) => Err(ReplayError::ExtraBytes {
                conn,
                got: byte[..n].to_vec(),
            }),
            Ok(0) | Err(_) => Ok(()),
        }
    }
}

/// Reads until `len` bytes arrived, the peer closed, or the read timeout expired; returns
/// what came (fewer than `len` only at end-of-stream).
fn read_up_to(stream: &mut TcpStream, len: usize) -> io::Result<Vec<u8>> {
    let mut got = vec![0u8; len];
    let mut filled = 0;
    // Each read is bounded by SO_RCVTIMEO; the deadline bounds a server that drips bytes.
    let deadline = Instant::now() + IO_TIMEOUT;
    while filled < len {
        if Instant::now() > deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("{filled} of {len} bytes arrived in time"),
            ));
        }
        match stream.read(&mut got[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    got.truncate(filled);
    Ok(got)
}

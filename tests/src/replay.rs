//! Replaying a recorded session against a fresh server, byte for byte.
//!
//! `tcp proxy --record FILE` and `udp proxy --record FILE` write what passed through them in the
//! transcript format of `tcp::transcript` (specified in the tcp crate's `PROTOCOL.md`). The
//! replayer walks the records in file order and plays the client:
//!
//! | record                   | TCP                                   | UDP                          |
//! |--------------------------|---------------------------------------|------------------------------|
//! | `[N] open`               | `connect(2)` a new socket N           | a new socket N, `connect(2)` |
//! | `client>server ... len`  | `send(2)` those bytes on N            | send them as one datagram    |
//! | `server>client ... len`  | `recv(2)` exactly that many, compare  | `recv(2)` one datagram, compare |
//! | `client>server ... eof`  | `shutdown(2)` SHUT_WR                 | (not used by UDP)            |
//! | `server>client ... eof`  | expect end-of-stream (`recv` = 0)     | (not used by UDP)            |
//! | `client>server ... reset`| close with `SO_LINGER` 0 (sends RST)  | (not used by UDP)            |
//! | `server>client ... reset`| expect an error or end-of-stream      | (not used by UDP)            |
//! | `[N] close`              | close socket N                        | close socket N               |
//!
//! Reading the server's bytes where the transcript shows them is also what keeps the replay in
//! step: a chat message is sent only once the server has shown (by its replies) that it
//! processed everything before it, as it had when the session was recorded. How the server
//! cuts its bytes into segments does not matter for TCP (a stream); for UDP each datagram must
//! match exactly. Nothing is ignored: the format has no wildcard, so a transcript may only hold
//! a session whose server side is fully determined by its client side (see `tests/README.md`).

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use tcp::transcript::{Direction, ParseError, Record, Transcript};

use crate::process::IO_TIMEOUT;

/// Which socket type a transcript was recorded on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Streams (`tcp proxy --record`): connections, half-close, reset.
    Tcp,
    /// Datagrams (`udp proxy --record`): one data record per datagram.
    Udp,
}

/// Why a replay failed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The transcript file does not parse.
    #[error("bad transcript: {0}")]
    Parse(#[from] ParseError),
    /// A record names a connection that was never opened (or already closed).
    #[error("record {index}: connection {conn} is not open")]
    NotOpen {
        /// Position of the record (0-based).
        index: usize,
        /// Connection number.
        conn: u64,
    },
    /// A record this transport cannot replay (say, `eof` in a UDP transcript).
    #[error("record {index}: {what} cannot be replayed over {transport:?}")]
    Unsupported {
        /// Position of the record (0-based).
        index: usize,
        /// The record kind.
        what: &'static str,
        /// The transport being replayed.
        transport: Transport,
    },
    /// The server sent something other than what was recorded.
    #[error(
        "connection {conn}, server>client offset {offset}: expected {expected}, got {got}",
        expected = show(expected),
        got = show(got)
    )]
    Mismatch {
        /// Connection number.
        conn: u64,
        /// Offset of the record in the server's stream.
        offset: u64,
        /// The recorded bytes.
        expected: Vec<u8>,
        /// What the server sent instead (possibly fewer bytes, if it stopped).
        got: Vec<u8>,
    },
    /// The server sent more after the point the recording ended that direction.
    #[error("connection {conn}: expected end-of-stream from the server, got {got}", got = show(got))]
    ExtraBytes {
        /// Connection number.
        conn: u64,
        /// The unexpected bytes.
        got: Vec<u8>,
    },
    /// A socket call failed (connection refused, timeout waiting for the server, ...).
    #[error("connection {conn}: {context}: {source}")]
    Io {
        /// Connection number.
        conn: u64,
        /// What was being done.
        context: &'static str,
        /// The system error.
        source: io::Error,
    },
}

/// A transcript kept as a regression test: the session plus how to replay it.
///
/// Two comment lines (which the transcript parser ignores) say what to start and how:
///
/// ```text
/// # transcript v1
/// # server: tcp echo-server --mode async
/// # transport: tcp
/// [1] open
/// ...
/// ```
///
/// `server` is the suite binary and its arguments; the replayer adds `--bind 127.0.0.1:0`.
/// `transport` is `tcp` or `udp`. Any other `#` line is a free comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// The server command: binary name, then its arguments.
    pub server: Vec<String>,
    /// How to replay it.
    pub transport: Transport,
    /// The session itself.
    pub transcript: Transcript,
}

/// The comment that names the server command.
pub const SERVER_KEY: &str = "# server: ";
/// The comment that names the transport.
pub const TRANSPORT_KEY: &str = "# transport: ";

/// Why a file is not a replayable regression transcript.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The session itself does not parse.
    #[error("bad transcript: {0}")]
    Parse(#[from] ParseError),
    /// The `# server:` line is missing or empty.
    #[error("no `{SERVER_KEY}BIN ARGS...` line: which server should the replay start?")]
    NoServer,
    /// The `# transport:` line is missing or names something other than tcp or udp.
    #[error("no `{TRANSPORT_KEY}tcp` or `{TRANSPORT_KEY}udp` line")]
    NoTransport,
}

impl Recorded {
    /// Parses a regression transcript: the session and its two metadata lines.
    pub fn parse(text: &str) -> Result<Recorded, LoadError> {
        let transcript = Transcript::parse(text)?;
        let value = |key: &str| {
            text.lines()
                .find_map(|line| line.strip_prefix(key))
                .map(str::trim)
        };
        let server: Vec<String> = value(SERVER_KEY)
            .unwrap_or("")
            .split_whitespace()
            .map(str::to_string)
            .collect();
        if server.is_empty() {
            return Err(LoadError::NoServer);
        }
        let transport = match value(TRANSPORT_KEY) {
            Some("tcp") => Transport::Tcp,
            Some("udp") => Transport::Udp,
            _ => return Err(LoadError::NoTransport),
        };
        Ok(Recorded {
            server,
            transport,
            transcript,
        })
    }

    /// Inserts the metadata lines right after the header of a transcript the proxy wrote.
    pub fn annotate(
        proxy_output: &str,
        server: &[&str],
        transport: Transport,
        note: &str,
    ) -> String {
        let (header, rest) = proxy_output.split_once('\n').unwrap_or((proxy_output, ""));
        let transport = match transport {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
        };
        format!(
            "{header}\n# {note}\n{SERVER_KEY}{}\n{TRANSPORT_KEY}{transport}\n{rest}",
            server.join(" ")
        )
    }
}

/// What a successful replay did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplayReport {
    /// Connections (TCP) or sessions (UDP) opened.
    pub connections: usize,
    /// Client bytes sent.
    pub sent: u64,
    /// Server bytes received and found equal to the recording.
    pub checked: u64,
}

/// Parses `text` and replays it against the server at `server`.
pub fn replay_text(
    text: &str,
    transport: Transport,
    server: SocketAddr,
) -> Result<ReplayReport, ReplayError> {
    replay(&Transcript::parse(text)?, transport, server)
}

/// Replays `transcript` against the server at `server` (see the module docs).
pub fn replay(
    transcript: &Transcript,
    transport: Transport,
    server: SocketAddr,
) -> Result<ReplayReport, ReplayError> {
    match transport {
        Transport::Tcp => TcpReplay::new(server).run(transcript),
        Transport::Udp => UdpReplay::new(server).run(transcript),
    }
}

/// The client side of a TCP replay: one stream per recorded connection.
struct TcpReplay {
    server: SocketAddr,
    streams: HashMap<u64, TcpStream>,
    report: ReplayReport,
}

impl TcpReplay {
    fn new(server: SocketAddr) -> Self {
        TcpReplay {
            server,
            streams: HashMap::new(),
            report: ReplayReport::default(),
        }
    }

    fn run(mut self, transcript: &Transcript) -> Result<ReplayReport, ReplayError> {
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

/// The client side of a UDP replay: one socket per recorded session (client address).
struct UdpReplay {
    server: SocketAddr,
    sockets: HashMap<u64, UdpSocket>,
    report: ReplayReport,
}

/// Largest datagram the replayer can receive (the IPv4 UDP maximum payload is 65,507).
const MAX_DATAGRAM: usize = 65_536;

impl UdpReplay {
    fn new(server: SocketAddr) -> Self {
        UdpReplay {
            server,
            sockets: HashMap::new(),
            report: ReplayReport::default(),
        }
    }

    fn run(mut self, transcript: &Transcript) -> Result<ReplayReport, ReplayError> {
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

fn io_err(conn: u64, context: &'static str) -> impl FnOnce(io::Error) -> ReplayError {
    move |source| ReplayError::Io {
        conn,
        context,
        source,
    }
}

/// Bytes for an error message: printable ASCII as is, the rest as `\xNN`, long runs cut.
fn show(bytes: &[u8]) -> String {
    const MAX_SHOWN: usize = 200;
    let escaped: String = bytes
        .iter()
        .take(MAX_SHOWN)
        .flat_map(|&b| std::ascii::escape_default(b))
        .map(char::from)
        .collect();
    let more = if bytes.len() > MAX_SHOWN {
        format!("... ({} bytes in all)", bytes.len())
    } else {
        String::new()
    };
    format!("{} bytes \"{escaped}\"{more}", bytes.len())
}

//! Replaying a recorded session against a fresh server, byte for byte.
//!
//! `proxy tcp --record FILE` and `proxy udp --record FILE` write what passed through them in the
//! transcript format of `proxy::transcript` (specified in the proxy crate's `PROTOCOL.md`). The
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
//!
//! # Layout
//! - [`recorded`]: a transcript kept as a regression test, with its `# server:` and
//!   `# transport:` lines.
//! - `stream.rs` (TCP), `datagram.rs` (UDP): the two client sides.

use std::io;
use std::net::SocketAddr;

use proxy::transcript::{ParseError, Transcript};

mod datagram;
pub mod recorded;
mod stream;

pub use recorded::{LoadError, Recorded, SERVER_KEY, TRANSPORT_KEY};

/// Which socket type a transcript was recorded on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Streams (`proxy tcp --record`): connections, half-close, reset.
    Tcp,
    /// Datagrams (`proxy udp --record`): one data record per datagram.
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
        Transport::Tcp => stream::TcpReplay::new(server).run(transcript),
        Transport::Udp => datagram::UdpReplay::new(server).run(transcript),
    }
}

pub(crate) fn io_err(conn: u64, context: &'static str) -> impl FnOnce(io::Error) -> ReplayError {
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

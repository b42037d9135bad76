//! Replaying a recorded connection: send what the client sent, expect what the server said.
//!
//! The records of one connection are walked in file order. `client>server` data is written
//! to the server; `server>client` data must come back byte for byte (read with
//! `read_exact`, so it does not matter how the server splits its answer); a
//! `client>server eof` becomes `shutdown(SHUT_WR)` (`shutdown(2)`); a `server>client eof`
//! means the server must close its side now. The first difference stops the replay with
//! the stream offset where it happened.
//!
//! Because records are in the order the proxy *read* them, a reply always comes after the
//! request that caused it, so this lock-step walk never waits for bytes the server has no
//! reason to send yet.

use super::{Direction, Record, Transcript};
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};

/// Why a replay failed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The transcript has no records for this connection.
    #[error("the transcript has no connection {0}")]
    NoSuchConnection(u64),
    /// The server answered something else.
    #[error("server>client offset {offset}: expected \"{expected}\", got \"{got}\"")]
    Mismatch {
        /// Offset in the server>client stream of the first differing chunk.
        offset: u64,
        /// What the transcript says (escaped for printing).
        expected: String,
        /// What the server sent (escaped for printing).
        got: String,
    },
    /// The server sent more where the transcript says it closed.
    #[error("server>client offset {0}: expected end of stream, the server sent more")]
    ExpectedEnd(u64),
    /// Reading, writing or the read timeout failed (a server that closed early ends here).
    #[error("server>client offset {offset}: {source}")]
    Io {
        /// How far the server>client stream had got.
        offset: u64,
        /// The underlying error (`UnexpectedEof`, `WouldBlock` for a timeout, ...).
        source: io::Error,
    },
}

/// Replays connection `conn` of `transcript` on `stream` (already connected to the server
/// under test; give it a read timeout so a silent server cannot hang the replay).
///
/// # Errors
/// The first difference between the recorded and the actual conversation.
pub fn replay(
    transcript: &Transcript,
    conn: u64,
    stream: &mut TcpStream,
) -> Result<(), ReplayError> {
    let records: Vec<&Record> = transcript
        .records
        .iter()
        .filter(|r| r.conn() == conn)
        .collect();
    if records.is_empty() {
        return Err(ReplayError::NoSuchConnection(conn));
    }
    let mut received = 0u64;
    for record in records {
        let io = |source| ReplayError::Io {
            offset: received,
            source,
        };
        match record {
            Record::Data {
                dir: Direction::ClientToServer,
                bytes,
                ..
            } => stream.write_all(bytes).map_err(io)?,
            Record::Eof {
                dir: Direction::ClientToServer,
                ..
            } => stream.shutdown(Shutdown::Write).map_err(io)?,
            Record::Data {
                dir: Direction::ServerToClient,
                bytes,
                ..
            } => {
                expect_bytes(stream, bytes, received)?;
                received += bytes.len() as u64;
            }
            Record::Eof {
                dir: Direction::ServerToClient,
                ..
            } => expect_end(stream, received)?,
            Record::Open { .. } | Record::Close { .. } | Record::Reset { .. } => {}
        }
    }
    Ok(())
}

fn expect_bytes(stream: &mut TcpStream, expected: &[u8], offset: u64) -> Result<(), ReplayError> {
    let mut got = vec![0u8; expected.len()];
    stream
        .read_exact(&mut got)
        .map_err(|source| ReplayError::Io { offset, source })?;
    if got != expected {
        return Err(ReplayError::Mismatch {
            offset,
            expected: escape(expected),
            got: escape(&got),
        });
    }
    Ok(())
}

fn expect_end(stream: &mut TcpStream, offset: u64) -> Result<(), ReplayError> {
    let mut probe = [0u8; 1];
    match stream.read(&mut probe) {
        Ok(0) => Ok(()),
        Ok(_) => Err(ReplayError::ExpectedEnd(offset)),
        Err(source) => Err(ReplayError::Io { offset, source }),
    }
}

fn escape(bytes: &[u8]) -> String {
    bytes.escape_ascii().to_string()
}

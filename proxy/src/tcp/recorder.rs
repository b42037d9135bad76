//! Recording what the proxy forwards, as a transcript (format: [`crate::transcript`]).
//!
//! TCP hands the proxy bytes in whatever pieces `read(2)` happened to return, and those
//! pieces depend on timing. A transcript should not: it is a snapshot and a replay script.
//! So the recorder joins consecutive pieces going the same way on the same connection into
//! one record, and starts a new record only when something else happens in between (the
//! other direction speaks, another connection, an end of stream) or a record reaches
//! [`MAX_RECORD`] bytes. A request/response conversation then records the same way every
//! time, however the kernel split it.
//!
//! All connections share one recorder behind a mutex: the order of the records is the
//! order in which the proxy read the bytes, which respects cause and effect (a reply is
//! read after the request that caused it was read).

use crate::transcript::{Direction, Record, TranscriptWriter};
use std::collections::HashMap;
use std::io::{self, Write};
use std::sync::Mutex;

/// Largest data record the recorder writes; longer runs are split at this size.
pub const MAX_RECORD: usize = 64 * 1024;

/// Writes the transcript of every proxied connection.
pub struct Recorder {
    state: Mutex<State>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder").finish_non_exhaustive()
    }
}

struct State {
    /// `None` once writing failed: the proxy keeps forwarding, it just stops recording.
    writer: Option<TranscriptWriter<Box<dyn Write + Send>>>,
    /// The data record still growing.
    pending: Option<Record>,
    /// Bytes recorded so far per connection and direction.
    offsets: HashMap<(u64, Direction), u64>,
}

impl Recorder {
    /// Starts a transcript on `out` (writes the header line).
    ///
    /// # Errors
    /// If the header cannot be written.
    pub fn new(out: Box<dyn Write + Send>) -> io::Result<Self> {
        let writer = TranscriptWriter::new(out)?;
        Ok(Recorder {
            state: Mutex::new(State {
                writer: Some(writer),
                pending: None,
                offsets: HashMap::new(),
            }),
        })
    }

    /// Continues a transcript on `out` whose header line the caller has already written
    /// (with comment lines of its own after it).
    pub fn after_header(out: Box<dyn Write + Send>) -> Self {
        Recorder {
            state: Mutex::new(State {
                writer: Some(TranscriptWriter::without_header(out)),
                pending: None,
                offsets: HashMap::new(),
            }),
        }
    }

    /// Records that connection `conn` reached the server.
    pub fn open(&self, conn: u64) {
        self.event(Record::Open { conn });
    }

    /// Records bytes forwarded on `conn` in direction `dir`.
    pub fn data(&self, conn: u64, dir: Direction, mut bytes: &[u8]) {
        let mut state = self.lock();
        while !bytes.is_empty() {
            let room = state.room_in_pending(conn, dir);
            let take = room.min(bytes.len());
            if take == 0 {
                state.flush_pending();
                let offset = state.advance(conn, dir, 0);
                state.pending = Some(Record::Data {
                    conn,
                    dir,
                    offset,
                    bytes: Vec::new(),
                });
                continue;
            }
            if let Some(Record::Data { bytes: pending, .. }) = state.pending.as_mut() {
                pending.extend_from_slice(&bytes[..take]);
            }
            state.advance(conn, dir, take as u64);
            bytes = &bytes[take..];
        }
    }

    /// Records an orderly end of stream (FIN) in direction `dir`.
    pub fn eof(&self, conn: u64, dir: Direction) {
        let offset = self.lock().advance(conn, dir, 0);
        self.event(Record::Eof { conn, dir, offset });
    }

    /// Records that direction `dir` ended with an error (reset, ...).
    pub fn reset(&self, conn: u64, dir: Direction) {
        let offset = self.lock().advance(conn, dir, 0);
        self.event(Record::Reset { conn, dir, offset });
    }

    /// Records the end of connection `conn` and forgets its offsets.
    pub fn close(&self, conn: u64) {
        self.event(Record::Close { conn });
        let mut state = self.lock();
        state.offsets.retain(|(c, _), _| *c != conn);
        state.flush_writer();
    }

    /// True once a write failed and recording stopped.
    pub fn failed(&self) -> bool {
        self.lock().writer.is_none()
    }

    /// Writes out the pending record and flushes the file.
    pub fn flush(&self) {
        let mut state = self.lock();
        state.flush_pending();
        state.flush_writer();
    }

    fn event(&self, record: Record) {
        let mut state = self.lock();
        state.flush_pending();
        state.write(&record);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl State {
    /// How many more bytes the pending record can take for (`conn`, `dir`); 0 if the
    /// pending record is for something else, full, or absent.
    fn room_in_pending(&self, conn: u64, dir: Direction) -> usize {
        match &self.pending {
            Some(Record::Data {
                conn: c,
                dir: d,
                bytes,
                ..
            }) if *c == conn && *d == dir => MAX_RECORD - bytes.len(),
            _ => 0,
        }
    }

    /// Returns the current offset of (`conn`, `dir`) and moves it on by `len`.
    fn advance(&mut self, conn: u64, dir: Direction, len: u64) -> u64 {
        let offset = self.offsets.entry((conn, dir)).or_insert(0);
        let before = *offset;
        *offset += len;
        before
    }

    fn flush_pending(&mut self) {
        if let Some(record) = self.pending.take() {
            self.write(&record);
        }
    }

    fn write(&mut self, record: &Record) {
        if let Some(writer) = self.writer.as_mut()
            && let Err(err) = writer.write(record)
        {
            tracing::error!(error = %err, "cannot write the transcript; recording stops (forwarding goes on)");
            self.writer = None;
        }
    }

    fn flush_writer(&mut self) {
        if let Some(writer) = self.writer.as_mut()
            && let Err(err) = writer.flush()
        {
            tracing::error!(error = %err, "cannot write the transcript; recording stops (forwarding goes on)");
            self.writer = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transcript::Transcript;
    use std::sync::Arc;

    /// A `Write` whose bytes the test can read afterwards.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn pieces_in_one_direction_join_into_one_record() {
        let out = Shared::default();
        let recorder = Recorder::new(Box::new(out.clone())).unwrap();
        recorder.open(1);
        recorder.data(1, Direction::ClientToServer, b"GET / HT");
        recorder.data(1, Direction::ClientToServer, b"TP/1.0\r\n\r\n");
        recorder.data(1, Direction::ServerToClient, b"ok");
        recorder.eof(1, Direction::ClientToServer);
        recorder.close(1);
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let transcript = Transcript::parse(&text).unwrap();
        assert_eq!(
            transcript.records,
            vec![
                Record::Open { conn: 1 },
                Record::Data {
                    conn: 1,
                    dir: Direction::ClientToServer,
                    offset: 0,
                    bytes: b"GET / HTTP/1.0\r\n\r\n".to_vec()
                },
                Record::Data {
                    conn: 1,
                    dir: Direction::ServerToClient,
                    offset: 0,
                    bytes: b"ok".to_vec()
                },
                Record::Eof {
                    conn: 1,
                    dir: Direction::ClientToServer,
                    offset: 18
                },
                Record::Close { conn: 1 },
            ]
        );
    }

    #[test]
    fn long_runs_split_at_the_record_limit() {
        let out = Shared::default();
        let recorder = Recorder::new(Box::new(out.clone())).unwrap();
        let big = vec![7u8; MAX_RECORD + 10];
        recorder.data(1, Direction::ServerToClient, &big[..100]);
        recorder.data(1, Direction::ServerToClient, &big[100..]);
        recorder.flush();
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let transcript = Transcript::parse(&text).unwrap();
        let lengths: Vec<usize> = transcript
            .records
            .iter()
            .map(|r| match r {
                Record::Data { bytes, .. } => bytes.len(),
                _ => 0,
            })
            .collect();
        assert_eq!(lengths, vec![MAX_RECORD, 10]);
        assert_eq!(transcript.stream(1, Direction::ServerToClient), big);
    }
}

//! `--record FILE`: every datagram the proxy sends on, one transcript record each (written just
//! before the send), in the transcript format of [`crate::transcript`] (specified in the
//! crate's `PROTOCOL.md`). Sessions are the transcript's connections, numbered from 1 in the order client
//! addresses were first seen; offsets count the bytes sent so far in that direction. Drops are
//! written as `#` comments, which the parser ignores.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufWriter};
use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::transcript::{Direction, Record, TranscriptWriter};

/// A transcript shared by the proxy's tasks.
#[derive(Clone)]
pub struct Recorder {
    inner: Arc<Mutex<State>>,
}

struct State {
    writer: TranscriptWriter<BufWriter<File>>,
    offsets: HashMap<(u64, Direction), u64>,
}

impl Recorder {
    /// Creates (truncates) `path` and writes the transcript header.
    pub fn create(path: &Path) -> io::Result<Self> {
        let writer = TranscriptWriter::new(BufWriter::new(File::create(path)?))?;
        let state = State {
            writer,
            offsets: HashMap::new(),
        };
        Ok(Self {
            inner: Arc::new(Mutex::new(state)),
        })
    }

    /// A session started.
    pub fn open(&self, conn: u64) {
        self.with(|s| s.writer.write(&Record::Open { conn }));
    }

    /// A session ended (idle expiry or shutdown).
    pub fn close(&self, conn: u64) {
        self.with(|s| s.writer.write(&Record::Close { conn }));
    }

    /// One datagram was sent on.
    pub fn datagram(&self, conn: u64, dir: Direction, bytes: &[u8]) {
        self.with(|s| {
            let offset = s.offsets.entry((conn, dir)).or_default();
            let record = Record::Data {
                conn,
                dir,
                offset: *offset,
                bytes: bytes.to_vec(),
            };
            *offset += bytes.len() as u64;
            s.writer.write(&record)
        });
    }

    /// One datagram was dropped on purpose (a comment line).
    pub fn dropped(&self, conn: u64, dir: Direction, len: usize) {
        self.with(|s| {
            s.writer
                .comment(&format!("[{conn}] {dir} dropped datagram of {len} bytes"))
        });
    }

    /// A free-form note about a session (a comment line).
    pub fn note(&self, conn: u64, dir: Direction, text: &str) {
        self.with(|s| s.writer.comment(&format!("[{conn}] {dir} {text}")));
    }

    /// Writes buffered records to the file.
    pub fn flush(&self) {
        self.with(|s| s.writer.flush());
    }

    fn with(&self, f: impl FnOnce(&mut State) -> io::Result<()>) {
        let mut state = self
            .inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Err(e) = f(&mut state) {
            tracing::warn!("proxy: cannot write transcript: {e}");
        }
    }
}

//! One direction of a proxied connection: read from one socket, write to the other.
//!
//! A pump is two halves joined by a small bounded channel: the reader reads a chunk,
//! records it, stamps it with the time it may be forwarded, and queues it; the writer waits
//! until that time, writes it (throttled if asked), and at end of stream half-closes its
//! socket with `shutdown(SHUT_WR)` (`shutdown(2)`): the FIN the proxy read from one peer
//! becomes a FIN to the other. That is what "preserving half-close" means: a client
//! that says "I'm done sending" (like `printf ... | nc`) can still get the whole answer.
//!
//! The channel is bounded ([`PIPELINE_CHUNKS`] chunks), so a slow receiver pushes back
//! on the reader, the reader stops reading, and TCP flow control slows the sender down:
//! the proxy never buffers more than a few hundred KiB per direction.

use super::recorder::Recorder;
use super::shaping::Throttle;
use crate::transcript::Direction;
use bytes::{Bytes, BytesMut};
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Bytes asked for per `read(2)`.
pub const READ_CHUNK: usize = 16 * 1024;

/// Chunks in flight between a pump's reader and writer (so at most 32 x 16 KiB queued).
pub const PIPELINE_CHUNKS: usize = 32;

/// What travels from a pump's reader to its writer.
enum Chunk {
    Data { due: Instant, bytes: Bytes },
    EndOfStream { due: Instant },
}

/// How a pump shapes and records its traffic.
#[derive(Debug, Clone)]
pub struct PumpSettings {
    /// Which connection and direction, for the transcript and logs.
    pub conn: u64,
    /// The direction this pump carries.
    pub dir: Direction,
    /// Added latency.
    pub delay: Duration,
    /// Bandwidth cap in kilobits per second.
    pub throttle_kbps: Option<u64>,
    /// Where to record, if anywhere.
    pub recorder: Option<Arc<Recorder>>,
    /// Milliseconds since `epoch` at the last byte moved (for the idle deadline).
    pub activity: Arc<AtomicU64>,
    /// The connection's start, the zero of `activity`.
    pub epoch: Instant,
}

impl PumpSettings {
    fn touch(&self) {
        self.activity
            .store(self.epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
    }
}

/// Moves bytes from `from` to `to` until end of stream (then half-closes `to`) or an error.
///
/// # Errors
/// A failed read or write; the caller then aborts the whole connection.
pub async fn pump<R, W>(from: R, to: W, settings: PumpSettings) -> io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let (tx, rx) = mpsc::channel(PIPELINE_CHUNKS);
    let result = tokio::try_join!(
        read_side(from, tx, &settings),
        write_side(to, rx, &settings)
    );
    if result.is_err()
        && let Some(recorder) = &settings.recorder
    {
        recorder.reset(settings.conn, settings.dir);
    }
    result.map(|_| ())
}

async fn read_side<R: AsyncRead + Unpin>(
    mut from: R,
    tx: mpsc::Sender<Chunk>,
    settings: &PumpSettings,
) -> io::Result<()> {
    loop {
        let mut buf = BytesMut::with_capacity(READ_CHUNK);
        let n = from.read_buf(&mut buf).await?;
        settings.touch();
        let due = Instant::now() + settings.delay;
        if n == 0 {
            if let Some(recorder) = &settings.recorder {
                recorder.eof(settings.conn, settings.dir);
            }
            // If the writer is gone it has already failed and reported why.
            let _ = tx.send(Chunk::EndOfStream { due }).await;
            return Ok(());
        }
        if let Some(recorder) = &settings.recorder {
            recorder.data(settings.conn, settings.dir, &buf);
        }
        if tx
            .send(Chunk::Data {
                due,
                bytes: buf.freeze(),
            })
            .await
            .is_err()
        {
            return Ok(());
        }
    }
}

async fn write_side<W: AsyncWrite + Unpin>(
    mut to: W,
    mut rx: mpsc::Receiver<Chunk>,
    settings: &PumpSettings,
) -> io::Result<()> {
    let mut throttle = settings.throttle_kbps.map(Throttle::from_kbps);
    while let Some(chunk) = rx.recv().await {
        match chunk {
            Chunk::Data { due, bytes } => {
                tokio::time::sleep_until(due).await;
                match throttle.as_mut() {
                    Some(throttle) => throttle.write_all(&mut to, &bytes).await?,
                    None => to.write_all(&bytes).await?,
                }
                settings.touch();
            }
            Chunk::EndOfStream { due } => {
                tokio::time::sleep_until(due).await;
                return to.shutdown().await;
            }
        }
    }
    Ok(())
}

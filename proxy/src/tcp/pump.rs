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
//!
//! A receiver that stops reading must not hold the proxy's buffers forever, so each chunk
//! has to be written *whole* within the write deadline ([`PumpSettings::write_timeout`]).
//! The deadline is set once, when the write starts: a receiver that takes one byte now and
//! then makes `write(2)` return short writes, and a timeout restarted after each of them
//! would never fire.

use super::recorder::Recorder;
use super::shaping::Throttle;
use crate::pcap::write::TcpPcap;
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
    /// Longest time one chunk may take to be written whole (the receiver is not reading).
    pub write_timeout: Duration,
    /// Where to record, if anywhere.
    pub recorder: Option<Arc<Recorder>>,
    /// Where to capture, if anywhere.
    pub pcap: Option<Arc<TcpPcap>>,
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
    if result.is_err() {
        if let Some(recorder) = &settings.recorder {
            recorder.reset(settings.conn, settings.dir);
        }
        if let Some(pcap) = &settings.pcap {
            pcap.reset(settings.conn, settings.dir);
        }
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
            if let Some(pcap) = &settings.pcap {
                pcap.eof(settings.conn, settings.dir);
            }
            // If the writer is gone it has already failed and reported why.
            let _ = tx.send(Chunk::EndOfStream { due }).await;
            return Ok(());
        }
        if let Some(recorder) = &settings.recorder {
            recorder.data(settings.conn, settings.dir, &buf);
        }
        if let Some(pcap) = &settings.pcap {
            pcap.data(settings.conn, settings.dir, &buf);
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
                    Some(throttle) => {
                        throttle
                            .write_all(&mut to, &bytes, settings.write_timeout)
                            .await?
                    }
                    None => write_within(&mut to, &bytes, settings.write_timeout).await?,
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

/// Writes all of `bytes` or fails with `TimedOut` once `deadline` has passed since the start,
/// however many partial writes the receiver allowed on the way.
pub async fn write_within<W: AsyncWrite + Unpin>(
    to: &mut W,
    bytes: &[u8],
    deadline: Duration,
) -> io::Result<()> {
    match tokio::time::timeout(deadline, to.write_all(bytes)).await {
        Ok(written) => written,
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!(
                "the receiver did not take {} bytes within {} ms",
                bytes.len(),
                deadline.as_millis()
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::DuplexStream;

    /// Reads one byte per second from `from`, forever: the slowest reader that still reads.
    fn dribbling_reader(mut from: DuplexStream) {
        tokio::spawn(async move {
            let mut byte = [0u8; 1];
            while from.read(&mut byte).await.unwrap_or(0) == 1 {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
    }

    fn settings(write_timeout: Duration, throttle_kbps: Option<u64>) -> PumpSettings {
        PumpSettings {
            conn: 1,
            dir: Direction::ClientToServer,
            delay: Duration::ZERO,
            throttle_kbps,
            write_timeout,
            recorder: None,
            pcap: None,
            activity: Arc::new(AtomicU64::new(0)),
            epoch: Instant::now(),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_write_deadline_holds_for_the_whole_chunk_against_a_dribbling_reader() {
        for throttle in [None, Some(1_000)] {
            let (to, receiver) = tokio::io::duplex(1024);
            dribbling_reader(receiver);
            let chunk = vec![7u8; 64 * 1024];
            let started = Instant::now();
            let result = pump(&chunk[..], to, settings(Duration::from_secs(10), throttle)).await;
            let err = result.expect_err("a reader at 1 byte/s cannot take 64 KiB in 10 s");
            assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{err}");
            // Paused clock: exactly the deadline, not the deadline restarted per partial write.
            let took = started.elapsed();
            assert!(
                took >= Duration::from_secs(10) && took < Duration::from_secs(11),
                "throttle {throttle:?}: gave up after {took:?}"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_reader_that_keeps_up_is_not_cut_off() {
        let (to, mut receiver) = tokio::io::duplex(1024);
        let reader = tokio::spawn(async move {
            let mut all = Vec::new();
            receiver.read_to_end(&mut all).await.unwrap();
            all
        });
        let chunk = vec![7u8; 256 * 1024];
        pump(&chunk[..], to, settings(Duration::from_millis(1), None))
            .await
            .unwrap();
        assert_eq!(reader.await.unwrap(), chunk);
    }
}

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
use crate::rng::{SplitMix64, mix};
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
    Data {
        due: Instant,
        bytes: Bytes,
    },
    EndOfStream {
        due: Instant,
    },
    /// `--limit-bytes` reached: after what came before, drop the connection.
    Limit {
        due: Instant,
        limit: u64,
    },
}

/// `--slice-bytes`: forward in pieces of at most `bytes`, `delay` apart (toxiproxy's slicer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slice {
    /// Most bytes per `write(2)`.
    pub bytes: usize,
    /// Pause after each piece but the last.
    pub delay: Duration,
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
    /// Forward in small pieces, if set.
    pub slice: Option<Slice>,
    /// Drop the connection after this many bytes in this direction, if set.
    pub limit_bytes: Option<u64>,
    /// Each chunk's delay varies by up to this much either way (never reordering).
    pub jitter: Duration,
    /// Seed of the jitter (with the connection and direction: the same run, the same delays).
    pub seed: u64,
    /// The FIN is passed on this much later than the data before it would allow.
    pub slow_close: Duration,
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
    let mut forwarded = 0u64;
    let stream = settings.conn << 1 | u64::from(settings.dir == Direction::ServerToClient);
    let mut rng = SplitMix64::new(mix(settings.seed ^ mix(stream)));
    let mut last_due = Instant::now();
    loop {
        let mut buf = BytesMut::with_capacity(READ_CHUNK);
        let n = from.read_buf(&mut buf).await?;
        settings.touch();
        // Jitter may make a chunk due earlier than the one before it; TCP keeps order, so
        // it then goes right after that one instead.
        let wobble = settings.jitter.as_secs_f64() * (2.0 * rng.next_f64() - 1.0);
        let delay = Duration::from_secs_f64((settings.delay.as_secs_f64() + wobble).max(0.0));
        let due = (Instant::now() + delay).max(last_due);
        last_due = due;
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
        // Past the limit nothing is forwarded (or recorded): the bytes up to it, then the cut.
        let limit = settings.limit_bytes.filter(|&l| forwarded + n as u64 >= l);
        if let Some(limit) = limit {
            buf.truncate((limit - forwarded) as usize);
        }
        forwarded += buf.len() as u64;
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
        if let Some(limit) = limit {
            let _ = tx.send(Chunk::Limit { due, limit }).await;
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
                let (piece, pause) = match settings.slice {
                    Some(slice) => (slice.bytes.max(1), slice.delay),
                    None => (bytes.len().max(1), Duration::ZERO),
                };
                for (i, part) in bytes.chunks(piece).enumerate() {
                    if i > 0 {
                        tokio::time::sleep(pause).await;
                    }
                    match throttle.as_mut() {
                        Some(throttle) => {
                            throttle
                                .write_all(&mut to, part, settings.write_timeout)
                                .await?
                        }
                        None => write_within(&mut to, part, settings.write_timeout).await?,
                    }
                    // Each piece its own write(2): flush so a buffered writer cannot join them.
                    to.flush().await?;
                }
                settings.touch();
            }
            Chunk::Limit { due, limit } => {
                tokio::time::sleep_until(due).await;
                return Err(io::Error::other(format!(
                    "--limit-bytes: {limit} bytes forwarded, connection dropped"
                )));
            }
            Chunk::EndOfStream { due } => {
                tokio::time::sleep_until(due + settings.slow_close).await;
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
            slice: None,
            limit_bytes: None,
            jitter: Duration::ZERO,
            seed: 0,
            slow_close: Duration::ZERO,
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

    /// Records the size of every write it is given and takes all of it.
    #[derive(Default)]
    struct Writes(Vec<usize>, Vec<u8>);

    impl AsyncWrite for Writes {
        fn poll_write(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &[u8],
        ) -> std::task::Poll<io::Result<usize>> {
            self.0.push(buf.len());
            self.1.extend_from_slice(buf);
            std::task::Poll::Ready(Ok(buf.len()))
        }
        fn poll_flush(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<io::Result<()>> {
            std::task::Poll::Ready(Ok(()))
        }
        fn poll_shutdown(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<io::Result<()>> {
            std::task::Poll::Ready(Ok(()))
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_slicer_forwards_small_pieces_apart() {
        let mut out = Writes::default();
        let mut s = settings(Duration::from_secs(1), None);
        s.slice = Some(Slice {
            bytes: 3,
            delay: Duration::from_millis(10),
        });
        let started = Instant::now();
        pump(&b"0123456789"[..], &mut out, s).await.unwrap();
        assert_eq!(out.0, [3, 3, 3, 1]);
        assert_eq!(out.1, b"0123456789");
        // Three pauses between four pieces (paused clock: exact).
        assert_eq!(started.elapsed(), Duration::from_millis(30));
    }

    #[tokio::test(start_paused = true)]
    async fn the_byte_limit_forwards_exactly_that_much_then_drops_the_connection() {
        let mut out = Writes::default();
        let mut s = settings(Duration::from_secs(1), None);
        s.limit_bytes = Some(40);
        let err = pump(&[9u8; 100][..], &mut out, s).await.unwrap_err();
        assert!(err.to_string().contains("--limit-bytes: 40 bytes"), "{err}");
        assert_eq!(out.1, [9u8; 40]);
    }

    #[tokio::test(start_paused = true)]
    async fn slow_close_passes_the_fin_on_late_and_the_data_at_once() {
        let (to, mut receiver) = tokio::io::duplex(1024);
        let mut s = settings(Duration::from_secs(1), None);
        s.slow_close = Duration::from_secs(3);
        let started = Instant::now();
        let pumping = tokio::spawn(pump(&b"bye\n"[..], to, s));
        let mut got = [0u8; 4];
        receiver.read_exact(&mut got).await.unwrap();
        assert_eq!(started.elapsed(), Duration::ZERO, "data is not held back");
        let mut rest = Vec::new();
        receiver.read_to_end(&mut rest).await.unwrap();
        assert_eq!(
            started.elapsed(),
            Duration::from_secs(3),
            "the FIN comes 3 s later"
        );
        pumping.await.unwrap().unwrap();
    }

    /// A reader that hands out its chunks one `read` at a time.
    struct Chunks(Vec<Vec<u8>>);
    impl AsyncRead for Chunks {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<io::Result<()>> {
            if !self.0.is_empty() {
                let chunk = self.0.remove(0);
                buf.put_slice(&chunk);
            }
            std::task::Poll::Ready(Ok(()))
        }
    }

    /// When each byte of the output arrived, relative to the start, for a given seed.
    async fn arrivals(seed: u64) -> Vec<Duration> {
        let (to, mut receiver) = tokio::io::duplex(1024);
        let mut s = settings(Duration::from_secs(1), None);
        s.delay = Duration::from_millis(100);
        s.jitter = Duration::from_millis(80);
        s.seed = seed;
        let started = Instant::now();
        let chunks = Chunks((0..20u8).map(|i| vec![i]).collect());
        tokio::spawn(pump(chunks, to, s));
        let mut times = Vec::new();
        let mut byte = [0u8; 1];
        for i in 0..20u8 {
            receiver.read_exact(&mut byte).await.unwrap();
            assert_eq!(byte[0], i, "jitter never reorders");
            times.push(started.elapsed());
        }
        times
    }

    #[tokio::test(start_paused = true)]
    async fn jitter_varies_the_delay_by_the_seed_and_keeps_the_order() {
        let a = arrivals(1).await;
        assert_eq!(a, arrivals(1).await, "same seed, same delays");
        assert_ne!(a, arrivals(2).await, "another seed, other delays");
        assert!(
            a.iter()
                .all(|t| *t >= Duration::from_millis(20) && *t <= Duration::from_millis(180)),
            "{a:?}"
        );
        assert!(a.windows(2).all(|w| w[0] <= w[1]));
        assert!(a.windows(2).any(|w| w[0] != w[1]), "the delays vary: {a:?}");
    }
}

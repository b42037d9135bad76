//! `framing bench`: encode+decode throughput of this crate's frames, measured beside a
//! plain memcpy of the same bytes (the floor for moving them once) and tokio-util's
//! `LengthDelimitedCodec` (what most Rust code would use), in the same run.
//!
//! One round, per method and frame size: encode a batch of frames (about 4 MiB) into one
//! `BytesMut`, then decode every frame back out, checking lengths and the first frame's
//! bytes. The memcpy round copies the same payload into the same batch buffer, frame
//! after frame, with no length fields: the floor for an encoder. Rounds repeat for `--min-ms`; the figure is the median over `--runs` rounds,
//! with the methods interleaved so that drift hits them alike.

use std::hint::black_box;
use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use bytes::{Bytes, BytesMut};
use framing::{FrameCodec, FrameFormat};
use tokio_util::codec::{Decoder, Encoder, LengthDelimitedCodec};

/// Options of `framing bench`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Frame payload sizes in bytes.
    #[arg(long, value_delimiter = ',', default_values_t = vec![16usize, 1024, 65536])]
    sizes: Vec<usize>,
    /// Bytes per encoded batch.
    #[arg(long, default_value_t = 4 << 20)]
    batch_bytes: usize,
    /// Minimum time per measurement, in milliseconds.
    #[arg(long, default_value_t = 300)]
    min_ms: u64,
    /// Measurements per method and size; the median is reported.
    #[arg(long, default_value_t = 5)]
    runs: usize,
}

/// The methods compared, in print order.
const METHODS: [&str; 4] = ["memcpy", "ldc", "ours", "ours_borrowed"];

/// What one round works on: the payload, how many frames make a batch, and the batch's
/// payload bytes laid end to end (the memcpy baseline's destination size).
struct Batch {
    payload: Bytes,
    frames: usize,
    source: Vec<u8>,
}

/// One encode+decode pass over a batch: returns payload bytes moved.
type Round = fn(&Batch, &mut BytesMut) -> Result<usize>;

/// Runs every size and prints a table and one `key=value` line.
pub fn run(args: &Args) -> Result<()> {
    ensure!(args.runs > 0, "--runs must be at least 1");
    let min = Duration::from_millis(args.min_ms);
    let mut figures = Vec::new();
    println!(
        "{:>8} {:>14} {:>14} {:>14} {:>14}   (MB/s of payload, median of {})",
        "frame", METHODS[0], METHODS[1], METHODS[2], METHODS[3], args.runs
    );
    for &size in &args.sizes {
        let medians = measure_size(size, args.batch_bytes, min, args.runs)?;
        println!(
            "{:>8} {:>14.0} {:>14.0} {:>14.0} {:>14.0}",
            label(size),
            medians[0],
            medians[1],
            medians[2],
            medians[3]
        );
        let tag = label(size);
        for (method, mb) in METHODS.iter().zip(medians) {
            figures.push(format!("{method}_{tag}_MBps={mb:.0}"));
        }
        figures.push(format!("ours_vs_ldc_{tag}={:.2}", medians[2] / medians[1]));
        figures.push(format!(
            "ours_vs_memcpy_{tag}={:.2}",
            medians[2] / medians[0]
        ));
        figures.push(format!(
            "ours_frames_per_s_{tag}={:.0}",
            medians[2] * 1e6 / size.max(1) as f64
        ));
    }
    println!("{}", figures.join(" "));
    Ok(())
}

/// Median MB/s of each method for one frame size.
fn measure_size(size: usize, batch_bytes: usize, min: Duration, runs: usize) -> Result<[f64; 4]> {
    let payload = Bytes::from((0..size).map(|i| (i % 251) as u8).collect::<Vec<_>>());
    let frames = (batch_bytes / (size + 4)).max(1);
    let batch = Batch {
        source: payload.repeat(frames),
        payload,
        frames,
    };
    let rounds: [Round; 4] = [memcpy_round, ldc_round, ours_round, ours_borrowed_round];
    let mut samples = vec![Vec::with_capacity(runs); rounds.len()];
    for _ in 0..runs {
        for (method, round) in rounds.iter().enumerate() {
            samples[method].push(timed(*round, &batch, min)?);
        }
    }
    Ok(std::array::from_fn(|method| median(&mut samples[method])))
}

/// Repeats a round for at least `min`; MB/s of payload.
fn timed(round: Round, batch: &Batch, min: Duration) -> Result<f64> {
    let mut buf = BytesMut::with_capacity(batch.frames * (batch.payload.len() + 8));
    let (start, mut bytes) = (Instant::now(), 0usize);
    while start.elapsed() < min {
        bytes += round(batch, &mut buf)?;
    }
    Ok(bytes as f64 / start.elapsed().as_secs_f64() / 1e6)
}

fn memcpy_round(batch: &Batch, buf: &mut BytesMut) -> Result<usize> {
    // The same payload bytes copied to the same kind of place, frame after frame, with no
    // length fields and no decoding: the floor for what a frame encoder must do.
    let size = batch.payload.len().max(1);
    if buf.len() != batch.source.len() {
        buf.clear();
        buf.resize(batch.source.len(), 0);
    }
    for slot in buf.chunks_exact_mut(size) {
        slot.copy_from_slice(black_box(&batch.payload[..]));
    }
    black_box(&buf);
    Ok(batch.source.len())
}

fn ldc_round(batch: &Batch, buf: &mut BytesMut) -> Result<usize> {
    let (payload, frames) = (&batch.payload, batch.frames);
    let mut codec = LengthDelimitedCodec::builder()
        .max_frame_length(payload.len().max(8 << 20))
        .new_codec();
    buf.clear();
    for _ in 0..frames {
        codec.encode(payload.clone(), buf)?;
    }
    let mut n = 0;
    while let Some(frame) = codec.decode(buf)? {
        check(n, &frame, payload)?;
        n += 1;
    }
    finish(n, frames, payload)
}

fn ours_round(batch: &Batch, buf: &mut BytesMut) -> Result<usize> {
    let (payload, frames) = (&batch.payload, batch.frames);
    let mut codec =
        FrameCodec::new(FrameFormat::default().with_max_frame(payload.len().max(8 << 20) as u64)?);
    buf.clear();
    for _ in 0..frames {
        codec.encode(&payload[..], buf)?;
    }
    let mut n = 0;
    while let Some(frame) = codec.decode(buf)? {
        check(n, &frame, payload)?;
        n += 1;
    }
    finish(n, frames, payload)
}

fn ours_borrowed_round(batch: &Batch, buf: &mut BytesMut) -> Result<usize> {
    let (payload, frames) = (&batch.payload, batch.frames);
    let format = FrameFormat::default().with_max_frame(payload.len().max(8 << 20) as u64)?;
    buf.clear();
    for _ in 0..frames {
        format.encode(payload, buf)?;
    }
    let mut n = 0;
    for frame in format.frames(buf) {
        check(n, frame?, payload)?;
        n += 1;
    }
    finish(n, frames, payload)
}

/// Every frame has the right length; the first one the right bytes.
fn check(index: usize, frame: &[u8], payload: &Bytes) -> Result<()> {
    ensure!(
        frame.len() == payload.len(),
        "frame {index} has {} bytes, sent {}",
        frame.len(),
        payload.len()
    );
    ensure!(
        index > 0 || frame == &payload[..],
        "frame 0 differs from what was encoded"
    );
    black_box(frame);
    Ok(())
}

fn finish(decoded: usize, encoded: usize, payload: &Bytes) -> Result<usize> {
    ensure!(decoded == encoded, "decoded {decoded} frames of {encoded}");
    Ok(decoded * payload.len())
}

fn median(samples: &mut [f64]) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn label(size: usize) -> String {
    if size >= 1024 && size.is_multiple_of(1024) {
        format!("{}KiB", size / 1024)
    } else {
        format!("{size}B")
    }
}

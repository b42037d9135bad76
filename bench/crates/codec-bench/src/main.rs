//! `codec-bench`: tokio-util `LengthDelimitedCodec` encode + decode throughput over an
//! in-memory `BytesMut` for several frame sizes, next to a plain memcpy of the same
//! number of bytes (the physical limit for moving them once).
//!
//! Per frame size: encode a batch of frames (about `--batch-bytes`) into one `BytesMut`,
//! then decode every frame back out; repeat until `--min-ms` has passed. MB/s counts
//! payload bytes (each payload byte is encoded once and decoded once); frames/s counts
//! encode+decode pairs. The memcpy figure copies the encoded batch's byte count from one
//! buffer to another. Final stdout line is `key=value` pairs.

use bytes::{Bytes, BytesMut};
use clap::Parser;
use std::hint::black_box;
use std::time::{Duration, Instant};
use tokio_util::codec::{Decoder, Encoder, LengthDelimitedCodec};

#[derive(Parser)]
#[command(about = "LengthDelimitedCodec encode+decode throughput vs memcpy")]
struct Args {
    /// Frame payload sizes in bytes.
    #[arg(long, value_delimiter = ',', default_values_t = vec![16usize, 1024, 65536])]
    sizes: Vec<usize>,
    /// Target bytes per encoded batch.
    #[arg(long, default_value_t = 4 << 20)]
    batch_bytes: usize,
    /// Minimum measuring time per figure, in milliseconds.
    #[arg(long, default_value_t = 700)]
    min_ms: u64,
}

fn label(size: usize) -> String {
    if size >= 1024 && size.is_multiple_of(1024) {
        format!("{}KiB", size / 1024)
    } else {
        format!("{size}B")
    }
}

fn codec_run(size: usize, batch_bytes: usize, min: Duration) -> (f64, f64, usize) {
    let payload = Bytes::from((0..size).map(|i| (i % 251) as u8).collect::<Vec<_>>());
    let frames_per_batch = (batch_bytes / (size + 4)).max(1);
    let mut codec = LengthDelimitedCodec::builder()
        .max_frame_length(size.max(8 << 20))
        .new_codec();
    let mut buf = BytesMut::with_capacity(frames_per_batch * (size + 4));
    let (mut frames, mut bytes) = (0u64, 0u64);
    let t0 = Instant::now();
    loop {
        for _ in 0..frames_per_batch {
            codec.encode(payload.clone(), &mut buf).expect("encode");
        }
        let mut n = 0;
        while let Some(frame) = codec.decode(&mut buf).expect("decode") {
            assert_eq!(frame.len(), size);
            if n == 0 {
                assert_eq!(&frame[..], &payload[..], "decoded frame differs");
            }
            black_box(&frame);
            n += 1;
        }
        assert_eq!(n, frames_per_batch);
        frames += n as u64;
        bytes += (n * size) as u64;
        if t0.elapsed() >= min {
            break;
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    (
        bytes as f64 / secs / 1e6,
        frames as f64 / secs,
        frames_per_batch * (size + 4),
    )
}

fn memcpy_run(len: usize, min: Duration) -> f64 {
    let src: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
    let mut dst = vec![0u8; len];
    let mut bytes = 0u64;
    let t0 = Instant::now();
    loop {
        dst.copy_from_slice(black_box(&src));
        black_box(&mut dst);
        bytes += len as u64;
        if t0.elapsed() >= min {
            break;
        }
    }
    bytes as f64 / t0.elapsed().as_secs_f64() / 1e6
}

fn main() {
    let args = Args::parse();
    let min = Duration::from_millis(args.min_ms);
    let mut kv = Vec::new();
    for &size in &args.sizes {
        let (mbps, fps, batch_len) = codec_run(size, args.batch_bytes, min);
        let memcpy = memcpy_run(batch_len, min);
        let l = label(size);
        eprintln!(
            "frame {l:>6}: codec {mbps:>10.1} MB/s {fps:>12.0} frames/s | memcpy {memcpy:>10.1} MB/s (batch {batch_len} B)"
        );
        kv.push(format!("codec_{l}_MB_per_s={mbps:.1}"));
        kv.push(format!("codec_{l}_frames_per_s={fps:.0}"));
        kv.push(format!("memcpy_{l}_MB_per_s={memcpy:.1}"));
    }
    println!("{}", kv.join(" "));
}

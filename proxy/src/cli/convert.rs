//! `proxy pcap-to-transcript`: one flow of a capture into a transcript file.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use proxy::pcap::read::{ConvertOptions, DEFAULT_MAX_BYTES, pcap_to_transcript};

/// Flags of `proxy pcap-to-transcript`.
#[derive(Debug, Args)]
pub struct ConvertArgs {
    /// The capture (classic pcap: `tcpdump -w FILE`, or `proxy ... --pcap FILE`).
    capture: PathBuf,
    /// The transcript to write.
    out: PathBuf,
    /// Which flow, when the capture holds several (the error lists them, numbered from 1).
    #[arg(long, value_name = "N")]
    flow: Option<usize>,
    /// The server command a replay starts, written as `# server: CMD` (e.g. "tcp echo-server").
    #[arg(long, value_name = "CMD")]
    server: Option<String>,
    /// Most bytes of packets held in memory while converting (payload plus 128 per packet);
    /// a larger capture is refused with a hint to cut it first.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_BYTES)]
    max_bytes: u64,
}

/// Converts, and says what it found on stderr.
pub fn run(args: ConvertArgs) -> anyhow::Result<()> {
    let input = std::fs::File::open(&args.capture)
        .with_context(|| format!("cannot open {}", args.capture.display()))?;
    let output = std::fs::File::create(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let header: Vec<String> = args
        .server
        .iter()
        .map(|cmd| format!("# server: {cmd}"))
        .collect();
    let options = ConvertOptions {
        flow: args.flow,
        max_bytes: args.max_bytes,
    };
    let converted = pcap_to_transcript(std::io::BufReader::new(input), options, &header, output);
    let converted = match converted {
        Ok(converted) => converted,
        Err(err) => {
            // Leave no half-written transcript behind.
            let _ = std::fs::remove_file(&args.out);
            return Err(err).with_context(|| format!("cannot convert {}", args.capture.display()));
        }
    };
    eprintln!(
        "converted {}; {} retransmitted and {} out-of-order segments put right",
        converted.flow, converted.retransmitted, converted.out_of_order
    );
    Ok(())
}

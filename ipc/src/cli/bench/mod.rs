//! `ipc bench`: one-way throughput and ping-pong latency of every mechanism, side by side in one
//! run, then one `key=value` line.
//!
//! Each measurement is two real processes: this one and `ipc child bench-peer`, pinned to
//! different CPUs where the machine has two. Throughput: the parent sends fixed-size messages for
//! `--duration-s` (at most `--count`), then a stop marker; the peer counts what arrived and
//! reports it, so lost UDP datagrams are not counted. Ping-pong: one 64-byte message there and
//! back, `--pingpong-count` times or for `--duration-s`; the figures are round trips.
//! Beside each mechanism's throughput cell runs its plain loop ([`raw`]: `pipe_raw`, `fifo_raw`,
//! ...), what a C programmer would write over the same system call, and the table of ratios
//! says how close the mechanism comes to it.

pub mod link;
pub mod mechs;
pub mod peer;
pub mod raw;
mod raw_peer;
mod raw_report;
mod raw_ring;
mod report;

use std::time::{Duration, Instant};

use clap::Args;
use mechs::Mech;

/// First byte of a data message.
pub const DATA: u8 = 0;
/// First byte of the stop marker.
pub const STOP: u8 = 1;
/// First byte of the sink's report.
pub const REPLY: u8 = 2;
/// First byte of the peer's "attached, start the clock" message.
pub const READY: u8 = 3;
/// The largest UDP payload over IPv4 (65,535 - 8 - 20).
const MAX_UDP_PAYLOAD: usize = 65_507;
/// Messages per `send_many` call of the throughput loop (and per clock check).
const SEND_CHUNK: u64 = 64;
/// Message sizes measured.
pub const SIZES: [(usize, &str); 3] = [(64, "64B"), (1024, "1KiB"), (65536, "64KiB")];

/// `bench` flags.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Seconds per measurement (there are about 60).
    #[arg(long, default_value_t = 0.25)]
    pub duration_s: f64,
    /// Most messages per throughput measurement.
    #[arg(long, default_value_t = 5_000_000)]
    pub count: u64,
    /// Most round trips per ping-pong measurement.
    #[arg(long, default_value_t = 200_000)]
    pub pingpong_count: u64,
    /// Measure each throughput cell and its plain loop this many times, interleaved, and keep
    /// the medians (on a busy machine one cell swings by 2x).
    #[arg(long, default_value_t = 1)]
    pub repeat: u32,
    /// Do not pin the two processes to different CPUs.
    #[arg(long)]
    pub no_pin: bool,
    /// Only these mechanisms (default: all).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub only: Vec<Mech>,
}

/// One throughput figure.
#[derive(Debug, Clone, Copy)]
pub struct Rate {
    pub msgs_per_s: f64,
    pub mb_per_s: f64,
}

/// Runs every measurement and prints the table and the key=value line.
pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let pin = !args.no_pin && cpus >= 2;
    if pin {
        pin_to_cpu(0);
    }
    let dir = std::env::temp_dir().join(format!("ipc-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let mut results = report::Results::default();
    let all = [
        Mech::Pipe,
        Mech::Fifo,
        Mech::UdsStream,
        Mech::UdsDgram,
        Mech::Tcp,
        Mech::Udp,
        Mech::Mq,
        Mech::ShmSleep,
        Mech::Shm,
        Mech::ShmSpin,
        Mech::ShmBatch,
    ];
    for mech in all
        .into_iter()
        .filter(|m| args.only.is_empty() || args.only.contains(m))
    {
        let cpu = pin.then_some(1);
        for (size, label) in SIZES {
            let base = raw::baseline(mech);
            let plain_due = !results.plain.has(base, label);
            let (mut rates, mut plains) = (Vec::new(), Vec::new());
            // Interleaved: the mechanism, then its plain loop, `--repeat` times.
            for _ in 0..args.repeat.max(1) {
                rates.push(throughput(mech, size, &args, &dir, cpu));
                mechs::clean_up(mech, &dir);
                if plain_due {
                    plains.push(raw::throughput(base, size, &args, &dir, cpu));
                }
            }
            results.rate(mech, label, median(rates));
            if plain_due {
                results.plain.rate(base, label, median(plains));
            }
        }
        let lat = pingpong(mech, &args, &dir, cpu);
        mechs::clean_up(mech, &dir);
        results.latency(mech, lat);
    }
    let _ = std::fs::remove_dir_all(&dir);
    results.print(pin, args.duration_s);
    Ok(())
}

/// The measurement with the median messages per second (the upper one of an even count), or
/// the first error if none succeeded.
fn median(mut rates: Vec<anyhow::Result<Rate>>) -> anyhow::Result<Rate> {
    let mut ok: Vec<Rate> = rates
        .iter()
        .filter_map(|r| r.as_ref().ok().copied())
        .collect();
    ok.sort_by(|a, b| a.msgs_per_s.total_cmp(&b.msgs_per_s));
    match ok.get(ok.len() / 2) {
        Some(rate) => Ok(*rate),
        None if rates.is_empty() => anyhow::bail!("not measured"),
        None => rates.swap_remove(0),
    }
}

/// Pins the calling process to `cpu` (`sched_setaffinity`); a failure only costs precision.
pub fn pin_to_cpu(cpu: usize) {
    let mut set = nix::sched::CpuSet::new();
    if set.set(cpu).is_ok() {
        let _ = nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set);
    }
}

fn throughput(
    mech: Mech,
    size: usize,
    args: &BenchArgs,
    dir: &std::path::Path,
    cpu: Option<usize>,
) -> anyhow::Result<Rate> {
    check_fits(mech, size)?;
    let (child, link) = mechs::open(mech, size, "sink", dir, cpu)?;
    finish_child(child, |link| send_for(link, size, args), link)
}

/// Refuses a size the mechanism cannot carry in one message.
fn check_fits(mech: Mech, size: usize) -> anyhow::Result<()> {
    if mech == Mech::Udp && size > MAX_UDP_PAYLOAD {
        anyhow::bail!("one UDP datagram carries at most {MAX_UDP_PAYLOAD} bytes over IPv4");
    }
    Ok(())
}

/// Runs `body` on the link; on an error the peer is killed instead of left waiting.
fn finish_child<T>(
    mut child: std::process::Child,
    body: impl FnOnce(&mut dyn link::Link) -> anyhow::Result<T>,
    mut link: Box<dyn link::Link>,
) -> anyhow::Result<T> {
    let result = body(&mut *link);
    if result.is_err() {
        let _ = child.kill();
    }
    child.wait()?;
    result
}

/// The throughput loop: data messages for the duration, then the stop marker and the report.
fn send_for(link: &mut dyn link::Link, size: usize, args: &BenchArgs) -> anyhow::Result<Rate> {
    let duration = Duration::from_secs_f64(args.duration_s);
    let mut msg = vec![DATA; size];
    let start = Instant::now();
    let mut sent = 0u64;
    // The clock is read once per 64 messages, handed to the link in one call (a batch for the
    // links that have one, 64 sends for the others).
    while sent < args.count && start.elapsed() < duration {
        let n = (args.count - sent).min(SEND_CHUNK);
        link.send_many(&msg, n as usize)?;
        sent += n;
    }
    msg[0] = STOP;
    let mut reply = vec![0u8; size];
    link.finish(&msg, &mut reply)?;
    let elapsed = start.elapsed().as_secs_f64();
    let received = u64::from_le_bytes(reply[1..9].try_into()?);
    Ok(rate(received, size, elapsed))
}

fn pingpong(
    mech: Mech,
    args: &BenchArgs,
    dir: &std::path::Path,
    cpu: Option<usize>,
) -> anyhow::Result<support::stats::Latencies> {
    let (child, link) = mechs::open(mech, 64, "echo", dir, cpu)?;
    finish_child(child, |link| round_trips(link, args), link)
}

/// The ping-pong loop: one message there and back, timed, until the count or the duration.
fn round_trips(
    link: &mut dyn link::Link,
    args: &BenchArgs,
) -> anyhow::Result<support::stats::Latencies> {
    let duration = Duration::from_secs_f64(args.duration_s);
    let mut msg = [DATA; 64];
    let mut back = [0u8; 64];
    let mut latencies = support::stats::Latencies::new();
    let start = Instant::now();
    while latencies.count() < args.pingpong_count && start.elapsed() < duration {
        let t = Instant::now();
        link.send(&msg)?;
        link.recv(&mut back)?;
        latencies.record(t.elapsed());
    }
    msg[0] = STOP;
    link.send(&msg)?;
    Ok(latencies)
}

fn rate(messages: u64, size: usize, seconds: f64) -> Rate {
    Rate {
        msgs_per_s: messages as f64 / seconds,
        mb_per_s: (messages * size as u64) as f64 / seconds / 1e6,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msgs(n: f64) -> anyhow::Result<Rate> {
        Ok(Rate {
            msgs_per_s: n,
            mb_per_s: n / 1e6,
        })
    }

    #[test]
    fn the_median_skips_failed_repetitions() {
        let rates = vec![
            Err(anyhow::anyhow!("lost")),
            msgs(1.0),
            msgs(3.0),
            msgs(2.0),
        ];
        assert_eq!(median(rates).expect("some succeeded").msgs_per_s, 2.0);
    }

    #[test]
    fn with_no_success_the_first_error_is_kept() {
        let rates: Vec<anyhow::Result<Rate>> = vec![
            Err(anyhow::anyhow!("first")),
            Err(anyhow::anyhow!("second")),
        ];
        assert_eq!(median(rates).expect_err("none").to_string(), "first");
    }
}

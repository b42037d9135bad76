//! `loadgen`: an independent load generator that speaks only wire protocols
//! (raw TCP echo, line-based chat, UDP echo). It links no server code, so it can be
//! pointed at any server that speaks the same protocol: `--addr IP:PORT`.
//!
//! Every subcommand prints diagnostics to stderr and ends stdout with ONE line of
//! `key=value` figures (so `tail -n1` gives the result).
//!
//! Every run is bounded: measured phases end at `--duration-s` (or after `--messages`),
//! every I/O wait has a timeout, and a watchdog thread exits the process if the whole
//! run overruns its budget. It only ever targets loopback: any other address is refused.

mod arrival;
mod chat;
mod idle;
mod stats;
mod tcp;
mod udp;

use clap::{Parser, Subcommand};
use std::time::Duration;

#[derive(Parser)]
#[command(about = "independent load generator (loopback only) for echo / chat / udp servers")]
struct Cli {
    /// tokio worker threads for the load generator itself. Default: the CPUs this
    /// process may run on (so `taskset -c 0 loadgen ...` gets 1). The server under
    /// test shares the same machine.
    #[arg(long, global = true)]
    threads: Option<usize>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Request/response: each connection writes SIZE bytes, reads the echo back, repeats.
    TcpEcho(tcp::EchoArgs),
    /// Bulk: per connection one task writes 64 KiB chunks, another reads the echo.
    TcpStream(tcp::StreamArgs),
    /// Chat fan-out: N clients join, K of them send M lines each; all others receive.
    ChatFanout(chat::FanoutArgs),
    /// UDP echo round trips with a window of outstanding datagrams per sender.
    UdpEcho(udp::UdpArgs),
    /// Idle connections: open N, one byte each, hold them; the server's RSS per connection.
    TcpIdle(idle::IdleArgs),
}

impl Cmd {
    fn addr(&self) -> &str {
        match self {
            Cmd::TcpEcho(a) => &a.addr,
            Cmd::TcpStream(a) => &a.addr,
            Cmd::ChatFanout(a) => &a.addr,
            Cmd::UdpEcho(a) => &a.addr,
            Cmd::TcpIdle(a) => &a.addr,
        }
    }
}

/// Load goes to this machine's loopback only: every address `addr` names must be one.
fn ensure_loopback(addr: &str) -> Result<(), String> {
    use std::net::ToSocketAddrs;
    let resolved: Vec<_> = addr
        .to_socket_addrs()
        .map_err(|e| format!("bad address {addr}: {e}"))?
        .collect();
    if resolved.is_empty() || resolved.iter().any(|a| !a.ip().is_loopback()) {
        return Err(format!(
            "{addr} is not a loopback address; loadgen only targets 127.0.0.1 or ::1"
        ));
    }
    Ok(())
}

fn main() {
    let cli = Cli::parse();
    if let Err(err) = ensure_loopback(cli.cmd.addr()) {
        eprintln!("loadgen: error: {err}");
        println!("error=not_loopback");
        std::process::exit(2);
    }
    let budget = match &cli.cmd {
        Cmd::TcpEcho(a) => a.budget(),
        Cmd::TcpStream(a) => a.budget(),
        Cmd::ChatFanout(a) => a.budget(),
        Cmd::UdpEcho(a) => a.budget(),
        Cmd::TcpIdle(a) => a.budget(),
    };
    // Watchdog: whatever happens, the process ends by itself.
    std::thread::spawn(move || {
        std::thread::sleep(budget);
        eprintln!("loadgen: watchdog fired after {budget:?}; exiting");
        println!("error=watchdog budget_s={:.0}", budget.as_secs_f64());
        std::process::exit(3);
    });

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(
            cli.threads
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
                .max(1),
        )
        .enable_all()
        .build()
        .expect("tokio runtime");
    let res = rt.block_on(async move {
        match cli.cmd {
            Cmd::TcpEcho(a) => tcp::run_echo(a).await,
            Cmd::TcpStream(a) => tcp::run_stream(a).await,
            Cmd::ChatFanout(a) => chat::run_fanout(a).await,
            Cmd::UdpEcho(a) => udp::run_udp(a).await,
            Cmd::TcpIdle(a) => idle::run_idle(a).await,
        }
    });
    rt.shutdown_timeout(Duration::from_millis(200));
    match res {
        Ok(line) => println!("{line}"),
        Err(e) => {
            eprintln!("loadgen: {e}");
            println!("error={}", stats::kv_escape(&e.to_string()));
            std::process::exit(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ensure_loopback;

    #[test]
    fn only_loopback_is_a_target() {
        assert!(ensure_loopback("127.0.0.1:7").is_ok());
        assert!(ensure_loopback("[::1]:7").is_ok());
        assert!(ensure_loopback("10.0.0.1:7").is_err());
        assert!(ensure_loopback("192.0.2.1:7").is_err());
    }
}

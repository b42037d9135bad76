//! `multicast send`: send a message to a group.
//!
//! Shows the sending half: a plain UDP socket with `IP_MULTICAST_IF` (which interface),
//! `IP_MULTICAST_TTL` (how far) and `IP_MULTICAST_LOOP` (whether this host's own listeners get a
//! copy), then `sendto(2)` to the group. Sending needs no membership.
//!
//! ```text
//! $ multicast send --group 239.255.42.99:4446 hello there
//! sent 1 datagram of 11 bytes to 239.255.42.99:4446 from 127.0.0.1:40312 via lo (ttl 1, loop on)
//! ```
//! On a LAN: `multicast send --interface 192.168.1.20 hello` (this machine's LAN address).

use std::io::Write;
use std::time::Duration;

use multicast::MulticastSocket;

use super::UsageError;
use super::target::Target;

/// Most datagrams one `send` may send (`--count`).
pub const MAX_COUNT: u64 = 1_000_000;

/// Arguments of `send`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    target: Target,

    /// Time-to-live (IPv4) / hop limit (IPv6): 1 stays on the local link, 0 on this host
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(0..=255))]
    ttl: u32,

    /// Also deliver to listeners on this host (IP_MULTICAST_LOOP): true or false
    #[arg(long = "loop", value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set)]
    loopback: bool,

    /// Send the message this many times
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=MAX_COUNT))]
    count: u64,

    /// Pause between two sends, in milliseconds
    #[arg(long, value_name = "MS", default_value_t = 0)]
    interval_ms: u64,

    /// The message; several words are joined with single spaces
    #[arg(required = true, value_name = "MESSAGE")]
    message: Vec<String>,
}

/// Sends the message `--count` times (stops early on Ctrl-C).
///
/// # Errors
/// Bad arguments (usage), or a socket or send failure.
pub fn run(args: Args) -> anyhow::Result<()> {
    let shutdown = support::shutdown::Shutdown::on_signals("multicast")?.flag();
    let interface = args.target.interface()?;
    let group = args.target.group;
    if group.port() == 0 {
        return Err(UsageError(format!(
            "cannot send to port 0 of {}: give the listeners' port",
            group.ip()
        ))
        .into());
    }
    let socket = MulticastSocket::sender(&interface, group.is_ipv6())?;
    socket.set_time_to_live(args.ttl)?;
    socket.set_loopback(args.loopback)?;
    let text = args.message.join(" ");
    let mut sent = 0;
    while sent < args.count && !shutdown.load(std::sync::atomic::Ordering::Relaxed) {
        if sent > 0 && args.interval_ms > 0 {
            std::thread::sleep(Duration::from_millis(args.interval_ms));
        }
        socket.send_to(text.as_bytes(), group)?;
        sent += 1;
    }
    let plural = if sent == 1 { "" } else { "s" };
    let from = socket.local_addr()?;
    let (ttl, lp) = (args.ttl, if args.loopback { "on" } else { "off" });
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "sent {sent} datagram{plural} of {} bytes to {group} from {from} via {} (ttl {ttl}, loop {lp})",
        text.len(),
        interface.name
    )?;
    Ok(())
}

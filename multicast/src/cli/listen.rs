//! `multicast listen`: join a group and print one line per datagram.
//!
//! Shows the receiving half of multicast: bind the group's port (sharing it with other
//! listeners: `SO_REUSEADDR` + `SO_REUSEPORT`), join the group on an interface
//! (`IP_ADD_MEMBERSHIP`, or `IP_ADD_SOURCE_MEMBERSHIP` with `--source`), then `recvfrom(2)`.
//!
//! Two terminals on one host:
//! ```text
//! $ multicast listen --group 239.255.42.99:4446    $ multicast send --group 239.255.42.99:4446 hi
//! listening on 239.255.42.99:4446
//! 127.0.0.1:40312: hi
//! ```
//! On two machines of one LAN, pass `--interface <this machine's LAN address>` on each side.
//! Text from the network is printed with control characters escaped; a datagram longer than
//! `--max-datagram` is cut and marked `[cut: N of M bytes]`.

use std::io::Write;
use std::net::IpAddr;

use anyhow::Context;
use multicast::chat::printable;
use multicast::{MulticastSocket, NetworkInterface};
use udp::ReceiveInfo;

use super::POLL;
use super::UsageError;
use super::target::Target;

/// Largest datagram printed whole by default; longer ones are cut (and say so).
pub const DEFAULT_MAX_DATAGRAM: usize = 4096;

/// Warning lines per second about datagrams that are not UTF-8; the rest are counted.
pub const WARNINGS_PER_SECOND: u32 = 10;

static NOT_UTF8: support::log::Throttle = support::log::Throttle::per_second(WARNINGS_PER_SECOND);

/// Arguments of `listen`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    target: Target,

    /// Accept datagrams from this sender only (source-specific join, IPv4)
    #[arg(long, value_name = "ADDR")]
    source: Option<IpAddr>,

    /// Exit after this many datagrams (default: until Ctrl-C)
    #[arg(long, value_name = "N")]
    count: Option<u64>,

    /// Longest datagram printed whole, in bytes; longer ones are cut and marked
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_DATAGRAM,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=65_536))]
    max_datagram: usize,
}

/// Runs `listen` until Ctrl-C, SIGTERM or `--count` datagrams.
///
/// # Errors
/// Bad arguments (usage), or a socket that cannot be set up.
pub fn run(args: Args) -> anyhow::Result<()> {
    let shutdown = support::shutdown::Shutdown::on_signals("multicast")?.flag();
    let interface = args.target.interface()?;
    let socket = open(&args, &interface)?;
    socket.set_so_timeout(Some(POLL))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on {}", socket.local_addr()?)?;
    out.flush()?;
    tracing::info!(group = %args.target.group, interface = %interface.name, "joined");
    let mut buf = vec![0u8; args.max_datagram];
    let mut received = 0;
    while !shutdown.load(std::sync::atomic::Ordering::Relaxed)
        && args.count.is_none_or(|n| received < n)
    {
        let info = match socket.recv_from(&mut buf) {
            Ok(info) => info,
            Err(e) if e.is_transient() => continue,
            Err(e) => return Err(e).context("receive"),
        };
        writeln!(out, "{}", datagram_line(&info, &buf))?;
        out.flush()?;
        received += 1;
    }
    Ok(())
}

/// Binds and joins: any-source, or source-specific with `--source`.
fn open(args: &Args, interface: &NetworkInterface) -> anyhow::Result<MulticastSocket> {
    let group = args.target.group;
    let Some(source) = args.source else {
        return Ok(MulticastSocket::listener(group, interface)?);
    };
    if group.is_ipv6() {
        return Err(UsageError("--source works with IPv4 groups only".into()).into());
    }
    let socket = MulticastSocket::bind_on(group, interface)?;
    socket.join_source_group(source, group.ip(), interface)?;
    Ok(socket)
}

/// `SENDER: TEXT`, the text made safe for a terminal, with a mark if it was cut.
pub fn datagram_line(info: &ReceiveInfo, buf: &[u8]) -> String {
    let text = String::from_utf8_lossy(&buf[..info.len]);
    if std::str::from_utf8(&buf[..info.len]).is_err() {
        support::warn_throttled!(NOT_UTF8, peer = %info.peer, "datagram is not UTF-8; shown with replacement characters");
    }
    let mut line = format!("{}: {}", info.peer, printable(&text));
    if info.is_truncated() {
        line.push_str(&format!(
            " [cut: {} of {} bytes]",
            info.len, info.datagram_len
        ));
    }
    line
}

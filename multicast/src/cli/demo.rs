//! `multicast demo`: three listeners and a sender in one process, over 127.0.0.1.
//!
//! Shows the two facts multicast is about: ONE `sendto(2)` reaches EVERY member, all of them
//! bound to the same port on the same host (`SO_REUSEPORT`); and a member that leaves
//! (`IP_DROP_MEMBERSHIP`) hears nothing more while the others still do.
//!
//! ```text
//! $ multicast demo
//! multicast demo: 3 listeners and 1 sender in one process, interface lo (127.0.0.1), ttl 1
//! listener A: bound 239.255.42.99:40001, joined 239.255.42.99 on lo
//! ...
//! sender -> 239.255.42.99:40001 "hello, group (1)"
//!   A received "hello, group (1)" from 127.0.0.1:51234
//! ...
//! ```
//! The listeners are read one after another, so the transcript is always in the same order.

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::bail;
use multicast::{MulticastSocket, NetworkInterface};

use super::UsageError;
use super::target::parse_group;

/// How long a listener that should receive waits.
const ARRIVES: Duration = Duration::from_secs(2);
/// How long the listener that left is watched to show that nothing arrives.
const SILENCE: Duration = Duration::from_millis(300);
/// The listeners' names.
const NAMES: [&str; 3] = ["A", "B", "C"];

/// Arguments of `demo` (none needed).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Group to use; port 0 picks a free port
    #[arg(long, value_name = "GROUP:PORT", default_value = "239.255.42.99:0", value_parser = parse_group)]
    group: SocketAddr,
}

/// Runs the demo and prints its transcript on stdout.
///
/// # Errors
/// A socket that cannot be set up, or a datagram that does not behave as the demo says.
pub fn run(args: Args) -> anyhow::Result<()> {
    if args.group.is_ipv6() {
        let why = "the demo runs over 127.0.0.1 and needs an IPv4 group";
        return Err(UsageError(why.into()).into());
    }
    let mut out = std::io::stdout().lock();
    transcript(&mut out, args.group)?;
    out.flush()?;
    Ok(())
}

/// The demo itself, writing its transcript to `out`.
fn transcript(out: &mut impl Write, group: SocketAddr) -> anyhow::Result<()> {
    let lo = NetworkInterface::loopback()?;
    writeln!(
        out,
        "multicast demo: 3 listeners and 1 sender in one process, interface {} (127.0.0.1), ttl 1",
        lo.name
    )?;
    let (listeners, group) = open_listeners(out, group, &lo)?;
    let sender = MulticastSocket::sender(&lo, false)?;
    let (ttl, lp) = (
        sender.time_to_live()?,
        if sender.loopback()? { "on" } else { "off" },
    );
    writeln!(
        out,
        "sender: bound {}, interface {}, ttl {ttl}, loop {lp}",
        sender.local_addr()?,
        lo.name
    )?;

    let mut deliveries = send_and_show(out, &sender, group, &listeners, 1, &[])?;
    writeln!(
        out,
        "\nlistener C leaves {} (IP_DROP_MEMBERSHIP)",
        group.ip()
    )?;
    listeners[2].leave(group.ip())?;
    deliveries += send_and_show(out, &sender, group, &listeners, 2, &[2])?;
    writeln!(out, "\ndone: {deliveries} deliveries for 2 datagrams")?;
    Ok(())
}

/// Three listeners on one port; the first picks the port when it is 0.
fn open_listeners(
    out: &mut impl Write,
    mut group: SocketAddr,
    lo: &NetworkInterface,
) -> anyhow::Result<(Vec<MulticastSocket>, SocketAddr)> {
    let mut listeners = Vec::new();
    for name in NAMES {
        let socket = MulticastSocket::listener(group, lo)?;
        group.set_port(socket.local_addr()?.port());
        writeln!(
            out,
            "listener {name}: bound {}, joined {} on {}",
            socket.local_addr()?,
            group.ip(),
            lo.name
        )?;
        listeners.push(socket);
    }
    Ok((listeners, group))
}

/// Sends datagram number `n` and shows what each listener got; `left` lists the listeners that
/// left the group and must get nothing. Returns the number of deliveries.
fn send_and_show(
    out: &mut impl Write,
    sender: &MulticastSocket,
    group: SocketAddr,
    listeners: &[MulticastSocket],
    n: u32,
    left: &[usize],
) -> anyhow::Result<usize> {
    let text = format!("hello, group ({n})");
    writeln!(out, "\nsender -> {group} {text:?}")?;
    sender.send_to(text.as_bytes(), group)?;
    let mut deliveries = 0;
    for (i, listener) in listeners.iter().enumerate() {
        let expected = !left.contains(&i);
        listener.set_so_timeout(Some(if expected { ARRIVES } else { SILENCE }))?;
        let mut buf = [0u8; 256];
        match listener.recv_from(&mut buf) {
            Ok(info) => {
                let got = String::from_utf8_lossy(&buf[..info.len]);
                writeln!(out, "  {} received {got:?} from {}", NAMES[i], info.peer)?;
                if !expected {
                    bail!(
                        "listener {} left the group but still received a datagram",
                        NAMES[i]
                    );
                }
                deliveries += 1;
            }
            Err(e) if e.is_timeout() && !expected => {
                writeln!(
                    out,
                    "  {} received nothing within {} ms: it left the group",
                    NAMES[i],
                    SILENCE.as_millis()
                )?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(deliveries)
}

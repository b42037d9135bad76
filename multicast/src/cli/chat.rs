//! `multicast chat`: every instance on a group prints the others' lines. No server.
//!
//! Each instance joins the group with one socket (it receives) and sends with another. Its
//! datagrams come back to it through multicast loopback, like everyone else's; it recognises
//! and skips its own by the random instance id in the header (see `multicast/PROTOCOL.md`).
//!
//! Two terminals (or two machines with `--interface`):
//! ```text
//! $ multicast chat --name alice                $ multicast chat --name bob
//! listening on 239.255.42.99:4446              listening on 239.255.42.99:4446
//! hi bob                                       alice: hi bob
//! bob: hello alice                             hello alice
//! ```
//! Lines: `alice: text` from a chat instance, `? 127.0.0.1:5000: text` from anything else
//! (such as `multicast send`), `* missed 2 messages from alice` when sequence numbers skip.
//! `/quit` or end of input leaves.

use std::io::{BufRead, Write};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;

use anyhow::Context;
use multicast::chat::{
    ChatDecodeError, ChatMessage, MAX_CHAT_DATAGRAM, MAX_TRACKED_SENDERS, SeqCheck, SeqTracker,
    check_name, new_instance_id, printable,
};
use multicast::{MulticastError, MulticastSocket};

use super::UsageError;
use super::shutdown::{POLL, Shutdown};
use super::target::Target;

/// Warning lines per second about malformed datagrams; the rest are counted and summarised.
pub const WARNINGS_PER_SECOND: u32 = 10;

static BAD_DATAGRAMS: udp::throttle::Throttle =
    udp::throttle::Throttle::per_second(WARNINGS_PER_SECOND);

/// Arguments of `chat`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    target: Target,

    /// Your name: 1-32 characters, no spaces, no `:`
    #[arg(long)]
    name: String,

    /// Time-to-live (IPv4) / hop limit (IPv6) of sent lines
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(0..=255))]
    ttl: u32,

    /// Most senders whose sequence numbers are remembered (the least recently heard is forgotten)
    #[arg(long, value_name = "N", default_value_t = MAX_TRACKED_SENDERS,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1_000_000))]
    max_senders: usize,

    /// Deliver to chat instances on this host too (IP_MULTICAST_LOOP): true or false
    #[arg(long = "loop", value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set)]
    loopback: bool,
}

/// Runs the chat until `/quit`, end of input, Ctrl-C or SIGTERM.
///
/// # Errors
/// Bad arguments (usage), or a socket that cannot be set up.
pub fn run(args: Args) -> anyhow::Result<()> {
    check_name(&args.name).map_err(|_| {
        UsageError(format!(
            "--name `{}` must be 1-32 characters without spaces or `:`",
            args.name
        ))
    })?;
    let shutdown = Shutdown::install()?;
    let interface = args.target.interface()?;
    let mut group = args.target.group;
    let listener = MulticastSocket::listener(group, &interface)?;
    group.set_port(listener.local_addr()?.port()); // --group G:0 picked a free port
    listener.set_so_timeout(Some(POLL))?;
    let sender = MulticastSocket::sender(&interface, group.is_ipv6())?;
    sender.set_time_to_live(args.ttl)?;
    sender.set_loopback(args.loopback)?;
    let me = new_instance_id();
    println!("listening on {}", listener.local_addr()?);
    std::io::stdout().flush()?;
    tracing::info!(instance = %format!("{me:016x}"), name = %args.name, "joined the chat");

    let receiver = {
        let shutdown = shutdown.clone();
        let tracker = SeqTracker::with_capacity(args.max_senders);
        thread::spawn(move || receive_loop(&listener, me, tracker, &shutdown))
    };
    let result = send_loop(&sender, group, me, &args.name, &shutdown);
    shutdown.trigger();
    receiver
        .join()
        .map_err(|_| anyhow::anyhow!("receiver thread panicked"))??;
    result
}

/// Reads stdin lines (on a thread of their own, so a signal is not stuck behind a blocking
/// read) and sends each as one datagram.
fn send_loop(
    sender: &MulticastSocket,
    group: std::net::SocketAddr,
    me: u64,
    name: &str,
    shutdown: &Shutdown,
) -> anyhow::Result<()> {
    let lines = stdin_lines();
    let mut seq = 0;
    while !shutdown.requested() {
        let line = match lines.recv_timeout(POLL) {
            Ok(line) => line,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let line = line.strip_suffix('\r').unwrap_or(&line);
        if line == "/quit" {
            break;
        }
        seq += 1;
        let msg = ChatMessage {
            instance: me,
            seq,
            name: name.into(),
            text: line.into(),
        };
        let bytes = match msg.encode() {
            Ok(bytes) => bytes,
            Err(e) => {
                eprintln!("! not sent: {e}");
                continue;
            }
        };
        match sender.send_to(&bytes, group) {
            Ok(_) => {}
            // One lost line (a full send queue, a link that went down) is not the end of the chat.
            Err(MulticastError::Udp(e)) if e.is_per_datagram() => eprintln!("! not sent: {e}"),
            Err(e) => return Err(e).context("send"),
        }
    }
    Ok(())
}

/// A channel of stdin lines; it closes at end of input.
fn stdin_lines() -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Prints everyone else's datagrams until shutdown.
fn receive_loop(
    listener: &MulticastSocket,
    me: u64,
    mut tracker: SeqTracker,
    shutdown: &Shutdown,
) -> anyhow::Result<()> {
    // One byte more than the limit, so an oversized datagram is seen as such, not cut to fit.
    let mut buf = [0u8; MAX_CHAT_DATAGRAM + 1];
    while !shutdown.requested() {
        let info = match listener.recv_from(&mut buf) {
            Ok(info) => info,
            Err(e) if e.is_transient() => continue,
            Err(e) => return Err(e).context("receive"),
        };
        let datagram = &buf[..info.len];
        let line = match ChatMessage::decode(datagram) {
            Ok(msg) if msg.instance == me => continue,
            Ok(msg) => chat_line(&msg, tracker.check(&msg)),
            Err(ChatDecodeError::NotChat) => Some(format!(
                "? {}: {}",
                info.peer,
                printable(&String::from_utf8_lossy(datagram))
            )),
            Err(e) => {
                udp::warn_throttled!(BAD_DATAGRAMS, peer = %info.peer, "dropped datagram: {e}");
                continue;
            }
        };
        if let Some(line) = line {
            println!("{line}");
        }
    }
    Ok(())
}

/// What to print for a chat message given its sequence check.
fn chat_line(msg: &ChatMessage, check: SeqCheck) -> Option<String> {
    let name = &msg.name;
    match check {
        SeqCheck::InOrder => Some(format!("{name}: {}", msg.text)),
        SeqCheck::Gap { missed } => {
            let plural = if missed == 1 { "" } else { "s" };
            Some(format!(
                "* missed {missed} message{plural} from {name}\n{name}: {}",
                msg.text
            ))
        }
        SeqCheck::Old => {
            tracing::info!(%name, seq = msg.seq, "late or duplicate chat datagram dropped");
            None
        }
    }
}

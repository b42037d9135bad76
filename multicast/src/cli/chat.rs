//! `multicast chat`: every instance on a group prints the others' lines. No server.
//!
//! Each instance joins the group with one socket (it receives) and sends with another. Its
//! datagrams come back to it through multicast loopback, like everyone else's; it recognises
//! and skips its own by the random instance id in the header (see `multicast/PROTOCOL.md`).
//! Presence needs no server either: an instance says `+join` when it starts, `+here` every
//! 10 s and in answer to a join, `+leave` when it ends; each keeps its own member list from
//! what it hears ([`multicast::presence`]).
//!
//! Two terminals (or two machines with `--interface`):
//! ```text
//! $ multicast chat --name alice                $ multicast chat --name bob
//! listening on 239.255.42.99:4446              listening on 239.255.42.99:4446
//! * bob joined                                 hi alice
//! bob: hi alice                                /who
//!                                              * online: alice bob
//! ```
//! Lines: `alice: text` from a chat instance, `* bob joined` / `* bob left`, `* online: ...`
//! (the answer to `/who`), `? 127.0.0.1:5000: text` from anything else (such as
//! `multicast send`), `* missed 2 messages from alice` when sequence numbers skip, `! ...` for a
//! line that was not sent. Lines starting with `/` are commands, never sent: `/who`, `/quit`.
//!
//! Typing while lines arrive: the terminal, not this program, holds the line being typed (the
//! kernel's line discipline, in canonical mode), so an incoming line printed meanwhile splits
//! it on the screen but loses nothing: Enter still sends all of it, and Ctrl-R (the terminal's
//! REPRINT key, see `stty -a`) redraws it below. A full line editor would need raw mode and
//! cursor control, which this teaching chat leaves out.

use std::io::{BufRead, IsTerminal, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Instant;

use anyhow::Context;
use multicast::chat::{
    Body, ChatDecodeError, ChatMessage, MAX_CHAT_DATAGRAM, MAX_TRACKED_SENDERS, SeqCheck,
    SeqTracker, check_name, new_instance_id, printable,
};
use multicast::presence::{Change, HEARTBEAT, MEMBER_TIMEOUT, Members};
use multicast::{MulticastError, MulticastSocket};
use support::log::Throttle;

use super::POLL;
use super::UsageError;
use super::target::Target;

/// Warning lines per second about malformed datagrams; the rest are counted and summarised.
pub const WARNINGS_PER_SECOND: u32 = 10;

static BAD_DATAGRAMS: Throttle = Throttle::per_second(WARNINGS_PER_SECOND);

/// `+here` answers to joins per second: a flood of forged joins makes this instance send at
/// most this many datagrams a second in reply.
pub const JOIN_ANSWERS_PER_SECOND: u32 = 1;

static JOIN_ANSWERS: Throttle = Throttle::per_second(JOIN_ANSWERS_PER_SECOND);

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
    let signals = support::shutdown::Shutdown::on_signals("multicast")?;
    let interface = args.target.interface()?;
    let mut group = args.target.group;
    let listener = MulticastSocket::listener(group, &interface)?;
    group.set_port(listener.local_addr()?.port()); // --group G:0 picked a free port
    listener.set_so_timeout(Some(POLL))?;
    let socket = MulticastSocket::sender(&interface, group.is_ipv6())?;
    socket.set_time_to_live(args.ttl)?;
    socket.set_loopback(args.loopback)?;
    let me = Arc::new(Me {
        instance: new_instance_id(),
        name: args.name,
        seq: Mutex::new(0),
        socket,
        group,
    });
    let members = Arc::new(Mutex::new(Members::with_capacity(args.max_senders)));
    // The join goes out before `listening on`: whoever starts after reading that line hears
    // only our later messages, never a late `+join` of ours (the listener is already in the
    // group, so answers to it wait in its receive buffer until the receive loop starts).
    me.send(Body::Join)?;
    println!("listening on {}", listener.local_addr()?);
    std::io::stdout().flush()?;
    if std::io::stdin().is_terminal() {
        eprintln!(
            "(type a line to send it; /who lists members, /quit leaves; Ctrl-R redraws your line)"
        );
    }

    let receiver = {
        let (me, members, shutdown) = (Arc::clone(&me), Arc::clone(&members), signals.flag());
        let tracker = SeqTracker::with_capacity(args.max_senders);
        thread::spawn(move || receive_loop(&listener, &me, tracker, &members, &shutdown))
    };
    let result = send_loop(&me, &members, &signals.flag());
    signals.trigger(); // ends the receive loop too
    let received = receiver
        .join()
        .map_err(|_| anyhow::anyhow!("receiver thread panicked"))?;
    me.send(Body::Leave)?;
    result.and(received)
}

/// This instance: its id and name, the next sequence number, and the socket it sends with.
struct Me {
    instance: u64,
    name: String,
    seq: Mutex<u64>,
    socket: MulticastSocket,
    group: SocketAddr,
}

impl Me {
    /// Sends one datagram. A line that cannot be sent (too long, a full send queue, a link
    /// that went down) is reported with `! not sent: ...` and the chat goes on; only a socket
    /// that is broken for good is an error.
    fn send(&self, body: Body) -> anyhow::Result<()> {
        let mut seq = self.seq.lock().unwrap_or_else(|p| p.into_inner());
        let msg = ChatMessage {
            instance: self.instance,
            seq: *seq + 1,
            name: self.name.clone(),
            body,
        };
        let bytes = match msg.encode() {
            Ok(bytes) => bytes,
            Err(e) => {
                say(&format!("! not sent: {e}"));
                return Ok(());
            }
        };
        match self.socket.send_to(&bytes, self.group) {
            Ok(_) => *seq += 1, // numbers count datagrams sent, so a refused line leaves no gap
            Err(MulticastError::Udp(e)) if e.is_per_datagram() => {
                say(&format!("! not sent: {e}"));
            }
            Err(e) => return Err(e).context("send"),
        }
        Ok(())
    }
}

/// Prints one line of the chat window, at once.
fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// A line the user typed: a command or a message.
#[derive(Debug, PartialEq, Eq)]
enum Input<'a> {
    /// `/who`: list the members.
    Who,
    /// `/quit`: leave.
    Quit,
    /// Another `/` command.
    Unknown,
    /// Text for everyone.
    Text(&'a str),
}

/// Reads a typed line: a leading `/` makes it a command (anything after the command word is
/// ignored, as in the tcp chat).
fn parse_input(line: &str) -> Input<'_> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    if !line.starts_with('/') {
        return Input::Text(line);
    }
    match line.split_whitespace().next() {
        Some("/who") => Input::Who,
        Some("/quit") => Input::Quit,
        _ => Input::Unknown,
    }
}

/// Reads stdin lines (on a thread of their own, so a signal is not stuck behind a blocking
/// read), runs commands, sends messages, and says `+here` every [`HEARTBEAT`].
fn send_loop(me: &Me, members: &Mutex<Members>, shutdown: &AtomicBool) -> anyhow::Result<()> {
    let lines = stdin_lines();
    let mut next_heartbeat = Instant::now() + HEARTBEAT;
    while !shutdown.load(Ordering::Relaxed) {
        if Instant::now() >= next_heartbeat {
            me.send(Body::Here)?;
            next_heartbeat += HEARTBEAT;
        }
        let line = match lines.recv_timeout(POLL) {
            Ok(line) => line,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        match parse_input(&line) {
            Input::Quit => {
                say("* bye");
                break;
            }
            Input::Who => say(&who_line(&me.name, &lock(members))),
            Input::Unknown => say(&format!(
                "! unknown command {} (try /who or /quit)",
                printable(&line)
            )),
            Input::Text(text) => me.send(Body::Text(text.into()))?,
        }
    }
    Ok(())
}

/// `* online: NAME NAME ...`: everyone heard recently and this instance, sorted.
fn who_line(my_name: &str, members: &Members) -> String {
    let mut names = members.names();
    names.push(my_name.to_string());
    names.sort();
    format!("* online: {}", names.join(" "))
}

fn lock(members: &Mutex<Members>) -> std::sync::MutexGuard<'_, Members> {
    members.lock().unwrap_or_else(|p| p.into_inner())
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

/// Prints everyone else's datagrams, keeps the member list, until shutdown.
fn receive_loop(
    listener: &MulticastSocket,
    me: &Me,
    mut tracker: SeqTracker,
    members: &Mutex<Members>,
    shutdown: &AtomicBool,
) -> anyhow::Result<()> {
    // One byte more than the limit, so an oversized datagram is seen as such, not cut to fit.
    let mut buf = [0u8; MAX_CHAT_DATAGRAM + 1];
    while !shutdown.load(Ordering::Relaxed) {
        for name in lock(members).expire(Instant::now()) {
            say(&format!(
                "* {name} left (not heard for {} s)",
                MEMBER_TIMEOUT.as_secs()
            ));
        }
        let info = match listener.recv_from(&mut buf) {
            Ok(info) => info,
            Err(e) if e.is_transient() => continue,
            Err(e) => return Err(e).context("receive"),
        };
        let datagram = &buf[..info.len];
        match ChatMessage::decode(datagram) {
            Ok(msg) if msg.instance == me.instance => {}
            Ok(msg) => {
                let check = tracker.check(&msg);
                let answer = show(&msg, check, &mut lock(members));
                if answer && matches!(JOIN_ANSWERS.admit(), support::log::Verdict::Log { .. }) {
                    me.send(Body::Here)?;
                }
            }
            Err(ChatDecodeError::NotChat) => say(&format!(
                "? {}: {}",
                info.peer,
                printable(&String::from_utf8_lossy(datagram))
            )),
            Err(e) => {
                support::warn_throttled!(BAD_DATAGRAMS, peer = %info.peer, "dropped datagram: {e}");
            }
        }
    }
    Ok(())
}

/// Prints what a datagram from another instance means and updates the member list; true if
/// it was a newcomer's `+join`, which this instance answers with `+here` (so the newcomer's
/// `/who` knows it at once).
fn show(msg: &ChatMessage, check: SeqCheck, members: &mut Members) -> bool {
    let name = &msg.name;
    if check == SeqCheck::Old {
        tracing::info!(%name, seq = msg.seq, "late or duplicate chat datagram dropped");
        return false;
    }
    if let SeqCheck::Gap { missed } = check {
        let plural = if missed == 1 { "" } else { "s" };
        say(&format!("* missed {missed} message{plural} from {name}"));
    }
    let now = Instant::now();
    match &msg.body {
        Body::Text(text) => {
            members.heard(msg.instance, name, now);
            say(&format!("{name}: {text}"));
        }
        Body::Join => {
            let arrived = members.heard(msg.instance, name, now) == Change::Arrived;
            if arrived {
                say(&format!("* {name} joined"));
            }
            return arrived;
        }
        Body::Here => {
            members.heard(msg.instance, name, now);
        }
        Body::Leave => {
            if members.left(msg.instance).is_some() {
                say(&format!("* {name} left"));
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_starting_with_a_slash_are_commands_never_text() {
        assert_eq!(parse_input("/who"), Input::Who);
        assert_eq!(parse_input("/who is there\r"), Input::Who);
        assert_eq!(parse_input("/quit"), Input::Quit);
        assert_eq!(parse_input("/quit now"), Input::Quit);
        assert_eq!(parse_input("/nick al"), Input::Unknown);
        assert_eq!(parse_input("/"), Input::Unknown);
        assert_eq!(parse_input("hello /who"), Input::Text("hello /who"));
        assert_eq!(parse_input("hi\r"), Input::Text("hi"));
    }

    #[test]
    fn who_lists_everyone_heard_and_me_sorted() {
        let mut members = Members::default();
        let now = Instant::now();
        members.heard(1, "zoe", now);
        members.heard(2, "bob", now);
        assert_eq!(who_line("mia", &members), "* online: bob mia zoe");
        assert_eq!(who_line("mia", &Members::default()), "* online: mia");
    }
}

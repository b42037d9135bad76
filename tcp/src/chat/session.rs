//! One member's connection, from the name line to the goodbye.
//!
//! Each connection has two tasks. The reader (this function's task) turns the member's
//! lines into fan-out, commands and errors. The writer owns the socket's write half and
//! drains the member's [`Outbox`](super::outbox::Outbox) with `writev(2)`. Splitting them
//! is what lets a member who does not read be evicted without the reader, or anybody
//! else, ever waiting on that member's socket.
//!
//! ```text
//!   socket read half -> LineReader -> reader task --fan-out--> other members' outboxes
//!                                          |
//!                                          +--/who, errors--> own outbox -> writer task -> socket write half
//! ```

use super::config::ChatConfig;
use super::lines::{Line, LineReader};
use super::outbox::{Closed, ENTRY_BYTES, write_batch};
use super::protocol::{self, Input};
use super::rate::TokenBucket;
use super::registry::{JoinError, Member, Registry};
use crate::server::Slot;
use bytes::{Bytes, BytesMut};
use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Messages from one read are joined into one shared buffer up to this size before they
/// are fanned out, so a burst of lines costs one push per member, not one per line.
const FAN_OUT_BATCH: usize = 16 * 1024;

/// Why a member's session ended (logged).
#[derive(Debug)]
enum Ending {
    /// The member sent `/quit`.
    Quit,
    /// The member closed its side of the connection.
    EndOfStream,
    /// Reading failed: reset, or a half line stalled past the read deadline.
    ReadFailed(io::Error),
    /// The writer stopped: evicted for not reading, or the socket failed.
    WriterStopped,
    /// The server is shutting down.
    Shutdown,
}

/// Serves one chat connection until the member leaves or the server shuts down (or, before
/// joining, until its slot goes to a newcomer: `slot.stop()`).
pub async fn run(
    stream: TcpStream,
    peer: SocketAddr,
    registry: Arc<Registry>,
    config: ChatConfig,
    slot: Arc<Slot>,
) {
    let shutdown = slot.stop().clone();
    // Chat lines are small and latency matters more than packet count: no Nagle delay.
    let _ = stream.set_nodelay(true);
    // Cap what the kernel may hold for this member, so the outbox budget sees the backlog.
    let _ = socket2::SockRef::from(&stream).set_send_buffer_size(config.send_buffer);
    let (read_half, mut write_half) = stream.into_split();
    let rate = TokenBucket::new(config.max_input_rate, config.input_burst);
    let mut lines =
        LineReader::new(read_half, config.max_line, config.limits.read_timeout).with_rate(rate);
    let joined = tokio::select! {
        _ = shutdown.cancelled() => return,
        joined = join(&mut lines, &mut write_half, &registry, &config) => joined,
    };
    let member = match joined {
        Ok(Some(member)) => member,
        Ok(None) => {
            drop(write_half); // FIN after the last reply
            discard_until_closed(&mut lines).await;
            return;
        }
        Err(err) => {
            tracing::debug!(%peer, error = %err, "connection ended before joining");
            return;
        }
    };
    slot.set_deadline(None); // a member may idle: it never gives its slot to a newcomer
    tracing::info!(%peer, name = %member.name, "joined");
    let ending = take_part(
        &member, &mut lines, write_half, &registry, &config, &shutdown,
    )
    .await;
    if matches!(ending, Ending::Quit | Ending::Shutdown) {
        discard_until_closed(&mut lines).await;
    }
}

/// The member phase: starts the writer, reads until the member leaves, then leaves the
/// room and lets the writer finish.
async fn take_part(
    member: &Arc<Member>,
    lines: &mut LineReader<OwnedReadHalf>,
    write_half: OwnedWriteHalf,
    registry: &Registry,
    config: &ChatConfig,
    shutdown: &CancellationToken,
) -> Ending {
    let deadline = config.limits.write_timeout;
    let writer_stopped = CancellationToken::new();
    let writer = tokio::spawn(write_loop(
        write_half,
        Arc::clone(member),
        deadline,
        writer_stopped.clone(),
    ));
    let ending = tokio::select! {
        ending = read_loop(lines, member, registry, config) => ending,
        _ = writer_stopped.cancelled() => Ending::WriterStopped,
        _ = shutdown.cancelled() => {
            member.outbox.push(protocol::notice_line("server shutting down"));
            Ending::Shutdown
        }
    };
    finish(member, registry, writer, deadline, &ending).await;
    ending
}

/// How long a connection may stay open after the server's goodbye (see
/// [`discard_until_closed`]).
const CLOSE_LINGER: Duration = Duration::from_secs(1);

/// After the server's last line and FIN, reads and throws away whatever the peer still
/// sends, until it closes too or [`CLOSE_LINGER`] passes. Closing a socket with unread
/// input makes the kernel send a reset instead of a FIN, and a reset can destroy the
/// goodbye (`* bye`, `! server full`) before the peer has read it.
async fn discard_until_closed(lines: &mut LineReader<OwnedReadHalf>) {
    let _ = tokio::time::timeout(CLOSE_LINGER, async {
        while let Ok(Some(_)) = lines.next_line(true).await {}
    })
    .await;
}

/// The name phase: reads name lines until one is accepted. Replies go straight to the
/// socket (the member has no outbox yet). `Ok(None)` means the peer left or the room is full.
///
/// The whole phase, every name line until one is accepted, must end within one read
/// deadline: a deadline per line would let a peer send a bad name every 59 s for ever.
async fn join(
    lines: &mut LineReader<OwnedReadHalf>,
    out: &mut OwnedWriteHalf,
    registry: &Registry,
    config: &ChatConfig,
) -> io::Result<Option<Arc<Member>>> {
    let deadline = Instant::now() + config.limits.read_timeout;
    loop {
        let Some(line) = lines.next_line_by(Some(deadline)).await? else {
            return Ok(None);
        };
        let (reply, keep_going) = match name_of(&line, config.max_line) {
            Err(reply) => (reply, true),
            Ok(name) => match registry.join(name) {
                Ok(member) => return Ok(Some(member)),
                Err(err @ JoinError::NameTaken) => (protocol::error_line(err), true),
                Err(err @ JoinError::Full(_)) => (protocol::error_line(err), false),
            },
        };
        write_with_deadline(out, &reply, config.limits.write_timeout).await?;
        if !keep_going {
            return Ok(None);
        }
    }
}

/// The text of a name line, or the error line to answer it with.
fn name_of(line: &Line, max_line: usize) -> Result<&str, Bytes> {
    let text = text_of(line, max_line)?;
    protocol::validate_name(text).map_err(protocol::error_line)?;
    Ok(text)
}

/// A line as UTF-8 text, or the error line to answer it with.
fn text_of(line: &Line, max_line: usize) -> Result<&str, Bytes> {
    match line {
        Line::TooLong => Err(protocol::error_line(format_args!(
            "line too long (max {max_line} bytes)"
        ))),
        Line::Complete(bytes) => {
            std::str::from_utf8(bytes).map_err(|_| protocol::error_line("invalid UTF-8"))
        }
    }
}

async fn write_with_deadline(
    out: &mut OwnedWriteHalf,
    bytes: &[u8],
    deadline: Duration,
) -> io::Result<()> {
    match tokio::time::timeout(deadline, out.write_all(bytes)).await {
        Ok(result) => result,
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "write deadline passed",
        )),
    }
}

/// Bytes of messages collected before a fan-out: [`FAN_OUT_BATCH`], or less when the
/// outbox budget is small, so that one batch never takes more than a quarter of it.
fn fan_out_limit(config: &ChatConfig) -> usize {
    FAN_OUT_BATCH.min(config.queue_bytes / 4)
}

/// What the reader should do after one line.
#[derive(PartialEq, Eq)]
enum Flow {
    Continue,
    Quit,
}

/// Reads the member's lines until it quits or the connection ends. Messages from lines
/// that arrived together are fanned out together, as one shared buffer.
async fn read_loop(
    lines: &mut LineReader<OwnedReadHalf>,
    member: &Member,
    registry: &Registry,
    config: &ChatConfig,
) -> Ending {
    let (max_line, batch_limit) = (config.max_line, fan_out_limit(config));
    let mut batch = BytesMut::new();
    // What a message adds to its bytes on the way out: `NAME: `, and in each other
    // member's queue at most one handle (messages that arrive together share one). The
    // reader charges the bytes it reads; this is charged per message on top, so the
    // input rate bounds what the member makes the server queue for each other member.
    let per_message = member.name.len() + 2 + ENTRY_BYTES;
    loop {
        let first = match lines.next_line(true).await {
            Ok(Some(line)) => line,
            Ok(None) => return Ending::EndOfStream,
            Err(err) => return Ending::ReadFailed(err),
        };
        let mut next = Some(first);
        while let Some(line) = next {
            let before = batch.len();
            let flow = handle_line(&line, member, registry, &mut batch, max_line);
            if flow == Flow::Quit || batch.len() >= batch_limit {
                fan_out(&mut batch, member, registry);
            }
            if flow == Flow::Quit {
                member.outbox.push(protocol::notice_line("bye"));
                return Ending::Quit;
            }
            let pause = if batch.len() > before {
                lines.charge(per_message)
            } else {
                Duration::ZERO
            };
            if !pause.is_zero() {
                // Over its rate: what is collected goes out now, the rest waits its turn.
                fan_out(&mut batch, member, registry);
                tokio::time::sleep(pause).await;
            }
            next = lines.next_buffered();
        }
        fan_out(&mut batch, member, registry);
        // Let the writers we just woke run before reading more: a member that floods
        // the room must not fill the others' queues faster than their writers get a turn.
        tokio::task::yield_now().await;
    }
}

/// Acts on one line: messages are appended to `batch`, everything else answered at once.
fn handle_line(
    line: &Line,
    member: &Member,
    registry: &Registry,
    batch: &mut BytesMut,
    max_line: usize,
) -> Flow {
    let reply = match text_of(line, max_line) {
        Err(error) => error,
        Ok(text) => match protocol::parse_input(text) {
            Input::Empty => return Flow::Continue,
            Input::Quit => return Flow::Quit,
            Input::Who => protocol::who(&registry.names()),
            Input::Unknown(command) => protocol::error_line(format_args!(
                "unknown command {command} (try /who or /quit)"
            )),
            Input::Message(text) if !protocol::message_is_clean(text) => {
                protocol::error_line("control characters are not allowed")
            }
            Input::Message(text) => {
                protocol::put_message_line(batch, &member.name, text);
                return Flow::Continue;
            }
        },
    };
    member.outbox.push(reply);
    Flow::Continue
}

/// Sends the collected messages to everyone but their author.
fn fan_out(batch: &mut BytesMut, member: &Member, registry: &Registry) {
    if !batch.is_empty() {
        registry.broadcast(batch.split().freeze(), Some(member));
    }
}

/// At most ten write-deadline evictions logged a second, then a summary.
static STALLED: support::log::Throttle = support::log::Throttle::per_second(10);

/// Writes the member's outbox to the socket until the member leaves or is evicted.
async fn write_loop(
    mut out: OwnedWriteHalf,
    member: Arc<Member>,
    deadline: Duration,
    stopped: CancellationToken,
) {
    let mut batch = VecDeque::new();
    while member.outbox.next_batch(&mut batch).await {
        let written = tokio::select! {
            written = tokio::time::timeout(deadline, write_batch(&mut out, &mut batch)) => written,
            // Evicted while this write waits for a peer that does not read: stop now.
            _ = member.outbox.evicted() => break,
        };
        match written {
            Ok(Ok(())) => {}
            Ok(Err(err)) => {
                tracing::debug!(name = %member.name, error = %err, "write failed");
                break;
            }
            Err(_) => {
                support::warn_throttled!(STALLED, name = %member.name, "evicting member: write deadline passed (the member is not reading)");
                break;
            }
        }
    }
    member.outbox.close(Closed::Evicted);
    // FIN after the last line, so a client reading to end of stream gets everything.
    let _ = out.shutdown().await;
    stopped.cancel();
}

/// Leaves the room, lets the writer send what is still queued (bounded by the write
/// deadline), and logs why the member left.
async fn finish(
    member: &Member,
    registry: &Registry,
    writer: tokio::task::JoinHandle<()>,
    deadline: Duration,
    ending: &Ending,
) {
    let announce = !matches!(ending, Ending::Shutdown);
    registry.leave(member, announce);
    member.outbox.close(Closed::Finish);
    let abort = writer.abort_handle();
    if tokio::time::timeout(deadline, writer).await.is_err() {
        abort.abort();
    }
    match ending {
        Ending::ReadFailed(err) => {
            tracing::info!(name = %member.name, error = %err, "left: read failed")
        }
        other => tracing::info!(name = %member.name, reason = ?other, "left"),
    }
}

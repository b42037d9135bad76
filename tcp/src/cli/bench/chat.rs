//! `tcp bench chat`: fan-out through a chat server, every delivery checked.
//!
//! `clients` members join (each waits for its own `* NAME joined`, which proves the
//! server registered it), then `senders` of them send `messages` lines each, as fast as
//! they can (or one every `interval`). Every line carries its sender, a sequence number and
//! the send time, so each receiving client checks that it got every other sender's lines,
//! once, in order, under the right name, and measures the delivery latency.
//!
//! Figures: `deliveries_per_s` (all receivers together, from the first send to the last
//! delivery), `p50_us`/`p99_us` delivery latency, and the checks `missing`, `reordered`,
//! `misattributed`, `malformed`, `errors` (all 0 for a correct server).
//!
//! It speaks this crate's chat protocol (`PROTOCOL.md`): a member counts as joined when it
//! reads its own `* NAME joined`. For servers with another greeting (such as the tokio
//! example chat) use the peers' `loadgen chat-fanout`, which looks for messages only.
//!
//! When senders are not paced, the latency mostly measures how long the server takes to
//! drain the backlog the burst created, not one message's trip.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tcp::chat::lines::{Line, LineReader};
use tcp::chat::protocol::{self, ServerLine};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::time::{Instant, timeout, timeout_at};

use support::stats::Latencies;

/// Longest a connect or a join may take.
pub const SETUP_TIMEOUT: Duration = Duration::from_secs(10);

/// What to run.
#[derive(Debug, Clone)]
pub struct ChatBench {
    /// The chat server.
    pub addr: SocketAddr,
    /// Members that join (all of them receive).
    pub clients: usize,
    /// How many of the members also send.
    pub senders: usize,
    /// Lines each sender sends.
    pub messages: u64,
    /// Pause between one sender's lines (zero: as fast as possible).
    pub interval: Duration,
    /// Give up waiting for deliveries after this long (missing ones are counted).
    pub timeout: Duration,
}

/// What came out.
#[derive(Debug, Clone, Default)]
pub struct ChatReport {
    /// Deliveries all receivers should have got.
    pub expected: u64,
    /// Deliveries that arrived and checked out.
    pub delivered: u64,
    /// Seconds from the first send to the last delivery.
    pub span_s: f64,
    /// Delivery latency.
    pub latency: Latencies,
    /// Lines that arrived out of order or twice.
    pub reordered: u64,
    /// Lines under the wrong sender name.
    pub misattributed: u64,
    /// Message lines that did not parse.
    pub malformed: u64,
    /// Connections that failed (connect, join, I/O error).
    pub errors: u64,
}

impl ChatReport {
    /// Deliveries per second over the whole span.
    pub fn deliveries_per_s(&self) -> f64 {
        if self.span_s > 0.0 {
            self.delivered as f64 / self.span_s
        } else {
            0.0
        }
    }

    /// The one `key=value` line the bench prints last.
    pub fn summary(&self, bench: &ChatBench) -> String {
        format!(
            "mode=chat clients={} senders={} messages={} expected={} delivered={} missing={} \
             span_s={:.4} deliveries_per_s={:.0} p50_us={:.0} p99_us={:.0} reordered={} \
             misattributed={} malformed={} errors={}",
            bench.clients,
            bench.senders,
            bench.messages,
            self.expected,
            self.delivered,
            self.expected.saturating_sub(self.delivered),
            self.span_s,
            self.deliveries_per_s(),
            self.latency.p50_us(),
            self.latency.p99_us(),
            self.reordered,
            self.misattributed,
            self.malformed,
            self.errors
        )
    }
}

/// Why the bench could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum ChatBenchError {
    /// Bad counts.
    #[error("need --clients >= 2 and 1 <= --senders <= --clients")]
    BadCounts,
    /// A member could not connect or join.
    #[error("client {index} could not join: {reason}")]
    Join {
        /// Which client.
        index: usize,
        /// What went wrong.
        reason: String,
    },
}

/// Shared clock and progress of one run.
struct Clock {
    start: Instant,
    last_delivery_us: AtomicU64,
}

impl Clock {
    fn now_us(&self) -> u64 {
        self.start.elapsed().as_micros() as u64
    }
}

/// Runs the bench to completion (bounded by the setup timeout and `bench.timeout`).
pub async fn run(bench: ChatBench) -> Result<ChatReport, ChatBenchError> {
    if bench.clients < 2 || bench.senders == 0 || bench.senders > bench.clients {
        return Err(ChatBenchError::BadCounts);
    }
    let prefix = format!("b{}x", std::process::id() % 100_000);
    let mut members = Vec::with_capacity(bench.clients);
    for index in 0..bench.clients {
        let joined = timeout(SETUP_TIMEOUT, join(bench.addr, &format!("{prefix}{index}"))).await;
        let member = joined
            .map_err(|_| "timed out".to_string())
            .and_then(|r| r)
            .map_err(|reason| ChatBenchError::Join { index, reason })?;
        members.push(member);
    }
    let clock = Arc::new(Clock {
        start: Instant::now(),
        last_delivery_us: AtomicU64::new(0),
    });
    let deadline = Instant::now() + bench.timeout;
    let mut readers = Vec::with_capacity(bench.clients);
    let mut writers = Vec::with_capacity(bench.clients);
    for (index, (lines, writer)) in members.into_iter().enumerate() {
        let expected = (bench.senders as u64 - u64::from(index < bench.senders)) * bench.messages;
        let receiver = Receiver {
            prefix: prefix.clone(),
            senders: bench.senders,
            expected,
        };
        readers.push(tokio::spawn(receiver.run(
            lines,
            Arc::clone(&clock),
            deadline,
        )));
        writers.push(writer);
    }
    let sending: Vec<_> = writers
        .drain(..bench.senders)
        .enumerate()
        .map(|(sender, w)| {
            tokio::spawn(send(
                w,
                sender,
                bench.messages,
                bench.interval,
                Arc::clone(&clock),
                deadline,
            ))
        })
        .collect();
    let mut report = ChatReport::default();
    let mut keep_open = writers;
    for task in sending {
        match task.await {
            Ok(Ok(writer)) => keep_open.push(writer),
            _ => report.errors += 1,
        }
    }
    for task in readers {
        match task.await {
            Ok(tally) => report.add(tally),
            Err(_) => report.errors += 1,
        }
    }
    report.span_s = clock.last_delivery_us.load(Ordering::Relaxed).max(1) as f64 / 1e6;
    drop(keep_open);
    Ok(report)
}

/// Connects and joins as `name`; returns the line reader and the write half.
async fn join(
    addr: SocketAddr,
    name: &str,
) -> Result<(LineReader<OwnedReadHalf>, OwnedWriteHalf), String> {
    let stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let (read, mut write) = stream.into_split();
    write
        .write_all(format!("{name}\n").as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut lines = LineReader::new(read, 64 * 1024, SETUP_TIMEOUT);
    let ours = format!("{name} joined");
    loop {
        match lines.next_line(false).await.map_err(|e| e.to_string())? {
            None => return Err("server closed the connection".into()),
            Some(Line::TooLong) => {}
            Some(Line::Complete(bytes)) => {
                match protocol::parse_server_line(&String::from_utf8_lossy(&bytes)) {
                    ServerLine::Notice(text) if text == ours => return Ok((lines, write)),
                    ServerLine::Error(text) => return Err(format!("server said: {text}")),
                    _ => {}
                }
            }
        }
    }
}

/// The body of a measured line: `bench SENDER SEQ SENT_US`.
fn body(sender: usize, seq: u64, sent_us: u64) -> String {
    format!("bench {sender} {seq} {sent_us}")
}

/// One sender: `messages` lines, one `write` each.
async fn send(
    mut writer: OwnedWriteHalf,
    sender: usize,
    messages: u64,
    interval: Duration,
    clock: Arc<Clock>,
    deadline: Instant,
) -> std::io::Result<OwnedWriteHalf> {
    for seq in 0..messages {
        let line = format!("{}\n", body(sender, seq, clock.now_us()));
        match timeout_at(deadline, writer.write_all(line.as_bytes())).await {
            Ok(result) => result?,
            Err(_) => return Err(std::io::ErrorKind::TimedOut.into()),
        }
        if !interval.is_zero() {
            tokio::time::sleep(interval).await;
        }
    }
    Ok(writer)
}

/// What one receiving member checks.
struct Receiver {
    prefix: String,
    senders: usize,
    expected: u64,
}

/// One receiver's counts.
#[derive(Default)]
struct Tally {
    expected: u64,
    delivered: u64,
    latency: Latencies,
    reordered: u64,
    misattributed: u64,
    malformed: u64,
    errors: u64,
}

impl ChatReport {
    fn add(&mut self, tally: Tally) {
        self.expected += tally.expected;
        self.delivered += tally.delivered;
        self.latency.merge(&tally.latency);
        self.reordered += tally.reordered;
        self.misattributed += tally.misattributed;
        self.malformed += tally.malformed;
        self.errors += tally.errors;
    }
}

impl Receiver {
    async fn run(
        self,
        mut lines: LineReader<OwnedReadHalf>,
        clock: Arc<Clock>,
        deadline: Instant,
    ) -> Tally {
        let mut tally = Tally {
            expected: self.expected,
            ..Tally::default()
        };
        let mut next_seq = vec![0u64; self.senders];
        while tally.delivered < self.expected {
            let line = match timeout_at(deadline, lines.next_line(true)).await {
                Ok(Ok(Some(Line::Complete(bytes)))) => bytes,
                Ok(Ok(Some(Line::TooLong))) => {
                    tally.malformed += 1;
                    continue;
                }
                Ok(Ok(None)) | Err(_) => break,
                Ok(Err(_)) => {
                    tally.errors += 1;
                    break;
                }
            };
            let now = clock.now_us();
            self.check(&line, now, &mut next_seq, &mut tally);
            clock.last_delivery_us.fetch_max(now, Ordering::Relaxed);
        }
        tally
    }

    /// Checks one line: a measured message from the right sender, in sequence.
    fn check(&self, line: &[u8], now_us: u64, next_seq: &mut [u64], tally: &mut Tally) {
        let Ok(text) = std::str::from_utf8(line) else {
            tally.malformed += 1;
            return;
        };
        let ServerLine::Message { from, text } = protocol::parse_server_line(text) else {
            return; // notices such as `* bX7 joined`
        };
        let Some((sender, seq, sent_us)) = parse_body(text).filter(|(s, _, _)| *s < self.senders)
        else {
            tally.malformed += 1;
            return;
        };
        if from.strip_prefix(self.prefix.as_str()) != Some(sender.to_string().as_str()) {
            tally.misattributed += 1;
        }
        if seq != next_seq[sender] {
            tally.reordered += 1;
        }
        next_seq[sender] = seq + 1;
        tally.delivered += 1;
        tally.latency.record(std::time::Duration::from_micros(
            now_us.saturating_sub(sent_us),
        ));
    }
}

fn parse_body(text: &str) -> Option<(usize, u64, u64)> {
    let mut words = text.strip_prefix("bench ")?.split(' ');
    let parsed = (
        words.next()?.parse().ok()?,
        words.next()?.parse().ok()?,
        words.next()?.parse().ok()?,
    );
    words.next().is_none().then_some(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tcp::chat::{ChatConfig, ChatServer};
    use tokio_util::sync::CancellationToken;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_delivery_is_counted_against_our_own_server() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = CancellationToken::new();
        tokio::spawn(ChatServer::new(ChatConfig::default()).serve(listener, stop.clone()));
        let bench = ChatBench {
            addr,
            clients: 6,
            senders: 3,
            messages: 50,
            interval: Duration::ZERO,
            timeout: Duration::from_secs(10),
        };
        let report = run(bench.clone()).await.unwrap();
        // three senders hear the two others, three listeners hear all three
        assert_eq!(report.expected, (3 * 2 + 3 * 3) * 50);
        assert_eq!(report.delivered, report.expected);
        assert_eq!(
            (
                report.reordered,
                report.misattributed,
                report.malformed,
                report.errors
            ),
            (0, 0, 0, 0)
        );
        assert!(report.summary(&bench).contains(" missing=0 "));
        stop.cancel();
    }

    #[test]
    fn bodies_parse_back() {
        assert_eq!(parse_body(&body(3, 7, 99)), Some((3, 7, 99)));
        assert_eq!(parse_body("bench 1 2"), None);
        assert_eq!(parse_body("hello"), None);
    }
}

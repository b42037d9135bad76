//! Chat fan-out load: N clients join a line-based chat server, K of them send M lines
//! each, and every client counts what it receives from the others.
//!
//! Everything that depends on the chat server's wire format is in [`proto`]; adapt that
//! module (and only that module) to point this at a server with another protocol.

use crate::stats::{new_hist, record, Kv, Result};
use clap::Args;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio::time::{sleep, timeout, timeout_at, Instant};

/// Protocol adapter for the chat server (tokio examples/chat.rs protocol):
/// * the client's first line is its username (the server's prompt line is ignored);
/// * a line `msg` sent by client `name` reaches every OTHER client as `"{name}: {msg}"`;
/// * anything else the server sends (prompt, join/leave notices) is ignored.
///
/// The message body carries sender index, sequence number and send timestamp
/// (ns since the load generator's start), so delivery latency and order can be checked.
pub mod proto {
    /// Username of client `i` (must be unique per client).
    pub fn name(i: usize) -> String {
        format!("lg{i}")
    }

    /// First line written after connecting.
    pub fn hello_line(i: usize) -> String {
        format!("{}\n", name(i))
    }

    /// One measured chat message from `sender`.
    pub fn message_line(sender: usize, seq: u64, sent_ns: u64) -> String {
        format!("lgmsg {sender} {seq} {sent_ns}\n")
    }

    /// Readiness probe (sent by client 0 until everyone has seen one).
    pub fn probe_line(k: u64) -> String {
        format!("lgprobe {k}\n")
    }

    /// What a received line means to the load generator.
    #[derive(Debug, PartialEq)]
    pub enum Incoming<'a> {
        /// A measured message; `from_name` is the name the server attributed it to.
        Msg {
            from_name: &'a str,
            sender: usize,
            seq: u64,
            sent_ns: u64,
        },
        Probe,
        /// Looked like our message but did not parse.
        Malformed,
        /// Prompts, join/leave notices, anything else.
        Other,
    }

    /// Parse one line (without the trailing newline) received from the server.
    pub fn parse_line(line: &str) -> Incoming<'_> {
        let line = line.trim_end_matches(['\r', '\n']);
        let Some(colon) = line.find(": ") else {
            return Incoming::Other;
        };
        let (from_name, body) = (&line[..colon], &line[colon + 2..]);
        if body.starts_with("lgprobe ") {
            return Incoming::Probe;
        }
        let Some(rest) = body.strip_prefix("lgmsg ") else {
            return Incoming::Other;
        };
        let mut it = rest.split(' ');
        let parsed = (|| {
            let sender = it.next()?.parse().ok()?;
            let seq = it.next()?.parse().ok()?;
            let sent_ns = it.next()?.parse().ok()?;
            if it.next().is_some() {
                return None;
            }
            Some(Incoming::Msg {
                from_name,
                sender,
                seq,
                sent_ns,
            })
        })();
        parsed.unwrap_or(Incoming::Malformed)
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        #[test]
        fn roundtrip() {
            let l = message_line(3, 7, 123);
            let got = format!("{}: {}", name(3), l.trim_end());
            assert_eq!(
                parse_line(&got),
                Incoming::Msg {
                    from_name: "lg3",
                    sender: 3,
                    seq: 7,
                    sent_ns: 123
                }
            );
            assert_eq!(parse_line("Please enter your username:"), Incoming::Other);
            assert_eq!(parse_line("lg1 has joined the chat"), Incoming::Other);
            assert_eq!(parse_line("lg0: lgprobe 4"), Incoming::Probe);
            assert_eq!(parse_line("lg0: lgmsg x"), Incoming::Malformed);
        }
    }
}

#[derive(Args, Clone)]
pub struct FanoutArgs {
    /// Chat server address, e.g. 127.0.0.1:7000.
    #[arg(long)]
    pub addr: String,
    /// Connected clients (all receive).
    #[arg(long, default_value_t = 100)]
    pub clients: usize,
    /// How many of the clients also send.
    #[arg(long, default_value_t = 10)]
    pub senders: usize,
    /// Lines sent by each sender.
    #[arg(long, default_value_t = 200)]
    pub messages: u64,
    /// Pause between a sender's lines in microseconds (0 = as fast as possible).
    #[arg(long, default_value_t = 0)]
    pub interval_us: u64,
    /// Give up waiting for deliveries after this many seconds (missing ones are counted).
    #[arg(long, default_value_t = 30.0)]
    pub timeout_s: f64,
    /// Timeout for connecting and for the readiness probe phase.
    #[arg(long, default_value_t = 10_000)]
    pub setup_timeout_ms: u64,
}

impl FanoutArgs {
    pub fn budget(&self) -> Duration {
        Duration::from_secs_f64(self.timeout_s + 2.0 * self.setup_timeout_ms as f64 / 1000.0 + 30.0)
    }
}

struct Shared {
    t0: Instant,
    probed: AtomicUsize,
    probe_seen: Vec<AtomicBool>,
    last_delivery_ns: AtomicU64,
}

#[derive(Default)]
struct RecvTotals {
    delivered: u64,
    duplicates_or_reordered: u64,
    misattributed: u64,
    malformed: u64,
    errors: u64,
}

pub async fn run_fanout(a: FanoutArgs) -> Result<String> {
    if a.clients < 2 || a.senders == 0 || a.senders > a.clients {
        return Err("need --clients >= 2 and 1 <= --senders <= --clients".into());
    }
    let setup = Duration::from_millis(a.setup_timeout_ms);
    let shared = Arc::new(Shared {
        t0: Instant::now(),
        probed: AtomicUsize::new(0),
        probe_seen: (0..a.clients).map(|_| AtomicBool::new(false)).collect(),
        last_delivery_ns: AtomicU64::new(0),
    });

    // 1. connect everyone and send the name line
    let t_connect = Instant::now();
    let mut writers: Vec<OwnedWriteHalf> = Vec::with_capacity(a.clients);
    let mut readers = Vec::with_capacity(a.clients);
    for i in 0..a.clients {
        let s = timeout(setup, TcpStream::connect(&a.addr))
            .await
            .map_err(|_| format!("connect {i} timed out"))??;
        s.set_nodelay(true)?;
        let (rd, mut wr) = s.into_split();
        wr.write_all(proto::hello_line(i).as_bytes()).await?;
        writers.push(wr);
        readers.push(rd);
    }
    let connect_ms = t_connect.elapsed().as_secs_f64() * 1e3;

    // 2. reader task per client
    let deadline = Instant::now() + setup + Duration::from_secs_f64(a.timeout_s);
    let mut rtasks = Vec::with_capacity(a.clients);
    for (i, rd) in readers.into_iter().enumerate() {
        let shared = shared.clone();
        let (senders, messages) = (a.senders, a.messages);
        // client i hears every sender except itself
        let expected = (senders as u64 - u64::from(i < senders)) * messages;
        rtasks.push(tokio::spawn(async move {
            let mut h = new_hist();
            let mut t = RecvTotals::default();
            let mut next_seq = vec![0u64; senders];
            let mut rd = BufReader::with_capacity(64 * 1024, rd);
            let mut line = Vec::with_capacity(256);
            while t.delivered < expected {
                line.clear();
                match timeout_at(deadline, rd.read_until(b'\n', &mut line)).await {
                    Ok(Ok(0)) => break,
                    Ok(Ok(_)) => {}
                    Ok(Err(_)) => {
                        t.errors += 1;
                        break;
                    }
                    Err(_) => break,
                }
                let now_ns = shared.t0.elapsed().as_nanos() as u64;
                let Ok(text) = std::str::from_utf8(&line) else {
                    t.malformed += 1;
                    continue;
                };
                match proto::parse_line(text) {
                    proto::Incoming::Msg {
                        from_name,
                        sender,
                        seq,
                        sent_ns,
                    } => {
                        if sender >= senders {
                            t.malformed += 1;
                            continue;
                        }
                        if from_name != proto::name(sender) {
                            t.misattributed += 1;
                        }
                        if seq != next_seq[sender] {
                            t.duplicates_or_reordered += 1;
                        }
                        next_seq[sender] = seq + 1;
                        t.delivered += 1;
                        record(&mut h, now_ns.saturating_sub(sent_ns));
                        shared.last_delivery_ns.fetch_max(now_ns, Ordering::Relaxed);
                    }
                    proto::Incoming::Probe => {
                        if !shared.probe_seen[i].swap(true, Ordering::Relaxed) {
                            shared.probed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    proto::Incoming::Malformed => t.malformed += 1,
                    proto::Incoming::Other => {}
                }
            }
            (h, t, expected)
        }));
    }

    // 3. readiness: client 0 probes until every other client has seen a probe, which
    //    proves all of them are registered with the server.
    let t_probe = Instant::now();
    let mut k = 0u64;
    while shared.probed.load(Ordering::Relaxed) < a.clients - 1 {
        if t_probe.elapsed() > setup {
            return Err(format!(
                "readiness probe: only {}/{} clients saw a probe within {:?}",
                shared.probed.load(Ordering::Relaxed),
                a.clients - 1,
                setup
            )
            .into());
        }
        writers[0]
            .write_all(proto::probe_line(k).as_bytes())
            .await?;
        k += 1;
        sleep(Duration::from_millis(20)).await;
    }
    // let late duplicate probes drain before the measured phase
    sleep(Duration::from_millis(50)).await;

    // 4. measured phase: K senders, M lines each
    let send_start_ns = shared.t0.elapsed().as_nanos() as u64;
    let mut stasks = Vec::with_capacity(a.senders);
    let mut rest = writers.split_off(a.senders);
    for (sender, mut wr) in writers.into_iter().enumerate() {
        let shared = shared.clone();
        let (messages, interval) = (a.messages, Duration::from_micros(a.interval_us));
        stasks.push(tokio::spawn(async move {
            let mut errors = 0u64;
            for seq in 0..messages {
                let sent_ns = shared.t0.elapsed().as_nanos() as u64;
                let line = proto::message_line(sender, seq, sent_ns);
                match timeout_at(deadline, wr.write_all(line.as_bytes())).await {
                    Ok(Ok(())) => {}
                    _ => {
                        errors += 1;
                        break;
                    }
                }
                if !interval.is_zero() {
                    sleep(interval).await;
                }
            }
            (errors, wr)
        }));
    }
    let mut send_errors = 0u64;
    let mut keep = Vec::new();
    for t in stasks {
        let (e, wr) = t.await?;
        send_errors += e;
        keep.push(wr);
    }
    let send_done_ns = shared.t0.elapsed().as_nanos() as u64;

    let mut h = new_hist();
    let mut tot = RecvTotals::default();
    let mut expected_total = 0u64;
    for t in rtasks {
        let (th, tt, exp) = t.await?;
        h.add(&th).ok();
        expected_total += exp;
        tot.delivered += tt.delivered;
        tot.duplicates_or_reordered += tt.duplicates_or_reordered;
        tot.misattributed += tt.misattributed;
        tot.malformed += tt.malformed;
        tot.errors += tt.errors;
    }
    keep.append(&mut rest);
    drop(keep);

    let last = shared
        .last_delivery_ns
        .load(Ordering::Relaxed)
        .max(send_start_ns + 1);
    let span_s = (last - send_start_ns) as f64 / 1e9;
    let mut kv = Kv::new();
    kv.put("mode", "chat-fanout")
        .put("addr", &a.addr)
        .put("clients", a.clients)
        .put("senders", a.senders)
        .put("messages", a.messages)
        .put("sent", a.senders as u64 * a.messages)
        .put("expected", expected_total)
        .put("delivered", tot.delivered)
        .put("missing", expected_total.saturating_sub(tot.delivered))
        .f("span_s", span_s, 4)
        .f("deliveries_per_s", tot.delivered as f64 / span_s, 0)
        .f("send_s", (send_done_ns - send_start_ns) as f64 / 1e9, 4)
        .lat(&h)
        .put("reordered", tot.duplicates_or_reordered)
        .put("misattributed", tot.misattributed)
        .put("malformed", tot.malformed)
        .put("errors", tot.errors + send_errors)
        .f("connect_ms", connect_ms, 1);
    Ok(kv.line())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::kv_get;
    use std::collections::HashMap;
    use tokio::net::TcpListener;
    use tokio::sync::{mpsc, Mutex};

    /// Minimal in-process server speaking the same protocol as tokio's chat example.
    async fn chat_server() -> String {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let peers: Arc<Mutex<HashMap<std::net::SocketAddr, mpsc::UnboundedSender<String>>>> =
            Arc::default();
        tokio::spawn(async move {
            loop {
                let (s, a) = l.accept().await.unwrap();
                let peers = peers.clone();
                tokio::spawn(async move {
                    let (rd, mut wr) = s.into_split();
                    let mut rd = BufReader::new(rd);
                    wr.write_all(b"Please enter your username:\n")
                        .await
                        .unwrap();
                    let mut name = String::new();
                    if rd.read_line(&mut name).await.unwrap() == 0 {
                        return;
                    }
                    let name = name.trim_end().to_string();
                    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
                    peers.lock().await.insert(a, tx);
                    tokio::spawn(async move {
                        while let Some(m) = rx.recv().await {
                            if wr.write_all(m.as_bytes()).await.is_err() {
                                return;
                            }
                        }
                    });
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if rd.read_line(&mut line).await.unwrap_or(0) == 0 {
                            break;
                        }
                        let msg = format!("{name}: {line}");
                        for (pa, tx) in peers.lock().await.iter() {
                            if *pa != a {
                                let _ = tx.send(msg.clone());
                            }
                        }
                    }
                    peers.lock().await.remove(&a);
                });
            }
        });
        addr
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn fanout_delivers_everything() {
        let a = FanoutArgs {
            addr: chat_server().await,
            clients: 6,
            senders: 2,
            messages: 25,
            interval_us: 0,
            timeout_s: 10.0,
            setup_timeout_ms: 5000,
        };
        let line = run_fanout(a).await.unwrap();
        // 2 senders x 25 messages, each to the 5 other clients
        assert_eq!(kv_get(&line, "expected"), Some("250"), "{line}");
        assert_eq!(kv_get(&line, "delivered"), Some("250"), "{line}");
        assert_eq!(kv_get(&line, "missing"), Some("0"), "{line}");
        assert_eq!(kv_get(&line, "misattributed"), Some("0"), "{line}");
        assert_eq!(kv_get(&line, "reordered"), Some("0"), "{line}");
    }
}

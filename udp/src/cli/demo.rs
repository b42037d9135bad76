//! `udp demo`: echo, quote, and a client retrying through a lossy proxy, all on loopback
//! ephemeral ports in one process, printed as a readable transcript.
//!
//! The proxy's faults come from a fixed seed and the client's jitter too, so the transcript is
//! the same every run (apart from port numbers): which requests were lost, which retries
//! recovered them.

use std::net::SocketAddr;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use proxy::udp::{FaultProxy, Faults, ProxyConfig};
use udp::client::{RetryClient, RetryPolicy};
use udp::echo::EchoServer;
use udp::error::{Result, UdpError};
use udp::packet::DatagramPacket;
use udp::quote::{self, QuoteBook, QuoteReply, QuoteServer};
use udp::socket::{DatagramSocket, MAX_DATAGRAM_BUFFER, MAX_PAYLOAD_V4};

/// Seed of the demo's proxy faults and client jitter.
pub const DEMO_SEED: u64 = 7;

/// Requests the demo's client sends through the lossy proxy.
pub const DEMO_REQUESTS: u32 = 8;

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// Runs the whole demo; returns the transcript lines.
pub async fn run() -> Result<Vec<String>> {
    let shutdown = CancellationToken::new();
    let mut out = Vec::new();
    let echo = EchoServer::bind(loopback()).await?;
    let echo_addr = echo.local_addr()?;
    tokio::spawn(echo.run(shutdown.clone()));
    out.push("== UDP echo (RFC 862): datagrams keep their boundaries ==".to_string());
    out.push(format!("echo server listening on {echo_addr}"));
    out.extend(blocking(move || echo_part(echo_addr)).await?);

    out.push(String::new());
    out.extend(quote_part(shutdown.clone()).await?);

    out.push(String::new());
    out.extend(lossy_part(echo_addr).await?);
    shutdown.cancel();
    Ok(out)
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| UdpError::io("demo", std::io::Error::other(e)))?
}

/// Plain echo: a small datagram, the largest one, a truncated one, an oversized one.
fn echo_part(server: SocketAddr) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let client = DatagramSocket::bind(loopback())?;
    client.set_so_timeout(Some(Duration::from_secs(5)))?;
    client.set_receive_buffer_size(1 << 20)?;
    let mut inbox = DatagramPacket::with_capacity(MAX_DATAGRAM_BUFFER);

    client.send(&DatagramPacket::new(b"hello, datagram".to_vec(), server))?;
    client.receive(&mut inbox)?;
    out.push(format!(
        "sent \"hello, datagram\" (15 bytes) -> got {:?} back",
        String::from_utf8_lossy(inbox.data())
    ));

    let big: Vec<u8> = (0..MAX_PAYLOAD_V4).map(|i| (i % 256) as u8).collect();
    client.send_to(&big, server)?;
    client.receive(&mut inbox)?;
    let intact = if inbox.data() == big.as_slice() {
        "intact"
    } else {
        "CORRUPTED"
    };
    out.push(format!(
        "sent {} bytes (largest IPv4 datagram) -> got {} bytes back, {intact}",
        big.len(),
        inbox.len()
    ));

    client.send_to(&[b'x'; 1000], server)?;
    let mut small = DatagramPacket::with_capacity(100);
    client.receive(&mut small)?;
    out.push(format!(
        "sent 1000 bytes, received into a 100-byte packet -> truncated={}, kept {} of {} bytes (MSG_TRUNC)",
        small.is_truncated(),
        small.len(),
        small.datagram_len()
    ));

    let too_big = client
        .send_to(&vec![0u8; MAX_PAYLOAD_V4 + 1], server)
        .unwrap_err();
    out.push(format!(
        "sent {} bytes -> refused: {too_big}",
        MAX_PAYLOAD_V4 + 1
    ));
    Ok(out)
}

/// The quote service: two quotes, a retried request (same id, same quote), garbage.
async fn quote_part(shutdown: CancellationToken) -> Result<Vec<String>> {
    let server = QuoteServer::bind(loopback(), QuoteBook::builtin()).await?;
    let addr = server.local_addr()?;
    tokio::spawn(server.run(shutdown));
    let mut out = vec![
        "== Quote service (the Java tutorial's, done properly) ==".to_string(),
        format!("quote server listening on {addr}"),
    ];
    out.extend(blocking(move || quote_client_part(addr)).await?);
    Ok(out)
}

fn quote_client_part(addr: SocketAddr) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut client = RetryClient::connect(addr, RetryPolicy::default())?;
    for id in [1, 2, 1] {
        let line = match quote::fetch_quote(&mut client, id)? {
            QuoteReply::Quote { number, text } => {
                format!("request id {id} -> quote #{number}: {text}")
            }
            QuoteReply::Refused(why) => format!("request id {id} -> refused: {why}"),
        };
        out.push(line);
    }
    out.push(
        "(id 1 asked twice: the server's reply cache answered the repeat with the same quote)"
            .into(),
    );
    let raw = DatagramSocket::bind(loopback())?;
    raw.set_so_timeout(Some(Duration::from_secs(5)))?;
    let unpadded = quote::Message::Request { id: 3 }.encode();
    raw.send_to(&unpadded, addr)?;
    let mut inbox = DatagramPacket::with_capacity(600);
    raw.receive(&mut inbox)?;
    out.push(format!(
        "unpadded request ({} bytes) -> {}-byte reply {}: never more bytes than the request",
        unpadded.len(),
        inbox.len(),
        framing::hex_bytes(inbox.data())
    ));
    raw.set_so_timeout(Some(Duration::from_millis(200)))?;
    raw.send_to(b"hello?", addr)?;
    let garbage = match raw.receive(&mut inbox) {
        Err(UdpError::Timeout) => "no reply (garbage earns none)".to_string(),
        Ok(()) => format!("unexpected reply of {} bytes", inbox.len()),
        Err(e) => return Err(e),
    };
    out.push(format!("garbage \"hello?\" -> {garbage}"));
    Ok(out)
}

/// Echo through a proxy that drops 30% of datagrams each way; the client retries.
async fn lossy_part(echo_addr: SocketAddr) -> Result<Vec<String>> {
    let mut config = ProxyConfig::new(loopback(), echo_addr);
    config.faults = Faults {
        loss: 0.3,
        seed: DEMO_SEED,
        ..Faults::default()
    };
    let proxy = FaultProxy::spawn(config)
        .await
        .map_err(|e| UdpError::io("start the proxy", std::io::Error::other(e)))?;
    let proxy_addr = proxy.local_addr();
    let mut out = vec![
        "== Retrying through a lossy proxy ==".to_string(),
        format!(
            "proxy listening on {proxy_addr} -> echo server {echo_addr}; drops 30% each way (seed {DEMO_SEED})"
        ),
    ];
    let (lines, stats) = blocking(move || lossy_client(proxy_addr)).await?;
    out.extend(lines);
    out.push(format!(
        "client: requests={} sent={} retried={} answered={} lost={}",
        stats.requests, stats.sent, stats.retried, stats.answered, stats.lost
    ));
    let p = proxy.stats();
    out.push(format!(
        "proxy: forwarded={} dropped={} sessions={}",
        p.forwarded, p.dropped, p.sessions_opened
    ));
    proxy.shutdown().await;
    Ok(out)
}

fn lossy_client(proxy: SocketAddr) -> Result<(Vec<String>, udp::client::ClientStats)> {
    let policy = RetryPolicy {
        // Far above a loopback round trip even on a busy machine: a reply later than this
        // would count as lost and change the transcript.
        timeout: Duration::from_millis(250),
        retries: 6,
        seed: DEMO_SEED,
        ..RetryPolicy::default()
    };
    let mut client = RetryClient::connect(proxy, policy)?;
    let mut out = Vec::new();
    for n in 1..=DEMO_REQUESTS {
        let request = format!("ping {n}");
        let before = client.stats().sent;
        let result = client.request(request.as_bytes(), |reply| reply == request.as_bytes());
        let attempts = client.stats().sent - before;
        out.push(match result {
            Ok(_) if attempts == 1 => format!("{request:<7} answered at once"),
            Ok(_) => format!(
                "{request:<7} answered after {attempts} attempts ({} lost on the way)",
                attempts - 1
            ),
            Err(e) => format!("{request:<7} {e}"),
        });
    }
    Ok((out, client.stats()))
}

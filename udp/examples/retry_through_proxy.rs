//! A client that retries with exponential backoff and jitter, talking to an echo server through
//! a proxy that drops 25% of datagrams each way. Every request is eventually answered; the
//! statistics say what it cost.
//!
//! Run: `cargo run -p udp --example retry_through_proxy`
//! The same with three terminals:
//! ```text
//! udp echo-server --bind 127.0.0.1:7007
//! udp proxy --listen 127.0.0.1:7100 --to 127.0.0.1:7007 --loss 0.25 --seed 42
//! udp echo-client 127.0.0.1:7100 --timeout-ms 100 --retries 10
//! ```
//!
//! Output (the same every run: the proxy's faults and the jitter come from seeds):
//! ```text
//! request 0: 1 attempt(s)
//! ...
//! client: sent=.. retried=.. answered=10 lost=0; proxy dropped ..
//! ```

use std::time::Duration;

use proxy::udp::{FaultProxy, Faults, ProxyConfig};
use tokio_util::sync::CancellationToken;
use udp::client::{RetryClient, RetryPolicy};
use udp::echo::EchoServer;

#[tokio::main]
async fn main() -> udp::Result<()> {
    let shutdown = CancellationToken::new();
    let echo = EchoServer::bind("127.0.0.1:0".parse().expect("literal address")).await?;
    let echo_addr = echo.local_addr()?;
    tokio::spawn(echo.run(shutdown.clone()));

    let mut config = ProxyConfig::new("127.0.0.1:0".parse().expect("literal address"), echo_addr);
    config.faults = Faults {
        loss: 0.25,
        seed: 42,
        ..Faults::default()
    };
    let proxy = FaultProxy::spawn(config)
        .await
        .map_err(|e| udp::UdpError::io("start the proxy", std::io::Error::other(e)))?;
    let proxy_addr = proxy.local_addr();

    let stats = tokio::task::spawn_blocking(move || -> udp::Result<_> {
        let policy = RetryPolicy {
            timeout: Duration::from_millis(100),
            retries: 10,
            max_timeout: Duration::from_millis(400),
            seed: 42,
            ..RetryPolicy::default()
        };
        let mut client = RetryClient::connect(proxy_addr, policy)?;
        for i in 0..10 {
            let msg = format!("request {i}");
            let before = client.stats().sent;
            client.request(msg.as_bytes(), |reply| reply == msg.as_bytes())?;
            println!("{msg}: {} attempt(s)", client.stats().sent - before);
        }
        Ok(client.stats())
    })
    .await
    .expect("client thread")?;

    let p = proxy.stats();
    println!(
        "client: sent={} retried={} answered={} lost={}; proxy dropped {} of {}",
        stats.sent,
        stats.retried,
        stats.answered,
        stats.lost,
        p.dropped,
        p.dropped + p.forwarded
    );
    proxy.shutdown().await;
    shutdown.cancel();
    Ok(())
}

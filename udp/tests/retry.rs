//! The retrying client against loss it cannot see: through the fault-injecting proxy
//! (`proxy::udp`), every request is answered and every drop costs one retry; duplicates are
//! skipped; with no server, every attempt is spent and the backoff doubles.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use proxy::udp::{FaultProxy, Faults, ProxyConfig, ProxyStats};
use tokio_util::sync::{CancellationToken, DropGuard};
use udp::client::{ClientStats, RetryClient, RetryPolicy};
use udp::echo::EchoServer;
use udp::{DatagramSocket, UdpError};

async fn echo_server() -> (SocketAddr, DropGuard) {
    let shutdown = CancellationToken::new();
    let server = EchoServer::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let addr = server.local_addr().unwrap();
    tokio::spawn(server.run(shutdown.clone()));
    (addr, shutdown.drop_guard())
}

/// Sends `n` requests one after the other; returns the client stats.
fn requests(proxy: SocketAddr, n: u32) -> ClientStats {
    let policy = RetryPolicy {
        timeout: Duration::from_millis(100),
        retries: 12,
        max_timeout: Duration::from_millis(200),
        seed: 1,
        ..RetryPolicy::default()
    };
    let mut client = RetryClient::connect(proxy, policy).unwrap();
    for i in 0..n {
        let msg = format!("request {i}");
        let reply = client
            .request(msg.as_bytes(), |r| r == msg.as_bytes())
            .unwrap();
        assert_eq!(reply, msg.as_bytes());
    }
    client.stats()
}

async fn through_proxy(faults: Faults, n: u32) -> (ClientStats, ProxyStats) {
    let (echo, _stop) = echo_server().await;
    let mut config = ProxyConfig::new("127.0.0.1:0".parse().unwrap(), echo);
    config.faults = faults;
    let proxy = FaultProxy::spawn(config).await.unwrap();
    let addr = proxy.local_addr();
    let stats = tokio::task::spawn_blocking(move || requests(addr, n))
        .await
        .unwrap();
    (stats, proxy.shutdown().await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_is_answered_through_loss_and_retries_are_counted() {
    let lossy = Faults {
        loss: 0.3,
        seed: 3,
        ..Faults::default()
    };
    let (client, proxy) = through_proxy(lossy, 15).await;
    assert_eq!((client.requests, client.answered, client.lost), (15, 15, 0));
    assert!(proxy.dropped > 0, "30% loss dropped nothing: {proxy:?}");
    // Every dropped datagram cost exactly one retry; a reply later than the timeout costs one
    // more and shows up as a stale reply.
    assert!(client.retried >= proxy.dropped, "{client:?} {proxy:?}");
    assert!(
        client.retried - proxy.dropped <= client.stale + 1,
        "{client:?} {proxy:?}"
    );
    assert_eq!(client.sent, client.requests + client.retried);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_are_counted_and_skipped_by_the_client() {
    let doubling = Faults {
        duplicate: 1.0,
        ..Faults::default()
    };
    let (client, proxy) = through_proxy(doubling, 5).await;
    assert_eq!(proxy.duplicated, proxy.forwarded);
    // Each request reaches the server twice and each echo is doubled: 4 replies per request.
    assert_eq!(client.answered, 5);
    assert!(client.stale >= 10, "{client:?}");
}

#[test]
fn no_server_means_no_reply_after_every_attempt() {
    let closed = DatagramSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let dead = closed.local_addr().unwrap();
    drop(closed);
    let policy = RetryPolicy {
        timeout: Duration::from_millis(20),
        retries: 2,
        jitter: 0.0,
        ..RetryPolicy::default()
    };
    let mut client = RetryClient::connect(dead, policy).unwrap();
    let start = Instant::now();
    let err = client.request(b"anyone?", |_| true).unwrap_err();
    assert!(matches!(err, UdpError::NoReply { attempts: 3 }), "{err}");
    // Waited 20 + 40 + 80 ms: backoff doubles.
    assert!(
        start.elapsed() >= Duration::from_millis(140),
        "{:?}",
        start.elapsed()
    );
    let s = client.stats();
    assert_eq!(
        (s.requests, s.sent, s.retried, s.answered, s.lost),
        (1, 3, 2, 0, 1)
    );
}

#[test]
fn backoff_doubles_up_to_the_cap() {
    let p = RetryPolicy {
        timeout: Duration::from_millis(100),
        max_timeout: Duration::from_millis(500),
        ..RetryPolicy::default()
    };
    let waits: Vec<u128> = (0..6).map(|n| p.backoff(n).as_millis()).collect();
    assert_eq!(waits, [100, 200, 400, 500, 500, 500]);
    assert_eq!(p.backoff(u32::MAX), Duration::from_millis(500));
}

//! The fault-injecting proxy: loss recovered by retries, determinism under a seed, duplicates,
//! reordering, delay, session limits and expiry, transcripts.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tcp::transcript::{Direction, Transcript};
use tokio_util::sync::{CancellationToken, DropGuard};
use udp::client::{ClientStats, RetryClient, RetryPolicy};
use udp::echo::EchoServer;
use udp::proxy::{FaultProxy, Faults, ProxyConfig, ProxyHandle, ProxyStats};
use udp::{DatagramPacket, DatagramSocket, UdpError};

async fn echo_server(bind: &str) -> (SocketAddr, DropGuard) {
    let shutdown = CancellationToken::new();
    let server = EchoServer::bind(bind.parse().unwrap()).await.unwrap();
    let addr = server.local_addr().unwrap();
    tokio::spawn(server.run(shutdown.clone()));
    (addr, shutdown.drop_guard())
}

async fn proxy_to(target: SocketAddr, faults: Faults) -> ProxyHandle {
    let listen = if target.is_ipv4() {
        "127.0.0.1:0"
    } else {
        "[::1]:0"
    };
    let mut config = ProxyConfig::new(listen.parse().unwrap(), target);
    config.faults = faults;
    FaultProxy::spawn(config).await.unwrap()
}

/// Sends `n` requests one after the other; returns attempts per request and the client stats.
fn requests(proxy: SocketAddr, n: u32, policy: RetryPolicy) -> (Vec<u64>, ClientStats) {
    let mut client = RetryClient::connect(proxy, policy).unwrap();
    let mut attempts = Vec::new();
    for i in 0..n {
        let msg = format!("request {i}");
        let before = client.stats().sent;
        let reply = client
            .request(msg.as_bytes(), |r| r == msg.as_bytes())
            .unwrap();
        assert_eq!(reply, msg.as_bytes());
        attempts.push(client.stats().sent - before);
    }
    (attempts, client.stats())
}

fn patient() -> RetryPolicy {
    RetryPolicy {
        timeout: Duration::from_millis(100),
        retries: 12,
        max_timeout: Duration::from_millis(200),
        seed: 1,
        ..RetryPolicy::default()
    }
}

async fn lossy_run(seed: u64, n: u32) -> (Vec<u64>, ClientStats, ProxyStats) {
    let (echo, _t) = echo_server("127.0.0.1:0").await;
    let proxy = proxy_to(
        echo,
        Faults {
            loss: 0.3,
            seed,
            ..Faults::default()
        },
    )
    .await;
    let addr = proxy.local_addr();
    let (attempts, stats) = tokio::task::spawn_blocking(move || requests(addr, n, patient()))
        .await
        .unwrap();
    let p = proxy.stats();
    proxy.shutdown().await;
    (attempts, stats, p)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_is_answered_through_loss_and_retries_are_counted() {
    let (_attempts, client, proxy) = lossy_run(3, 15).await;
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
async fn same_seed_same_losses_other_seed_other_losses() {
    let a = survivors(11).await;
    let b = survivors(11).await;
    let c = survivors(12).await;
    assert_eq!(a, b, "same seed must lose the same datagrams");
    assert_ne!(a, c, "another seed should lose other datagrams");
    assert!(
        a.len() > 5 && a.len() < 35,
        "30% loss each way kept {} of 40",
        a.len()
    );
}

/// Sends datagrams 0..40 through a 30%-loss proxy to an echo server, then collects the echoes
/// for a while: which ones came back depends only on the seed, not on timing (the fate of a
/// datagram is a function of its index in its direction).
async fn survivors(seed: u64) -> Vec<u8> {
    let (echo, _t) = echo_server("127.0.0.1:0").await;
    let proxy = proxy_to(
        echo,
        Faults {
            loss: 0.3,
            seed,
            ..Faults::default()
        },
    )
    .await;
    let addr = proxy.local_addr();
    let mut back = tokio::task::spawn_blocking(move || {
        let c = DatagramSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        for i in 0..40u8 {
            c.send_to(&[i], addr).unwrap();
        }
        c.set_so_timeout(Some(Duration::from_millis(300))).unwrap();
        let mut inbox = DatagramPacket::with_capacity(10);
        let mut back = Vec::new();
        while c.receive(&mut inbox).is_ok() {
            back.extend_from_slice(inbox.data());
        }
        back
    })
    .await
    .unwrap();
    proxy.shutdown().await;
    back.sort();
    back
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_are_counted_and_skipped_by_the_client() {
    let (echo, _t) = echo_server("127.0.0.1:0").await;
    let proxy = proxy_to(
        echo,
        Faults {
            duplicate: 1.0,
            ..Faults::default()
        },
    )
    .await;
    let addr = proxy.local_addr();
    let (_, stats) = tokio::task::spawn_blocking(move || requests(addr, 5, patient()))
        .await
        .unwrap();
    let p = proxy.shutdown().await; // final counters: no datagram still on its way
    assert_eq!(p.duplicated, p.forwarded);
    // Each request reaches the server twice and each echo is doubled: 4 replies per request.
    assert_eq!(stats.answered, 5);
    assert!(stats.stale >= 10, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reordering_changes_the_order_but_loses_nothing() {
    let (echo, _t) = echo_server("127.0.0.1:0").await;
    let proxy = proxy_to(
        echo,
        Faults {
            reorder: 0.3,
            seed: 5,
            ..Faults::default()
        },
    )
    .await;
    let addr = proxy.local_addr();
    let (received, expected) = tokio::task::spawn_blocking(move || {
        let c = DatagramSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        c.set_so_timeout(Some(Duration::from_secs(2))).unwrap();
        let expected: Vec<Vec<u8>> = (0..30u8).map(|i| vec![i]).collect();
        for d in &expected {
            c.send_to(d, addr).unwrap();
        }
        let mut inbox = DatagramPacket::with_capacity(10);
        let received: Vec<Vec<u8>> = (0..30)
            .map(|_| {
                c.receive(&mut inbox).unwrap();
                inbox.data().to_vec()
            })
            .collect();
        (received, expected)
    })
    .await
    .unwrap();
    assert_ne!(received, expected, "nothing was reordered");
    let mut sorted = received.clone();
    sorted.sort();
    assert_eq!(sorted, expected, "a datagram was lost or changed");
    assert!(proxy.stats().reordered > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delay_applies_in_both_directions() {
    let (echo, _t) = echo_server("127.0.0.1:0").await;
    let proxy = proxy_to(
        echo,
        Faults {
            delay: Duration::from_millis(60),
            ..Faults::default()
        },
    )
    .await;
    let addr = proxy.local_addr();
    let elapsed = tokio::task::spawn_blocking(move || {
        let start = Instant::now();
        requests(
            addr,
            1,
            RetryPolicy {
                timeout: Duration::from_secs(2),
                retries: 0,
                ..patient()
            },
        );
        start.elapsed()
    })
    .await
    .unwrap();
    assert!(elapsed >= Duration::from_millis(120), "{elapsed:?}");
    assert_eq!(proxy.stats().delayed, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_beyond_the_limit_are_refused() {
    let (echo, _t) = echo_server("127.0.0.1:0").await;
    let mut config = ProxyConfig::new("127.0.0.1:0".parse().unwrap(), echo);
    config.max_sessions = 2;
    let proxy = FaultProxy::spawn(config).await.unwrap();
    let addr = proxy.local_addr();
    let outcomes = tokio::task::spawn_blocking(move || {
        (0..3)
            .map(|_| {
                let mut c = RetryClient::connect(
                    addr,
                    RetryPolicy {
                        timeout: Duration::from_millis(200),
                        retries: 0,
                        ..patient()
                    },
                )
                .unwrap();
                let keep = c.request(b"hi", |r| r == b"hi");
                (c, keep.is_ok())
            })
            .map(|(_, ok)| ok)
            .collect::<Vec<bool>>()
    })
    .await
    .unwrap();
    // Clients are dropped one by one, but sessions live until idle expiry: the third is refused.
    assert_eq!(outcomes, [true, true, false]);
    let s = proxy.stats();
    assert_eq!((s.sessions_opened, s.refused), (2, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sessions_expire() {
    let (echo, _t) = echo_server("127.0.0.1:0").await;
    let mut config = ProxyConfig::new("127.0.0.1:0".parse().unwrap(), echo);
    config.idle = Duration::from_millis(50);
    let proxy = FaultProxy::spawn(config).await.unwrap();
    let addr = proxy.local_addr();
    let mut client = tokio::task::spawn_blocking(move || {
        let mut c = RetryClient::connect(addr, patient()).unwrap();
        c.request(b"one", |r| r == b"one").unwrap();
        c
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(proxy.stats().sessions_expired, 1);
    client = tokio::task::spawn_blocking(move || {
        client.request(b"two", |r| r == b"two").unwrap();
        client
    })
    .await
    .unwrap();
    assert_eq!(
        proxy.stats().sessions_opened,
        2,
        "the same client got a new session"
    );
    drop(client);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv6_proxy_and_empty_datagrams() {
    let (echo, _t) = echo_server("[::1]:0").await;
    let proxy = proxy_to(echo, Faults::default()).await;
    let addr = proxy.local_addr();
    assert!(addr.is_ipv6());
    tokio::task::spawn_blocking(move || {
        let c = DatagramSocket::bind("[::1]:0".parse().unwrap()).unwrap();
        c.set_so_timeout(Some(Duration::from_secs(2))).unwrap();
        let mut inbox = DatagramPacket::with_capacity(100);
        for data in [&b""[..], b"\xff\x00garbage"] {
            c.send_to(data, addr).unwrap();
            c.receive(&mut inbox).unwrap();
            assert_eq!(inbox.data(), data);
        }
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_writes_the_tcp_transcript_format_one_record_per_datagram() {
    let (echo, _t) = echo_server("127.0.0.1:0").await;
    let path = std::env::temp_dir().join(format!("udp-proxy-record-{}.txt", std::process::id()));
    let mut config = ProxyConfig::new("127.0.0.1:0".parse().unwrap(), echo);
    config.record = Some(path.clone());
    config.faults = Faults {
        loss: 0.3,
        seed: 4,
        ..Faults::default()
    };
    let proxy = FaultProxy::spawn(config).await.unwrap();
    let addr = proxy.local_addr();
    tokio::task::spawn_blocking(move || requests(addr, 6, patient()))
        .await
        .unwrap();
    let stats = proxy.stats();
    proxy.shutdown().await;
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let transcript = Transcript::parse(&text).unwrap();
    assert_eq!(transcript.connections(), vec![1]);
    // What reached the server: every request at least once, in order.
    let to_server = String::from_utf8(transcript.stream(1, Direction::ClientToServer)).unwrap();
    let mut rest = to_server.as_str();
    for i in 0..6 {
        let msg = format!("request {i}");
        let at = rest
            .find(&msg)
            .unwrap_or_else(|| panic!("{msg} missing from {to_server:?}"));
        rest = &rest[at + msg.len()..];
    }
    let data_records = text.lines().filter(|l| l.contains(" len ")).count() as u64;
    assert_eq!(
        data_records, stats.forwarded,
        "one record per forwarded datagram"
    );
    assert!(
        stats.dropped > 0,
        "pick a seed that drops something: {stats:?}"
    );
    let drop_comments = text
        .lines()
        .filter(|l| l.starts_with("# [1]") && l.contains("dropped"))
        .count() as u64;
    assert_eq!(drop_comments, stats.dropped);
    assert!(
        text.starts_with("# transcript v1\n[1] open\n[1] client>server offset 0 len 9\n"),
        "{text}"
    );
    assert!(text.trim_end().ends_with("[1] close"));
}

#[tokio::test]
async fn bad_probabilities_are_refused() {
    let mut config = ProxyConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        "127.0.0.1:9".parse().unwrap(),
    );
    config.faults.loss = 2.0;
    let err = FaultProxy::spawn(config).await.unwrap_err();
    assert!(
        err.to_string().contains("--loss must be a probability"),
        "{err}"
    );
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_still_delivers_delayed_datagrams() {
    let server = DatagramSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    server.set_so_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut config = ProxyConfig::new("127.0.0.1:0".parse().unwrap(), server.local_addr().unwrap());
    config.faults.delay = Duration::from_millis(150);
    let proxy = FaultProxy::spawn(config).await.unwrap();
    let client = DatagramSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    client.send_to(b"in flight", proxy.local_addr()).unwrap();
    tokio::time::sleep(Duration::from_millis(30)).await; // the proxy has it, waiting on the delay
    assert_eq!(proxy.stats().delayed, 1);
    proxy.shutdown().await;
    // Already there when shutdown returns (the delay ends 120 ms after shutdown began).
    server
        .set_so_timeout(Some(Duration::from_millis(5)))
        .unwrap();
    let mut inbox = DatagramPacket::with_capacity(100);
    server.receive(&mut inbox).unwrap();
    assert_eq!(inbox.data(), b"in flight");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delayed_datagrams_beyond_the_limit_are_dropped() {
    let server = DatagramSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    server.set_so_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut config = ProxyConfig::new("127.0.0.1:0".parse().unwrap(), server.local_addr().unwrap());
    config.faults.delay = Duration::from_millis(100);
    config.max_delayed = 2;
    let proxy = FaultProxy::spawn(config).await.unwrap();
    let client = DatagramSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    for d in [b"a", b"b", b"c", b"d"] {
        client.send_to(d, proxy.local_addr()).unwrap();
    }
    let mut inbox = DatagramPacket::with_capacity(10);
    let mut got = Vec::new();
    for _ in 0..2 {
        server.receive(&mut inbox).unwrap();
        got.push(inbox.data().to_vec());
    }
    got.sort(); // two timers ending together may fire in either order
    assert_eq!(got, [b"a".to_vec(), b"b".to_vec()]);
    server
        .set_so_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    assert!(matches!(server.receive(&mut inbox), Err(UdpError::Timeout)));
    let s = proxy.stats();
    assert_eq!((s.delayed, s.dropped), (2, 2));
}

//! The fault-injecting UDP proxy: determinism under a seed, duplicates, reordering, delay,
//! session limits and expiry, transcripts, shutdown. The peers are plain sockets.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use proxy::transcript::{Direction, Transcript};
use proxy::udp::{FaultProxy, Faults, ProxyConfig, ProxyHandle};

/// An echo server (RFC 862) on a tokio task; it lives as long as the test's runtime.
async fn echo_server(bind: &str) -> SocketAddr {
    let socket = tokio::net::UdpSocket::bind(bind).await.unwrap();
    let addr = socket.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65_536];
        while let Ok((len, from)) = socket.recv_from(&mut buf).await {
            let _ = socket.send_to(&buf[..len], from).await;
        }
    });
    addr
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

fn client(bind: &str, timeout: Duration) -> UdpSocket {
    let socket = UdpSocket::bind(bind).unwrap();
    socket.set_read_timeout(Some(timeout)).unwrap();
    socket
}

/// Sends `request` until its echo comes back (at most 20 tries); true if it did.
fn ask(socket: &UdpSocket, to: SocketAddr, request: &[u8]) -> bool {
    let mut buf = [0u8; 2048];
    for _ in 0..20 {
        socket.send_to(request, to).unwrap();
        while let Ok((len, _)) = socket.recv_from(&mut buf) {
            if &buf[..len] == request {
                return true;
            }
        }
    }
    false
}

/// `n` numbered requests, one after the other, each until answered.
fn requests(proxy: SocketAddr, n: u32) {
    let socket = client("127.0.0.1:0", Duration::from_millis(100));
    for i in 0..n {
        let msg = format!("request {i}");
        assert!(ask(&socket, proxy, msg.as_bytes()), "{msg} never answered");
    }
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
    let echo = echo_server("127.0.0.1:0").await;
    let lossy = Faults {
        loss: 0.3,
        seed,
        ..Faults::default()
    };
    let proxy = proxy_to(echo, lossy).await;
    let addr = proxy.local_addr();
    let mut back = tokio::task::spawn_blocking(move || {
        let c = client("127.0.0.1:0", Duration::from_millis(300));
        for i in 0..40u8 {
            c.send_to(&[i], addr).unwrap();
        }
        let mut buf = [0u8; 10];
        let mut back = Vec::new();
        while let Ok((len, _)) = c.recv_from(&mut buf) {
            back.extend_from_slice(&buf[..len]);
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
async fn every_datagram_is_doubled_when_duplication_is_certain() {
    let echo = echo_server("127.0.0.1:0").await;
    let doubling = Faults {
        duplicate: 1.0,
        ..Faults::default()
    };
    let proxy = proxy_to(echo, doubling).await;
    let addr = proxy.local_addr();
    let copies = tokio::task::spawn_blocking(move || {
        let c = client("127.0.0.1:0", Duration::from_millis(300));
        c.send_to(b"once", addr).unwrap();
        let mut buf = [0u8; 10];
        let mut copies = 0;
        while let Ok((len, _)) = c.recv_from(&mut buf) {
            assert_eq!(&buf[..len], b"once");
            copies += 1;
        }
        copies
    })
    .await
    .unwrap();
    let stats = proxy.shutdown().await;
    // Doubled on the way there, and each echo doubled on the way back.
    assert_eq!(copies, 4);
    assert_eq!((stats.forwarded, stats.duplicated), (3, 3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reordering_changes_the_order_but_loses_nothing() {
    let echo = echo_server("127.0.0.1:0").await;
    let shuffling = Faults {
        reorder: 0.3,
        seed: 5,
        ..Faults::default()
    };
    let proxy = proxy_to(echo, shuffling).await;
    let addr = proxy.local_addr();
    let (received, expected) = tokio::task::spawn_blocking(move || {
        let c = client("127.0.0.1:0", Duration::from_secs(2));
        let expected: Vec<Vec<u8>> = (0..30u8).map(|i| vec![i]).collect();
        for d in &expected {
            c.send_to(d, addr).unwrap();
        }
        let mut buf = [0u8; 10];
        let received: Vec<Vec<u8>> = (0..30)
            .map(|_| {
                let (len, _) = c.recv_from(&mut buf).unwrap();
                buf[..len].to_vec()
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
    let echo = echo_server("127.0.0.1:0").await;
    let slow = Faults {
        delay: Duration::from_millis(60),
        ..Faults::default()
    };
    let proxy = proxy_to(echo, slow).await;
    let addr = proxy.local_addr();
    let elapsed = tokio::task::spawn_blocking(move || {
        let c = client("127.0.0.1:0", Duration::from_secs(2));
        let start = Instant::now();
        c.send_to(b"slow", addr).unwrap();
        let mut buf = [0u8; 10];
        c.recv_from(&mut buf).unwrap();
        start.elapsed()
    })
    .await
    .unwrap();
    assert!(elapsed >= Duration::from_millis(120), "{elapsed:?}");
    assert_eq!(proxy.stats().delayed, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_beyond_the_limit_are_refused() {
    let echo = echo_server("127.0.0.1:0").await;
    let mut config = ProxyConfig::new("127.0.0.1:0".parse().unwrap(), echo);
    config.max_sessions = 2;
    let proxy = FaultProxy::spawn(config).await.unwrap();
    let addr = proxy.local_addr();
    let outcomes = tokio::task::spawn_blocking(move || {
        (0..3)
            .map(|_| {
                let c = client("127.0.0.1:0", Duration::from_millis(200));
                c.send_to(b"hi", addr).unwrap();
                let mut buf = [0u8; 10];
                c.recv_from(&mut buf).is_ok()
            })
            .collect::<Vec<bool>>()
    })
    .await
    .unwrap();
    // Each client's socket is closed at once, but its session lives until idle expiry: the
    // third client is refused.
    assert_eq!(outcomes, [true, true, false]);
    let s = proxy.stats();
    assert_eq!((s.sessions_opened, s.refused), (2, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sessions_expire() {
    let echo = echo_server("127.0.0.1:0").await;
    let mut config = ProxyConfig::new("127.0.0.1:0".parse().unwrap(), echo);
    config.idle = Duration::from_millis(50);
    let proxy = FaultProxy::spawn(config).await.unwrap();
    let addr = proxy.local_addr();
    let c = client("127.0.0.1:0", Duration::from_millis(100));
    let c = tokio::task::spawn_blocking(move || {
        assert!(ask(&c, addr, b"one"));
        c
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(proxy.stats().sessions_expired, 1);
    tokio::task::spawn_blocking(move || assert!(ask(&c, addr, b"two")))
        .await
        .unwrap();
    assert_eq!(
        proxy.stats().sessions_opened,
        2,
        "the same client got a new session"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv6_proxy_and_empty_datagrams() {
    let echo = echo_server("[::1]:0").await;
    let proxy = proxy_to(echo, Faults::default()).await;
    let addr = proxy.local_addr();
    assert!(addr.is_ipv6());
    tokio::task::spawn_blocking(move || {
        let c = client("[::1]:0", Duration::from_secs(2));
        let mut buf = [0u8; 100];
        for data in [&b""[..], b"\xff\x00garbage"] {
            c.send_to(data, addr).unwrap();
            let (len, _) = c.recv_from(&mut buf).unwrap();
            assert_eq!(&buf[..len], data);
        }
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_writes_the_transcript_format_one_record_per_datagram() {
    let echo = echo_server("127.0.0.1:0").await;
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
    tokio::task::spawn_blocking(move || requests(addr, 6))
        .await
        .unwrap();
    let stats = proxy.shutdown().await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_still_delivers_delayed_datagrams() {
    let server = client("127.0.0.1:0", Duration::from_secs(2));
    let mut config = ProxyConfig::new("127.0.0.1:0".parse().unwrap(), server.local_addr().unwrap());
    config.faults.delay = Duration::from_millis(150);
    let proxy = FaultProxy::spawn(config).await.unwrap();
    let sender = client("127.0.0.1:0", Duration::from_secs(2));
    sender.send_to(b"in flight", proxy.local_addr()).unwrap();
    tokio::time::sleep(Duration::from_millis(30)).await; // the proxy has it, waiting on the delay
    assert_eq!(proxy.stats().delayed, 1);
    proxy.shutdown().await;
    // Already there when shutdown returns (the delay ends 120 ms after shutdown began).
    server
        .set_read_timeout(Some(Duration::from_millis(5)))
        .unwrap();
    let mut buf = [0u8; 100];
    let (len, _) = server.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..len], b"in flight");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delayed_datagrams_beyond_the_limit_are_dropped() {
    let server = client("127.0.0.1:0", Duration::from_secs(2));
    let mut config = ProxyConfig::new("127.0.0.1:0".parse().unwrap(), server.local_addr().unwrap());
    config.faults.delay = Duration::from_millis(100);
    config.max_delayed = 2;
    let proxy = FaultProxy::spawn(config).await.unwrap();
    let sender = client("127.0.0.1:0", Duration::from_secs(2));
    for d in [b"a", b"b", b"c", b"d"] {
        sender.send_to(d, proxy.local_addr()).unwrap();
    }
    let mut buf = [0u8; 10];
    let mut got = Vec::new();
    for _ in 0..2 {
        let (len, _) = server.recv_from(&mut buf).unwrap();
        got.push(buf[..len].to_vec());
    }
    got.sort(); // two timers ending together may fire in either order
    assert_eq!(got, [b"a".to_vec(), b"b".to_vec()]);
    server
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let err = server.recv_from(&mut buf).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock, "{err}");
    let s = proxy.stats();
    assert_eq!((s.delayed, s.dropped), (2, 2));
}

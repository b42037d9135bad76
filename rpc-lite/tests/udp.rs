//! The UDP transport: retransmission and the at-most-once reply cache, through the udp
//! crate's fault-injecting proxy; garbage and oversized datagrams.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use bytes::Bytes;
use common::demo_service::{DemoError, demo};
use common::*;
use framing::{Long, Profile};
use proxy::udp::{FaultProxy, Faults, ProxyConfig};
use rpc_lite::registry::ServerStats;
use rpc_lite::udp_transport::{UdpChannel, UdpServerConfig};
use rpc_lite::{CallError, Channel, ErrorCode, Message, RpcError};
use tokio::net::UdpSocket;

#[tokio::test]
async fn through_a_lossy_duplicating_path_every_call_completes_and_runs_exactly_once() {
    let demo = udp_demo(UdpServerConfig::default()).await;
    let mut config = ProxyConfig::new("127.0.0.1:0".parse().unwrap(), demo.server.addr());
    config.faults = Faults {
        loss: 0.2,
        duplicate: 0.1,
        seed: 7,
        ..Faults::default()
    };
    let proxy = FaultProxy::spawn(config).await.unwrap();
    let channel = UdpChannel::connect(&proxy.local_addr().to_string())
        .await
        .unwrap();
    let client =
        demo::Client::new(Channel::Udp(channel.clone())).with_timeout(Duration::from_secs(20));

    const CALLS: u64 = 200;
    let mut tasks = Vec::new();
    for _ in 0..CALLS {
        let client = client.clone();
        tasks.push(tokio::spawn(async move { client.incr(1).await }));
    }
    let mut totals = BTreeSet::new();
    for task in tasks {
        totals.insert(task.await.unwrap().expect("every call completes"));
    }
    // incr is not idempotent: a second execution would skip or repeat a total.
    assert_eq!(totals, (1..=CALLS).collect::<BTreeSet<_>>());
    assert_eq!(
        demo.service.incr_executions(),
        CALLS,
        "each call executed exactly once"
    );
    assert_eq!(demo.service.counter(), CALLS);

    let faults = proxy.stats();
    assert!(faults.dropped > 0 && faults.duplicated > 0, "{faults:?}");
    assert!(
        channel.retransmissions() > 0,
        "losses were repaired by resending"
    );
    let replayed =
        ServerStats::get(&demo.stats.cache_hits) + ServerStats::get(&demo.stats.duplicates_running);
    assert!(
        replayed > 0,
        "duplicates were answered from the cache, not re-executed"
    );
}

#[tokio::test]
async fn udp_calls_errors_and_versions_behave_as_over_tcp() {
    let demo = udp_demo(UdpServerConfig::default()).await;
    let client = demo.client(rpc_lite::Transport::Udp).await;
    assert_eq!(client.add(Long(2), Long(3)).await.unwrap(), Long(5));
    assert_eq!(
        client
            .with_profile(Profile::BE32)
            .add(Long(2), Long(3))
            .await
            .unwrap(),
        Long(5)
    );
    assert!(matches!(
        client.divide(1, 0).await,
        Err(CallError::App(DemoError::DivisionByZero))
    ));
    let v9 = demo::Client::from_stub(client.stub().clone().with_version(9));
    assert!(matches!(
        v9.incr(1).await,
        Err(CallError::Rpc(RpcError::VersionMismatch {
            requested: 9,
            ..
        }))
    ));
    let slow = client.with_timeout(Duration::from_millis(100));
    assert!(matches!(
        slow.sleep(2000).await,
        Err(CallError::Rpc(RpcError::Timeout(_)))
    ));
}

#[tokio::test]
async fn garbage_datagrams_are_dropped_and_the_server_keeps_serving() {
    let demo = udp_demo(UdpServerConfig::default()).await;
    let raw = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    raw.connect(demo.server.addr()).await.unwrap();
    for garbage in [
        &b""[..],
        b"x",
        b"RPCL\x4c\x01\x00\x04\x01\x01",
        &[0xff; 100],
    ] {
        raw.send(garbage).await.unwrap();
    }
    // Readable length, unreadable header: bad label, version 2, unknown kind, reserved.
    let good = raw_call(Profile::BE32, 3, 1, &(Long(1), Long(1))).to_vec();
    for (at, byte) in [(6, 7), (8, 2), (9, 4), (10, 1)] {
        let mut bad = good.clone();
        bad[at] = byte;
        raw.send(&bad).await.unwrap();
    }
    // A reply is not a call: dropped too (no answer, no loop between two servers).
    let mut reply = good.clone();
    reply[9] = 2;
    raw.send(&reply).await.unwrap();
    raw.send(&raw_call(
        Profile::BE32,
        4,
        demo::procedure::add,
        &(Long(1), Long(1)),
    ))
    .await
    .unwrap();
    let mut buf = [0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(5), raw.recv(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let answer = Message::decode(Bytes::copy_from_slice(&buf[..n])).unwrap();
    assert_eq!(answer.header.call_id, 4, "only the valid call was answered");
    assert_eq!(ServerStats::get(&demo.stats.rejected), 8);
}

/// Receives one datagram within `wait`, decoded; `None` if nothing arrives.
async fn recv_answer(socket: &UdpSocket, wait: Duration) -> Option<Message> {
    let mut buf = vec![0u8; 65_536];
    let n = tokio::time::timeout(wait, socket.recv(&mut buf))
        .await
        .ok()?
        .unwrap();
    Some(Message::decode(Bytes::copy_from_slice(&buf[..n])).unwrap())
}

/// PROTOCOL.md section 8: call id 0 is reserved; over UDP such a call is dropped (TCP
/// would answer on id 0 and close, but there is no connection to close) and never runs.
#[tokio::test]
async fn a_call_with_the_reserved_id_0_is_dropped_and_not_run() {
    let demo = udp_demo(UdpServerConfig::default()).await;
    let raw = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    raw.connect(demo.server.addr()).await.unwrap();
    let call = raw_call(Profile::LE64, 0, demo::procedure::incr, &(1u64,));
    raw.send(&call).await.unwrap();
    assert!(
        recv_answer(&raw, Duration::from_millis(300))
            .await
            .is_none()
    );
    assert_eq!(demo.service.incr_executions(), 0);
    assert_eq!(ServerStats::get(&demo.stats.rejected), 1);
    raw.send(&raw_call(Profile::LE64, 1, demo::procedure::incr, &(1u64,)))
        .await
        .unwrap();
    let answer = recv_answer(&raw, Duration::from_secs(5)).await.unwrap();
    assert_eq!(answer.header.call_id, 1);
    assert_eq!(&answer.body[..], &1u64.to_le_bytes());
}

/// A call that fits the datagram limit but whose reply does not (the description with a
/// 256-byte limit) gets TOO_LARGE on its own id, like over TCP. A limit below 256 is
/// raised to it.
#[tokio::test]
async fn a_reply_over_the_datagram_limit_is_too_large_on_its_own_id() {
    for max_datagram in [256, 10] {
        let config = UdpServerConfig {
            max_datagram,
            ..UdpServerConfig::default()
        };
        let demo = udp_demo(config).await;
        let raw = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        raw.connect(demo.server.addr()).await.unwrap();
        raw.send(&raw_call(Profile::BE32, 8, 0, &())).await.unwrap();
        let answer = recv_answer(&raw, Duration::from_secs(5)).await.unwrap();
        assert_eq!(
            (answer.header.call_id, fault_code(&answer)),
            (8, ErrorCode::TooLarge as u32)
        );
    }
}

#[tokio::test]
async fn oversized_datagrams_get_too_large() {
    let config = UdpServerConfig {
        max_datagram: 512,
        ..UdpServerConfig::default()
    };
    let demo = udp_demo(config).await;
    let client = demo.client(rpc_lite::Transport::Udp).await;
    assert_eq!(
        client
            .echo(Bytes::from(vec![1u8; 512 - 40]))
            .await
            .unwrap()
            .len(),
        472
    );
    match client.echo(Bytes::from(vec![1u8; 513 - 40])).await {
        Err(CallError::Rpc(RpcError::TooLarge(_))) => {}
        other => panic!("expected TooLarge, got {other:?}"),
    }
    // The client refuses what no datagram can carry, without sending.
    let huge = client.echo(Bytes::from(vec![0u8; 70_000])).await;
    assert!(matches!(huge, Err(CallError::Rpc(RpcError::TooLarge(_)))));
    let raw = client.stub().call_raw(42, Bytes::new()).await.unwrap();
    assert_eq!(fault_code(&raw), ErrorCode::UnknownProcedure as u32);
}

#[tokio::test]
async fn a_retransmission_of_a_finished_call_gets_the_cached_reply() {
    let demo = udp_demo(UdpServerConfig::default()).await;
    let raw = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    raw.connect(demo.server.addr()).await.unwrap();
    let call = raw_call(Profile::LE64, 77, demo::procedure::incr, &(10u64,));
    let mut answers = Vec::new();
    for _ in 0..3 {
        raw.send(&call).await.unwrap();
        let mut buf = [0u8; 256];
        let n = tokio::time::timeout(Duration::from_secs(5), raw.recv(&mut buf))
            .await
            .unwrap()
            .unwrap();
        answers.push(buf[..n].to_vec());
    }
    assert!(
        answers.iter().all(|a| *a == answers[0]),
        "identical answers"
    );
    assert_eq!(demo.service.counter(), 10, "executed once");
    assert_eq!(ServerStats::get(&demo.stats.cache_hits), 2);
}

/// The BUSY answer of PROTOCOL.md section 8: code 8, detail `u32` milliseconds.
fn busy_retry_after(answer: &Message) -> u32 {
    assert_eq!(fault_code(answer), ErrorCode::Busy as u32);
    let fault = rpc_lite::Fault::decode(answer.body.clone(), answer.header.profile).unwrap();
    framing::from_bytes(fault.detail, answer.header.profile).unwrap()
}

/// A raw socket that sends `count` calls of `procedure` with fresh ids and collects
/// the answers (in chunks, so that neither socket buffer overflows).
async fn flood<A: framing::Wire>(
    socket: &UdpSocket,
    first_id: u64,
    count: u64,
    procedure: u32,
    args: &A,
) -> Vec<(usize, usize, Message)> {
    let mut answers = Vec::new();
    for chunk in (0..count).collect::<Vec<_>>().chunks(32) {
        let mut sizes = Vec::new();
        for &i in chunk {
            let call = raw_call(Profile::LE64, first_id + i, procedure, args);
            sizes.push(call.len());
            socket.send(&call).await.unwrap();
        }
        for &size in &sizes {
            let mut buf = vec![0u8; 65_536];
            let n = tokio::time::timeout(Duration::from_secs(5), socket.recv(&mut buf))
                .await
                .expect("every call is answered (reply or BUSY)")
                .unwrap();
            let answer = Message::decode(Bytes::copy_from_slice(&buf[..n])).unwrap();
            answers.push((size, n, answer));
        }
    }
    answers
}

async fn raw_socket(server: std::net::SocketAddr) -> UdpSocket {
    let raw = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    raw.connect(server).await.unwrap();
    raw
}

/// One source sending 256 slow calls (the server's whole in-flight bound) takes only its
/// share of slots: the rest get BUSY at once, and another caller's calls are answered.
#[tokio::test]
async fn one_source_of_slow_calls_takes_only_its_share_of_the_in_flight_slots() {
    let demo = udp_demo(UdpServerConfig::default()).await;
    let attacker = raw_socket(demo.server.addr()).await;
    let slots = rpc_lite::udp_transport::DEFAULT_UDP_MAX_IN_FLIGHT as u64;
    let share = rpc_lite::udp_transport::DEFAULT_UDP_MAX_IN_FLIGHT_PER_SOURCE;
    // Send them all first: the sleeping ones do not answer until 60 s from now.
    for id in 1..=slots {
        let call = raw_call(Profile::LE64, id, demo::procedure::sleep, &(60_000u32,));
        attacker.send(&call).await.unwrap();
        if id % 32 == 0 {
            tokio::task::yield_now().await; // let the server read (its buffer is finite)
        }
    }
    let mut busy = 0;
    while let Some(answer) = recv_answer(&attacker, Duration::from_millis(500)).await {
        assert_eq!(busy_retry_after(&answer), 100);
        busy += 1;
    }
    assert_eq!(
        busy,
        slots as usize - share,
        "all but the share were refused"
    );
    let client = demo
        .client(rpc_lite::Transport::Udp)
        .await
        .with_timeout(Duration::from_secs(3));
    for i in 0..15 {
        assert_eq!(client.add(Long(i), Long(1)).await.unwrap(), Long(i + 1));
    }
    assert_eq!(ServerStats::get(&demo.stats.busy), busy as u64);
}

/// A caller told BUSY waits as long as the server asked, resends the same call, and
/// gets it run once when a slot frees up; one that stays refused until its deadline
/// gets `RpcError::Busy`, not a plain timeout.
#[tokio::test(start_paused = true)]
async fn a_busy_caller_backs_off_and_resends_until_a_slot_is_free() {
    let config = UdpServerConfig {
        max_in_flight: 1,
        ..UdpServerConfig::default()
    };
    let demo = udp_demo(config).await;
    let client = demo.client(rpc_lite::Transport::Udp).await;
    let sleeper = {
        let client = client.clone();
        tokio::spawn(async move { client.sleep(1_000).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = tokio::time::Instant::now();
    assert_eq!(client.incr(1).await.unwrap(), 1);
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "waited for the slot"
    );
    assert_eq!(sleeper.await.unwrap().unwrap(), 1_000);
    let refusals = ServerStats::get(&demo.stats.busy);
    // About one resend per 100 ms asked for (jitter +-20 %), not one per 20 ms backoff.
    assert!(
        (5..=12).contains(&refusals),
        "{refusals} BUSY answers in 950 ms"
    );
    assert_eq!(demo.service.incr_executions(), 1);

    let hog = {
        let client = client.clone();
        tokio::spawn(async move { client.sleep(60_000).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    let impatient = client.with_timeout(Duration::from_secs(1));
    match impatient.incr(1).await {
        Err(CallError::Rpc(RpcError::Busy { retry_after })) => {
            assert_eq!(retry_after, Duration::from_millis(100))
        }
        other => panic!("expected Busy, got {other:?}"),
    }
    hog.abort();
}

/// At-most-once under cache pressure: a second source sends 5,000 calls beyond the
/// cache's per-source share, yet the victim's entry stays: its retransmitted `incr`
/// gets the cached answer and runs once. (Before the share and the no-eviction rule, a
/// flood of 5,000 evicted the victim's entry and the `incr` ran twice.)
#[tokio::test]
async fn a_flood_from_another_source_cannot_evict_a_callers_entry() {
    let demo = udp_demo(UdpServerConfig::default()).await;
    let victim = raw_socket(demo.server.addr()).await;
    let call = raw_call(Profile::LE64, 7, demo::procedure::incr, &(1u64,));
    victim.send(&call).await.unwrap();
    let first = recv_answer(&victim, Duration::from_secs(5)).await.unwrap();

    let flooder = raw_socket(demo.server.addr()).await;
    let share = rpc_lite::udp_transport::DEFAULT_CACHE_PER_SOURCE;
    let sent = share as u64 + 5_000;
    let answers = flood(&flooder, 1, sent, demo::procedure::add, &(Long(1), Long(2))).await;
    let busy = answers
        .iter()
        .filter(|(_, _, a)| a.header.kind == rpc_lite::Kind::Error)
        .inspect(|(_, _, a)| assert_eq!(busy_retry_after(a), 100))
        .count();
    assert_eq!((answers.len() - busy, busy), (share, 5_000));

    victim.send(&call).await.unwrap();
    let again = recv_answer(&victim, Duration::from_secs(5)).await.unwrap();
    assert_eq!(again, first, "the cached answer, not a second run");
    assert_eq!(demo.service.incr_executions(), 1);
    assert_eq!(demo.service.counter(), 1);
}

/// Every source together cannot evict either: a full cache refuses new calls with BUSY
/// (and takes them again once entries' windows close).
#[tokio::test(start_paused = true)]
async fn a_full_cache_refuses_new_calls_until_windows_close() {
    let config = UdpServerConfig {
        cache: rpc_lite::udp_transport::CacheLimits {
            capacity: 8,
            per_source: 4,
            ..Default::default()
        },
        ..UdpServerConfig::default()
    };
    let demo = udp_demo(config).await;
    let victim = raw_socket(demo.server.addr()).await;
    let call = raw_call(Profile::LE64, 1, demo::procedure::incr, &(1u64,));
    victim.send(&call).await.unwrap();
    let first = recv_answer(&victim, Duration::from_secs(5)).await.unwrap();
    for port in 0..3 {
        let other = raw_socket(demo.server.addr()).await;
        let answers = flood(
            &other,
            100 * port + 100,
            6,
            demo::procedure::add,
            &(Long(1), Long(2)),
        )
        .await;
        let busy = answers
            .iter()
            .filter(|(_, _, a)| a.header.kind == rpc_lite::Kind::Error)
            .count();
        // 4, 3, then 0 fit beside the victim's entry.
        assert_eq!(busy, [2, 3, 6][port as usize], "source {port}");
    }
    victim.send(&call).await.unwrap();
    assert_eq!(
        recv_answer(&victim, Duration::from_secs(5)).await.unwrap(),
        first
    );
    // raw_call sends a 10 s deadline: after it, every window has closed.
    tokio::time::sleep(Duration::from_secs(11)).await;
    let late = raw_socket(demo.server.addr()).await;
    let answers = flood(&late, 1, 4, demo::procedure::add, &(Long(1), Long(2))).await;
    assert!(
        answers
            .iter()
            .all(|(_, _, a)| a.header.kind == rpc_lite::Kind::Reply)
    );
    assert_eq!(demo.service.incr_executions(), 1);
}

/// No reflection amplification: no answer is larger than 3x the datagram that asked
/// for it. `describe` (36 bytes in, ~420 out) and a `get` of a long value get a short
/// TOO_LARGE instead; over TCP both work.
#[tokio::test]
async fn no_answer_is_larger_than_three_times_its_datagram() {
    let demo = udp_demo(UdpServerConfig::default()).await;
    let raw = raw_socket(demo.server.addr()).await;
    let describe = raw_call(Profile::LE64, 1, 0, &());
    raw.send(&describe).await.unwrap();
    let mut buf = vec![0u8; 65_536];
    let n = tokio::time::timeout(Duration::from_secs(5), raw.recv(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert!(
        n <= 3 * describe.len(),
        "{n} bytes back for {}",
        describe.len()
    );
    let answer = Message::decode(Bytes::copy_from_slice(&buf[..n])).unwrap();
    assert_eq!(
        (answer.header.call_id, fault_code(&answer)),
        (1, ErrorCode::TooLarge as u32)
    );

    let client = demo.client(rpc_lite::Transport::Udp).await;
    client.put("k".into(), "v".repeat(1_000)).await.unwrap();
    match client.get("k".into()).await {
        Err(CallError::Rpc(RpcError::TooLarge(_))) => {}
        other => panic!("expected TooLarge, got {other:?}"),
    }
    assert!(matches!(
        client.describe().await,
        Err(RpcError::TooLarge(_))
    ));
    // Echo earns its reply: the answer is the call's size.
    assert_eq!(
        client
            .echo(Bytes::from(vec![7u8; 1_000]))
            .await
            .unwrap()
            .len(),
        1_000
    );
    // Every answer of the floods above respected the limit too.
    let answers = flood(&raw, 10, 64, demo::procedure::incr, &(1u64,)).await;
    assert!(answers.iter().all(|(sent, got, _)| *got <= 3 * sent));
}

/// A connected UDP socket hears the ICMP "port unreachable" as ECONNREFUSED: a call to
/// a port where nothing listens fails at once, not at its deadline.
#[tokio::test(start_paused = true)]
async fn a_call_to_a_port_where_nothing_listens_is_refused_at_once() {
    let closed = {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.local_addr().unwrap()
    }; // bound, then closed: nothing listens there now
    let channel = UdpChannel::connect(&closed.to_string()).await.unwrap();
    let client = demo::Client::new(Channel::Udp(channel)).with_timeout(Duration::from_secs(10));
    let started = tokio::time::Instant::now();
    match client.add(Long(1), Long(2)).await {
        Err(CallError::Rpc(RpcError::Refused { peer })) => assert_eq!(peer, closed),
        other => panic!("expected Refused, got {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "before the deadline"
    );
}

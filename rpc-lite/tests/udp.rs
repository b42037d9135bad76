//! The UDP transport: retransmission and the at-most-once reply cache, through the udp
//! crate's fault-injecting proxy; garbage and oversized datagrams.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use framing::{Long, Profile};
use proxy::udp::{FaultProxy, Faults, ProxyConfig};
use rpc_lite::demo_service::{DemoError, demo};
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
    assert_eq!(client.describe().await.unwrap().procedures.len(), 8);
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

#[tokio::test]
async fn calls_over_the_udp_in_flight_bound_are_dropped_and_retried() {
    let config = UdpServerConfig {
        max_in_flight: 1,
        ..UdpServerConfig::default()
    };
    let demo = udp_demo(config).await;
    let client = demo.client(rpc_lite::Transport::Udp).await;
    let sleeper = {
        let client = client.clone();
        tokio::spawn(async move { client.sleep(200).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    // The one slot is taken: this call is dropped until a retransmission finds it free.
    assert_eq!(client.incr(1).await.unwrap(), 1);
    assert_eq!(sleeper.await.unwrap().unwrap(), 200);
    assert!(ServerStats::get(&demo.stats.busy_dropped) >= 1);
    assert_eq!(demo.service.incr_executions(), 1);
}

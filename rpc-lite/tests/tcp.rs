//! The TCP transport end to end: multiplexing, completion order, deadlines on both
//! sides, version mismatch, introspection, typed errors, hostile peers.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::demo_service::{DEMO_PROGRAM, DemoError, demo};
use common::*;
use framing::{Long, Profile};
use rpc_lite::registry::ServerStats;
use rpc_lite::tcp_transport::TcpServerConfig;
use rpc_lite::{CallError, ErrorCode, RpcError, Stub, Transport};
use tokio::net::TcpStream;

#[tokio::test]
async fn a_thousand_concurrent_calls_over_one_connection_are_all_matched() {
    let demo = tcp_demo(TcpServerConfig::default()).await;
    let client = demo.client(Transport::Tcp).await;
    let mut tasks = Vec::new();
    for i in 0..1000i64 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            // Every 10th call sleeps, so replies overtake each other.
            if i % 10 == 0 {
                let ms = (i % 70) as u32;
                assert_eq!(client.sleep(ms).await.unwrap(), ms);
            }
            let sum = client.add(Long(i), Long(i * 1000)).await.unwrap();
            let payload = Bytes::from(format!("call {i}"));
            let echoed = client.echo(payload.clone()).await.unwrap();
            (i, sum.0, echoed == payload)
        }));
    }
    for task in tasks {
        let (i, sum, echoed) = task.await.unwrap();
        assert_eq!(sum, i * 1001, "reply matched to the wrong call");
        assert!(echoed);
    }
}

#[tokio::test]
async fn replies_are_written_in_completion_order() {
    let demo = tcp_demo(TcpServerConfig::default()).await;
    let mut stream = TcpStream::connect(demo.server.addr()).await.unwrap();
    let slow = raw_call(Profile::BE32, 1, demo::procedure::sleep, &(200u32,));
    let fast = raw_call(Profile::BE32, 2, demo::procedure::add, &(Long(2), Long(3)));
    let mut both = framed(&slow);
    both.extend(framed(&fast));
    send_raw(&mut stream, &both).await;
    let first = read_frame(&mut stream).await.unwrap();
    let second = read_frame(&mut stream).await.unwrap();
    assert_eq!(first.header.call_id, 2, "the fast call's reply comes first");
    assert_eq!(&first.body[..], &[0, 0, 0, 5]);
    assert_eq!(second.header.call_id, 1);
}

#[tokio::test]
async fn the_client_stops_waiting_at_its_deadline() {
    let demo = tcp_demo(TcpServerConfig::default()).await;
    let client = demo
        .client(Transport::Tcp)
        .await
        .with_timeout(Duration::from_millis(100));
    match client.sleep(3000).await {
        Err(CallError::Rpc(RpcError::Timeout(d))) => assert_eq!(d, Duration::from_millis(100)),
        other => panic!("expected a timeout, got {other:?}"),
    }
    // The server cancelled the sleeping call at the same deadline.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(ServerStats::get(&demo.stats.expired), 1);
}

#[tokio::test]
async fn the_server_drops_calls_whose_deadline_passed_while_queued() {
    let config = TcpServerConfig {
        max_in_flight: 1,
        ..TcpServerConfig::default()
    };
    let demo = tcp_demo(config).await;
    let client = demo.client(Transport::Tcp).await;
    let sleeper = {
        let client = client.clone();
        tokio::spawn(async move { client.sleep(300).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    // Queued behind the sleep (in-flight bound 1); its 50 ms run out before it starts.
    let impatient = client.with_timeout(Duration::from_millis(50));
    assert!(matches!(
        impatient.incr(1).await,
        Err(CallError::Rpc(RpcError::Timeout(_)))
    ));
    assert_eq!(sleeper.await.unwrap().unwrap(), 300);
    // A later call proves the queued one was handled (dropped) before it.
    assert_eq!(
        client.incr(5).await.unwrap(),
        5,
        "the expired incr never ran"
    );
    assert_eq!(demo.service.incr_executions(), 1);
    assert_eq!(ServerStats::get(&demo.stats.expired), 1);
}

/// A service that measures, on the server side, how many of its calls run at once.
mod gauge {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use rpc_lite::service;

    /// No application errors.
    #[derive(Debug)]
    pub struct Never;
    impl std::fmt::Display for Never {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("never")
        }
    }
    impl framing::Wire for Never {
        fn encode(
            &self,
            _: &mut bytes::BytesMut,
            _: framing::Profile,
        ) -> Result<(), framing::WireError> {
            Ok(())
        }
        fn decode(_: &mut bytes::Bytes, _: framing::Profile) -> Result<Self, framing::WireError> {
            Ok(Never)
        }
    }

    service! {
        /// Runs for a while and counts how many run at the same time.
        pub mod gauge(program = 0x2000_0099, version = 1, error = Never) {
            /// Holds a slot for `ms` milliseconds.
            fn hold(ms: u32) -> u32 = 1;
        }
    }

    /// Calls running now, and the most ever running at once (the high-water mark).
    #[derive(Default)]
    pub struct Gauge {
        pub running: AtomicUsize,
        pub most: AtomicUsize,
    }

    impl gauge::Service for std::sync::Arc<Gauge> {
        async fn hold(&self, ms: u32) -> Result<u32, Never> {
            let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
            self.most.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(u64::from(ms))).await;
            self.running.fetch_sub(1, Ordering::SeqCst);
            Ok(ms)
        }
    }
}

/// The server runs at most `max_in_flight` calls of one connection at once. Measured
/// exactly: the procedure itself keeps the high-water mark (a reply not yet collected by
/// its caller does not count as running). Paused time: the holds end in virtual time.
#[tokio::test(start_paused = true)]
async fn the_in_flight_bound_is_never_exceeded() {
    use std::sync::Arc;
    use std::sync::atomic::Ordering;
    let meter = Arc::new(gauge::Gauge::default());
    let registry = rpc_lite::Registry::new().with(gauge::gauge::Server::new(meter.clone()));
    let config = TcpServerConfig {
        max_in_flight: 3,
        ..TcpServerConfig::default()
    };
    let server = rpc_lite::tcp_transport::spawn("127.0.0.1:0".parse().unwrap(), registry, config)
        .await
        .unwrap();
    let channel = rpc_lite::Channel::connect(&server.addr().to_string(), Transport::Tcp)
        .await
        .unwrap();
    let client = gauge::gauge::Client::new(channel);
    let calls: Vec<_> = (0..9)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.hold(100).await })
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.unwrap().unwrap(), 100);
    }
    assert_eq!(
        meter.most.load(Ordering::SeqCst),
        3,
        "the bound, reached and not crossed"
    );
    assert_eq!(meter.running.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn application_errors_arrive_typed() {
    let demo = tcp_demo(TcpServerConfig::default()).await;
    let client = demo.client(Transport::Tcp).await;
    assert!(matches!(
        client.divide(1, 0).await,
        Err(CallError::App(DemoError::DivisionByZero))
    ));
    assert!(matches!(
        client.divide(i64::MIN, -1).await,
        Err(CallError::App(DemoError::Overflow))
    ));
    assert!(matches!(
        client.sleep(61_000).await,
        Err(CallError::App(DemoError::TooLong { max_ms: 60_000 }))
    ));
    assert_eq!(client.divide(-7, 2).await.unwrap(), -3);
}

#[tokio::test]
async fn the_key_value_store_is_bounded() {
    let service = std::sync::Arc::new(common::demo_service::DemoService::new(2));
    let registry = rpc_lite::Registry::new().with(demo::Server::from_arc(service));
    let (channel, _server) = rpc_lite::Channel::in_process(registry).await.unwrap();
    let client = demo::Client::new(channel);
    assert_eq!(client.put("a".into(), "1".into()).await.unwrap(), None);
    assert_eq!(client.put("b".into(), "2".into()).await.unwrap(), None);
    assert!(matches!(
        client.put("c".into(), "3".into()).await,
        Err(CallError::App(DemoError::StoreFull { limit: 2 }))
    ));
    // Replacing the value of a key already stored adds no key: it succeeds when full.
    assert_eq!(
        client.put("a".into(), "9".into()).await.unwrap(),
        Some("1".into())
    );
    assert_eq!(client.get("a".into()).await.unwrap(), Some("9".into()));
    assert!(client.delete("a".into()).await.unwrap());
    assert!(!client.delete("a".into()).await.unwrap());
    assert_eq!(client.get("a".into()).await.unwrap(), None);
    // The delete freed a place for a new key; the store is full again after it.
    assert_eq!(client.put("c".into(), "3".into()).await.unwrap(), None);
    assert!(matches!(
        client.put("d".into(), "4".into()).await,
        Err(CallError::App(DemoError::StoreFull { limit: 2 }))
    ));
}

/// The store is bounded in bytes too: with the default bound (64 MiB), 1 MiB values
/// stop fitting after 64 of them, far below the key limit; replacing or deleting a value
/// gives its bytes back.
#[tokio::test]
async fn the_key_value_store_is_bounded_in_bytes() {
    use common::demo_service::{DEFAULT_MAX_STORE_BYTES, DemoService};
    let service = std::sync::Arc::new(DemoService::default());
    let registry = rpc_lite::Registry::new().with(demo::Server::from_arc(service.clone()));
    let (channel, _server) = rpc_lite::Channel::in_process(registry).await.unwrap();
    let client = demo::Client::new(channel);
    let big = "x".repeat((1 << 20) - 100); // fits a 1 MiB frame with its header
    // At most 100 tries (100 MiB), so that a store without the bound fails the test
    // instead of filling the machine.
    let mut stored = 0;
    let mut refused = None;
    for i in 0..100 {
        match client.put(format!("k{i}"), big.clone()).await {
            Ok(None) => stored += 1,
            other => {
                refused = Some(other);
                break;
            }
        }
        assert!(service.store_bytes() <= DEFAULT_MAX_STORE_BYTES);
    }
    let max_bytes = DEFAULT_MAX_STORE_BYTES as u64;
    assert!(
        matches!(refused, Some(Err(CallError::App(DemoError::StoreBytesFull { max_bytes: m }))) if m == max_bytes),
        "{refused:?}"
    );
    // Exactly as many as fit, counting each key's overhead.
    let per_entry = big.len() + common::demo_service::STORE_ENTRY_OVERHEAD;
    assert!(stored * per_entry <= DEFAULT_MAX_STORE_BYTES);
    assert!((stored + 1) * per_entry > DEFAULT_MAX_STORE_BYTES);
    // A smaller value for a stored key fits and frees bytes; a delete frees the rest.
    assert!(
        client
            .put("k0".into(), "small".into())
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        client.put(format!("k{stored}"), big.clone()).await.unwrap(),
        None
    );
    assert!(client.delete("k0".into()).await.unwrap());
    assert!(service.store_bytes() <= DEFAULT_MAX_STORE_BYTES);
}

#[tokio::test]
async fn a_version_the_server_does_not_serve_is_a_version_mismatch() {
    let demo = tcp_demo(TcpServerConfig::default()).await;
    let client = demo.client(Transport::Tcp).await;
    let v2 = demo::Client::from_stub(client.stub().clone().with_version(2));
    match v2.add(Long(1), Long(2)).await {
        Err(CallError::Rpc(RpcError::VersionMismatch {
            requested: 2,
            served,
        })) => assert_eq!(served, vec![1]),
        other => panic!("expected a version mismatch, got {other:?}"),
    }
    let elsewhere = Stub::new(client.stub().channel().clone(), 0x3000_0000, 1);
    assert!(matches!(
        elsewhere.describe().await,
        Err(RpcError::UnknownProgram {
            program: 0x3000_0000
        })
    ));
    let raw = client.stub().call_raw(99, Bytes::new()).await.unwrap();
    assert_eq!(fault_code(&raw), ErrorCode::UnknownProcedure as u32);
}

#[tokio::test]
async fn introspection_lists_every_procedure() {
    let demo = tcp_demo(TcpServerConfig::default()).await;
    let description = demo.client(Transport::Tcp).await.describe().await.unwrap();
    assert_eq!(
        (
            description.name.as_str(),
            description.program,
            description.version
        ),
        ("demo", DEMO_PROGRAM, 1)
    );
    let names: Vec<_> = description
        .procedures
        .iter()
        .map(|p| (p.number, p.name.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            (1, "add"),
            (2, "divide"),
            (3, "get"),
            (4, "put"),
            (5, "delete"),
            (6, "echo"),
            (7, "sleep"),
            (8, "incr")
        ]
    );
    assert_eq!(
        description.procedures[0].signature,
        "add(a: Long, b: Long) -> Long"
    );
}

#[tokio::test]
async fn callers_of_every_representation_are_understood() {
    let demo = tcp_demo(TcpServerConfig::default()).await;
    let client = demo.client(Transport::Tcp).await;
    for profile in [Profile::BE32, Profile::LE32, Profile::BE64, Profile::LE64] {
        let c = client.with_profile(profile);
        assert_eq!(
            c.add(Long(-2), Long(40)).await.unwrap(),
            Long(38),
            "{profile}"
        );
        assert_eq!(
            c.put("k".into(), profile.to_string())
                .await
                .unwrap()
                .is_some(),
            profile != Profile::BE32
        );
    }
    // A sum that fits 64 bits but not a 32-bit caller's long.
    let narrow = client.with_profile(Profile::BE32);
    assert!(matches!(
        narrow.add(Long(i32::MAX.into()), Long(1)).await,
        Err(CallError::Rpc(RpcError::Unrepresentable(_)))
    ));
    let wide = client.with_profile(Profile::LE64);
    assert_eq!(
        wide.add(Long(i32::MAX.into()), Long(1)).await.unwrap(),
        Long(1 << 31)
    );
}

#[tokio::test]
async fn undecodable_arguments_fail_that_call_only() {
    let demo = tcp_demo(TcpServerConfig::default()).await;
    let mut stream = TcpStream::connect(demo.server.addr()).await.unwrap();
    let bad = raw_call(Profile::LE64, 7, demo::procedure::add, &(1u8,));
    send_raw(&mut stream, &framed(&bad)).await;
    let answer = read_frame(&mut stream).await.unwrap();
    assert_eq!(
        (answer.header.call_id, fault_code(&answer)),
        (7, ErrorCode::BadRequest as u32)
    );
    let good = raw_call(Profile::LE64, 8, demo::procedure::add, &(Long(1), Long(1)));
    send_raw(&mut stream, &framed(&good)).await;
    let answer = read_frame(&mut stream).await.unwrap();
    assert_eq!(answer.header.call_id, 8);
    assert_eq!(&answer.body[..], &2i64.to_le_bytes());
}

/// Sends `bytes` on a fresh connection; expects one error with call id 0, then EOF.
async fn expect_refusal(addr: std::net::SocketAddr, bytes: &[u8], code: ErrorCode) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    send_raw(&mut stream, bytes).await;
    let answer = read_frame(&mut stream)
        .await
        .expect("an error before the close");
    assert_eq!(
        (answer.header.call_id, fault_code(&answer)),
        (0, code as u32)
    );
    assert!(
        read_frame(&mut stream).await.is_none(),
        "then the server closes"
    );
}

#[tokio::test]
async fn malformed_and_oversized_frames_close_only_their_connection() {
    let config = TcpServerConfig {
        max_frame: 1024,
        ..TcpServerConfig::default()
    };
    let demo = tcp_demo(config).await;
    let bystander = demo.client(Transport::Tcp).await;
    assert_eq!(bystander.add(Long(1), Long(1)).await.unwrap(), Long(2));

    let addr = demo.server.addr();
    expect_refusal(
        addr,
        &framed(b"GET / HTTP/1.1\r\n\r\n garbage, not a message"),
        ErrorCode::BadRequest,
    )
    .await;
    let mut wrong_kind = raw_call(Profile::BE32, 5, 1, &()).to_vec();
    wrong_kind[9] = 9;
    expect_refusal(addr, &framed(&wrong_kind), ErrorCode::BadRequest).await;
    expect_refusal(addr, &framed(b"RPC"), ErrorCode::BadRequest).await;
    // A lying length: 4 GiB announced; refused before any allocation.
    expect_refusal(
        addr,
        &[0xff, 0xff, 0xff, 0xff, 1, 2, 3],
        ErrorCode::TooLarge,
    )
    .await;
    // Just over the configured 1024-byte bound.
    let big = raw_call(
        Profile::LE64,
        1,
        demo::procedure::echo,
        &(Bytes::from(vec![0u8; 1024]),),
    );
    expect_refusal(addr, &framed(&big), ErrorCode::TooLarge).await;
    // Just under it works.
    let fits = bystander
        .echo(Bytes::from(vec![7u8; 1024 - 36 - 4]))
        .await
        .unwrap();
    assert_eq!(fits.len(), 1024 - 40);
    let ok = bystander.add(Long(2), Long(2)).await.unwrap();
    assert_eq!(ok, Long(4), "the bystander's connection survived all of it");
}

/// Sends `bytes` on a fresh connection; expects one error with call id 0 (program,
/// version, procedure 0) whose label is `label`, then EOF. Returns the error.
async fn expect_refusal_in(
    addr: std::net::SocketAddr,
    bytes: &[u8],
    code: ErrorCode,
    label: Profile,
) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    send_raw(&mut stream, bytes).await;
    let answer = read_frame(&mut stream)
        .await
        .expect("an error before the close");
    let h = answer.header;
    assert_eq!(
        (h.call_id, h.program, h.version, h.procedure, h.profile),
        (0, 0, 0, 0, label),
        "{answer:?}"
    );
    assert_eq!(fault_code(&answer), code as u32);
    assert!(
        read_frame(&mut stream).await.is_none(),
        "then the server closes"
    );
}

/// PROTOCOL.md section 5: a header this version cannot read is refused on call id 0 and
/// the connection closed; the answer is in the frame's label whenever bytes 4..8 are a
/// valid label (whatever else is wrong), big-endian 64-bit otherwise.
#[tokio::test]
async fn unreadable_headers_are_refused_on_id_0_in_the_label_if_readable() {
    let demo = tcp_demo(TcpServerConfig::default()).await;
    let addr = demo.server.addr();
    let good = raw_call(Profile::LE32, 5, demo::procedure::add, &(Long(1), Long(2))).to_vec();
    let corrupt = |at: usize, byte: u8| {
        let mut bytes = good.clone();
        bytes[at] = byte;
        framed(&bytes)
    };
    let bad_request = ErrorCode::BadRequest;
    expect_refusal_in(addr, &corrupt(0, b'X'), bad_request, Profile::LE32).await;
    expect_refusal_in(addr, &corrupt(6, 7), bad_request, Profile::BE64).await;
    expect_refusal_in(addr, &corrupt(8, 2), bad_request, Profile::LE32).await;
    expect_refusal_in(addr, &corrupt(9, 0), bad_request, Profile::LE32).await;
    expect_refusal_in(addr, &corrupt(9, 4), bad_request, Profile::LE32).await;
    expect_refusal_in(addr, &corrupt(11, 1), bad_request, Profile::LE32).await;
    expect_refusal_in(addr, &framed(&good[..10]), bad_request, Profile::LE32).await;
    expect_refusal_in(addr, &framed(&good[..6]), bad_request, Profile::BE64).await;
    let oversized = [0xff, 0xff, 0xff, 0xff];
    expect_refusal_in(addr, &oversized, ErrorCode::TooLarge, Profile::BE64).await;
}

/// Call id 0 is reserved for connection-level errors: a request carrying it, of any
/// kind, is refused on id 0 and the connection closed, never answered as a call.
#[tokio::test]
async fn a_call_with_the_reserved_id_0_is_refused_and_not_run() {
    let demo = tcp_demo(TcpServerConfig::default()).await;
    let addr = demo.server.addr();
    let call = raw_call(Profile::BE32, 0, demo::procedure::incr, &(1u64,));
    expect_refusal_in(addr, &framed(&call), ErrorCode::BadRequest, Profile::BE32).await;
    let mut reply = call.to_vec();
    reply[9] = 2;
    expect_refusal_in(addr, &framed(&reply), ErrorCode::BadRequest, Profile::BE32).await;
    assert_eq!(demo.service.incr_executions(), 0, "the call never ran");
    let client = demo.client(Transport::Tcp).await;
    assert_eq!(client.add(Long(1), Long(2)).await.unwrap(), Long(3));
}

/// A readable header that is not a call (a reply or an error sent to the server) is a
/// wrong request, not an unreadable one: BAD_REQUEST on its own id, connection open.
#[tokio::test]
async fn a_reply_or_error_sent_to_the_server_fails_on_its_own_id() {
    let demo = tcp_demo(TcpServerConfig::default()).await;
    let mut stream = TcpStream::connect(demo.server.addr()).await.unwrap();
    for (id, kind) in [(5u64, 2u8), (6, 3)] {
        let mut message = raw_call(Profile::LE64, id, demo::procedure::incr, &(1u64,)).to_vec();
        message[9] = kind;
        send_raw(&mut stream, &framed(&message)).await;
        let answer = read_frame(&mut stream).await.unwrap();
        assert_eq!(
            (answer.header.call_id, fault_code(&answer)),
            (id, ErrorCode::BadRequest as u32)
        );
    }
    let call = raw_call(Profile::LE64, 7, demo::procedure::incr, &(1u64,));
    send_raw(&mut stream, &framed(&call)).await;
    let answer = read_frame(&mut stream).await.unwrap();
    assert_eq!(answer.header.call_id, 7, "the connection is still open");
    assert_eq!(&answer.body[..], &1u64.to_le_bytes());
    assert_eq!(demo.service.incr_executions(), 1);
}

/// A call that fits the limit but whose reply does not: TOO_LARGE on the call's own id,
/// and the connection stays open. With `--max-frame 256` the description (procedure 0)
/// is such a reply. A limit below 256 is raised to it, so error answers always fit.
#[tokio::test]
async fn a_reply_over_the_limit_is_too_large_on_its_own_id() {
    for max_frame in [256, 10] {
        let config = TcpServerConfig {
            max_frame,
            ..TcpServerConfig::default()
        };
        let demo = tcp_demo(config).await;
        let mut stream = TcpStream::connect(demo.server.addr()).await.unwrap();
        let describe = raw_call(Profile::BE32, 3, 0, &());
        send_raw(&mut stream, &framed(&describe)).await;
        let answer = read_frame(&mut stream).await.unwrap();
        assert_eq!(
            (answer.header.call_id, fault_code(&answer)),
            (3, ErrorCode::TooLarge as u32)
        );
        let add = raw_call(Profile::BE32, 4, demo::procedure::add, &(Long(2), Long(3)));
        send_raw(&mut stream, &framed(&add)).await;
        let answer = read_frame(&mut stream).await.unwrap();
        assert_eq!(answer.header.call_id, 4, "the connection is still open");
        assert_eq!(&answer.body[..], &5i32.to_be_bytes());
        // A refusal (id 0) fits a limit raised to the minimum too.
        expect_refusal(demo.server.addr(), &framed(b"RPC"), ErrorCode::BadRequest).await;
    }
}

#[tokio::test]
async fn a_connection_reset_mid_frame_leaves_the_server_serving() {
    let demo = tcp_demo(TcpServerConfig::default()).await;
    let mut stream = TcpStream::connect(demo.server.addr()).await.unwrap();
    let call = framed(&raw_call(
        Profile::BE32,
        1,
        demo::procedure::add,
        &(Long(1), Long(2)),
    ));
    send_raw(&mut stream, &call[..10]).await;
    let socket = socket2::SockRef::from(&stream);
    socket.set_linger(Some(Duration::ZERO)).unwrap(); // close sends RST
    drop(stream);
    let client = demo.client(Transport::Tcp).await;
    assert_eq!(client.add(Long(1), Long(2)).await.unwrap(), Long(3));
}

#[tokio::test]
async fn idle_connections_are_closed_at_the_read_deadline() {
    let mut config = TcpServerConfig::default();
    config.limits.read_timeout = Duration::from_millis(100);
    let demo = tcp_demo(config).await;
    let mut stream = TcpStream::connect(demo.server.addr()).await.unwrap();
    let closed = tokio::time::timeout(Duration::from_secs(5), read_frame(&mut stream)).await;
    assert!(
        matches!(closed, Ok(None)),
        "the server hung up on the idle client"
    );
}

#[tokio::test]
async fn calls_on_a_closed_connection_fail_at_once() {
    let demo = tcp_demo(TcpServerConfig::default()).await;
    let client = demo.client(Transport::Tcp).await;
    assert_eq!(client.incr(1).await.unwrap(), 1);
    demo.server.shutdown().await;
    let started = std::time::Instant::now();
    let err = client
        .with_timeout(Duration::from_secs(20))
        .incr(1)
        .await
        .unwrap_err();
    assert!(
        matches!(err, CallError::Rpc(RpcError::ConnectionLost)),
        "{err:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "failed promptly, not at the deadline"
    );
}

#[tokio::test]
async fn connections_over_the_cap_are_closed_at_once() {
    let mut config = TcpServerConfig::default();
    config.limits.max_connections = 1;
    let demo = tcp_demo(config).await;
    let first = demo.client(Transport::Tcp).await;
    assert_eq!(first.incr(1).await.unwrap(), 1);
    let mut second = TcpStream::connect(demo.server.addr()).await.unwrap();
    let call = raw_call(Profile::LE64, 1, demo::procedure::incr, &(1u64,));
    send_raw(&mut second, &framed(&call)).await;
    let answer = tokio::time::timeout(Duration::from_secs(5), read_frame(&mut second)).await;
    assert!(
        matches!(answer, Ok(None)),
        "the second connection was closed unanswered"
    );
    assert_eq!(first.incr(1).await.unwrap(), 2, "the first is still served");
}

#[tokio::test]
async fn a_peer_that_stops_reading_is_disconnected_at_the_write_deadline() {
    let mut config = TcpServerConfig::default();
    config.limits.write_timeout = Duration::from_millis(200);
    let demo = tcp_demo(config).await;
    let mut stream = TcpStream::connect(demo.server.addr()).await.unwrap();
    // 400 echoes of 32 KiB = 12.5 MiB of replies, far beyond the socket buffers; we
    // write them all and read nothing until the server gives up on us.
    let call = framed(&raw_call(
        Profile::LE64,
        1,
        demo::procedure::echo,
        &(Bytes::from(vec![0u8; 32 << 10]),),
    ));
    let (mut reader, mut writer) = stream.split();
    let writing = async {
        for _ in 0..400 {
            if tokio::io::AsyncWriteExt::write_all(&mut writer, &call)
                .await
                .is_err()
            {
                break; // the server closed on us: expected
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(10), writing).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Now read: what was buffered arrives, then the connection ends (EOF or reset).
    let mut sink = vec![0u8; 1 << 16];
    let mut total = 0usize;
    let drained = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match tokio::io::AsyncReadExt::read(&mut reader, &mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n,
            }
        }
    })
    .await;
    assert!(drained.is_ok(), "the server closed the connection");
    assert!(
        total < 400 * (32 << 10),
        "not every reply was delivered: {total} bytes"
    );
    let client = demo.client(Transport::Tcp).await;
    assert_eq!(
        client.add(Long(1), Long(1)).await.unwrap(),
        Long(2),
        "others are served"
    );
}

rpc_lite::service! {
    /// Version 2 of the demo program: keeps `add` under its number, adds `mul`.
    pub mod demo_v2(program = DEMO_PROGRAM, version = 2, error = DemoError) {
        /// `a + b`, as in version 1.
        fn add(a: Long, b: Long) -> Long = 1;
        /// `a * b`: new in version 2, under a new number.
        fn mul(a: i64, b: i64) -> i64 = 9;
    }
}

struct V2;

impl demo_v2::Service for V2 {
    async fn add(&self, a: Long, b: Long) -> Result<Long, DemoError> {
        a.0.checked_add(b.0).map(Long).ok_or(DemoError::Overflow)
    }
    async fn mul(&self, a: i64, b: i64) -> Result<i64, DemoError> {
        a.checked_mul(b).ok_or(DemoError::Overflow)
    }
}

#[tokio::test]
async fn two_versions_side_by_side_old_clients_keep_working() {
    let registry = rpc_lite::Registry::new()
        .with(demo::Server::new(
            common::demo_service::DemoService::default(),
        ))
        .with(demo_v2::Server::new(V2));
    let (channel, _server) = rpc_lite::Channel::in_process(registry).await.unwrap();
    let old = demo::Client::new(channel.clone());
    let new = demo_v2::Client::new(channel.clone());
    assert_eq!(old.add(Long(1), Long(2)).await.unwrap(), Long(3));
    assert_eq!(new.add(Long(1), Long(2)).await.unwrap(), Long(3));
    assert_eq!(new.mul(6, 7).await.unwrap(), 42);
    assert_eq!(new.describe().await.unwrap().procedures.len(), 2);
    let v3 = Stub::new(channel, DEMO_PROGRAM, 3);
    match v3.describe().await {
        Err(RpcError::VersionMismatch {
            requested: 3,
            served,
        }) => assert_eq!(served, vec![1, 2]),
        other => panic!("expected a version mismatch, got {other:?}"),
    }
}

#[tokio::test]
async fn shutdown_finishes_calls_in_flight_within_the_grace_period() {
    let mut config = TcpServerConfig::default();
    config.limits.shutdown_grace = Duration::from_secs(5);
    let demo = tcp_demo(config).await;
    let client = demo.client(Transport::Tcp).await;
    let running = {
        let client = client.clone();
        tokio::spawn(async move { client.sleep(200).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    demo.server.shutdown().await;
    assert_eq!(
        running.await.unwrap().unwrap(),
        200,
        "the call in flight was finished"
    );
}

#[tokio::test]
async fn calls_still_running_when_the_grace_period_ends_are_cut_off() {
    let mut config = TcpServerConfig::default();
    config.limits.shutdown_grace = Duration::from_millis(100);
    let demo = tcp_demo(config).await;
    let client = demo
        .client(Transport::Tcp)
        .await
        .with_timeout(Duration::from_secs(30));
    let running = {
        let client = client.clone();
        tokio::spawn(async move { client.sleep(20_000).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = std::time::Instant::now();
    demo.server.shutdown().await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "shutdown took {:?}",
        started.elapsed()
    );
    let result = tokio::time::timeout(Duration::from_secs(5), running)
        .await
        .expect("nothing hangs");
    assert!(matches!(
        result.unwrap(),
        Err(CallError::Rpc(RpcError::ConnectionLost))
    ));
}

/// Frames still arriving share one server-wide budget: connections that each declare a
/// 1 MiB frame and stall take it up, the next one is told BUSY (call id 0) and closed,
/// ordinary calls carry on, and the bytes come back when the stallers leave.
#[tokio::test]
async fn partial_frames_share_one_budget_and_the_connection_beyond_it_is_shed() {
    use std::sync::atomic::Ordering;
    let frame = (1 << 20) - 4; // a payload just under the 1 MiB maximum, with its prefix
    let config = TcpServerConfig {
        frame_budget: 2 * (1 << 20),
        ..TcpServerConfig::default()
    };
    let demo = tcp_demo(config).await;
    let reserved = demo.stats.buffered_frame_bytes.clone();
    let mut stallers = Vec::new();
    for expected in [1 << 20, 2 << 20] {
        let mut staller = TcpStream::connect(demo.addr()).await.unwrap();
        send_raw(&mut staller, &(frame as u32).to_be_bytes()).await;
        send_raw(&mut staller, b"RPCL").await;
        wait_until(|| reserved.load(Ordering::SeqCst) == expected).await;
        stallers.push(staller);
    }
    let mut shed = TcpStream::connect(demo.addr()).await.unwrap();
    send_raw(&mut shed, &(frame as u32).to_be_bytes()).await;
    let answer = read_frame(&mut shed)
        .await
        .expect("an answer before the close");
    assert_eq!(
        (answer.header.call_id, fault_code(&answer)),
        (0, ErrorCode::Busy as u32)
    );
    assert!(
        read_frame(&mut shed).await.is_none(),
        "then the connection closes"
    );
    assert!(reserved.load(Ordering::SeqCst) <= 2 << 20);
    // Small frames need no reservation: calls keep working while the budget is in use.
    let client = demo.client(Transport::Tcp).await;
    assert_eq!(client.add(Long(2), Long(3)).await.unwrap(), Long(5));
    assert_eq!(
        client
            .echo(Bytes::from(vec![1u8; 1000]))
            .await
            .unwrap()
            .len(),
        1000
    );
    drop(stallers);
    wait_until(|| reserved.load(Ordering::SeqCst) == 0).await;
    // The budget is whole again: a full-size call goes through.
    let big = Bytes::from(vec![7u8; 1_000_000]);
    assert_eq!(client.echo(big.clone()).await.unwrap(), big);
}

/// Polls `condition` every 10 ms for at most 5 s (the server acts on its own schedule).
async fn wait_until(condition: impl Fn() -> bool) {
    for _ in 0..500 {
        if condition() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition not reached within 5 s");
}

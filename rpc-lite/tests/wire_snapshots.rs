//! Golden bytes of every message kind, in both byte orders (big-endian 32-bit and
//! little-endian 64-bit callers), produced by the real server code path: the call is
//! encoded as a stub encodes it and answered by the registry as a server answers it.
//! `PROTOCOL.md` quotes these dumps.

mod common;

use bytes::{Bytes, BytesMut};
use common::demo_service::{DEMO_PROGRAM, DemoService, demo};
use framing::{FrameFormat, Long, Profile, Wire, to_bytes};
use rpc_lite::dump::annotated;
use rpc_lite::registry::{Started, poll_once, reply_message};
use rpc_lite::{Header, Kind, Message, Registry};

const PROFILES: [(&str, Profile); 2] = [("be32", Profile::BE32), ("le64", Profile::LE64)];

fn call<A: Wire>(profile: Profile, version: u32, procedure: u32, args: &A) -> Message {
    let header = Header {
        profile,
        kind: Kind::Call,
        call_id: 1,
        program: DEMO_PROGRAM,
        version,
        procedure,
        deadline_ms: 5000,
    };
    Message::new(header, to_bytes(args, profile).unwrap())
}

/// What the server sends back for `call`.
fn answer(call: Message) -> Message {
    let registry = Registry::new().with(demo::Server::new(DemoService::default()));
    let header = call.header;
    let outcome = match registry.start(call) {
        Started::Now(outcome) => outcome,
        Started::Running(running) => {
            poll_once(running).unwrap_or_else(|_| panic!("finishes at once"))
        }
    };
    reply_message(&header, outcome, usize::MAX)
}

/// The annotated dump plus the exact TCP bytes (frame length prefix included).
fn render(message: &Message) -> String {
    let mut framed = BytesMut::new();
    FrameFormat::default()
        .encode(&message.to_bytes(), &mut framed)
        .unwrap();
    format!(
        "{}\non TCP (frame):\n{}",
        annotated(message),
        framing::hex_dump(&framed)
    )
}

fn snapshot_exchange(name: &str, make: impl Fn(Profile) -> Message) {
    for (profile_name, profile) in PROFILES {
        let request = make(profile);
        let reply = answer(request.clone());
        let text = format!(
            "--- call ---\n{}\n--- answer ---\n{}",
            render(&request),
            render(&reply)
        );
        insta::assert_snapshot!(format!("{name}_{profile_name}"), text);
    }
}

#[test]
fn call_and_reply_add() {
    snapshot_exchange("add_2_3", |p| {
        call(p, 1, demo::procedure::add, &(Long(2), Long(3)))
    });
}

#[test]
fn call_and_application_error_divide_by_zero() {
    snapshot_exchange("divide_1_0", |p| {
        call(p, 1, demo::procedure::divide, &(1i64, 0i64))
    });
}

#[test]
fn call_and_reply_echo_bytes() {
    snapshot_exchange("echo_hi", |p| {
        call(p, 1, demo::procedure::echo, &(Bytes::from_static(b"hi"),))
    });
}

#[test]
fn version_mismatch_names_the_served_versions() {
    snapshot_exchange("version_mismatch", |p| {
        call(p, 2, demo::procedure::add, &(Long(2), Long(3)))
    });
}

#[test]
fn unknown_procedure() {
    snapshot_exchange("unknown_procedure", |p| call(p, 1, 99, &()));
}

#[test]
fn garbage_arguments() {
    snapshot_exchange("garbage_args", |p| {
        call(p, 1, demo::procedure::add, &(7u8,))
    });
}

#[test]
fn unrepresentable_result_for_a_32_bit_caller() {
    let request = call(
        Profile::BE32,
        1,
        demo::procedure::add,
        &(Long(i32::MAX.into()), Long(1)),
    );
    let reply = answer(request.clone());
    insta::assert_snapshot!(
        "add_overflow_be32",
        format!(
            "--- call ---\n{}\n--- answer ---\n{}",
            render(&request),
            render(&reply)
        )
    );
}

#[test]
fn introspection_reply() {
    let reply = answer(call(Profile::LE64, 1, 0, &()));
    assert_eq!(reply.header.kind, Kind::Reply);
    insta::assert_snapshot!("describe_le64", annotated(&reply));
}

/// One UDP exchange with a real server: the datagram sent and the datagram received.
async fn udp_exchange(socket: &tokio::net::UdpSocket, request: &Message) -> String {
    socket.send(&request.to_bytes()).await.unwrap();
    let mut buf = vec![0u8; 65_536];
    let n = tokio::time::timeout(std::time::Duration::from_secs(5), socket.recv(&mut buf))
        .await
        .expect("an answer")
        .unwrap();
    let reply = Message::decode(Bytes::copy_from_slice(&buf[..n])).unwrap();
    format!(
        "--- call ({} bytes) ---\n{}\non UDP (datagram):\n{}\n--- answer ({n} bytes) ---\n{}\non UDP (datagram):\n{}",
        request.len(),
        annotated(request),
        framing::hex_dump(&request.to_bytes()),
        annotated(&reply),
        framing::hex_dump(&buf[..n])
    )
}

/// The two UDP-only answers of PROTOCOL.md section 8: BUSY (the one in-flight slot is
/// taken by a `sleep`) and the short TOO_LARGE that replaces a reply over 3x its call.
#[tokio::test]
async fn udp_busy_and_amplification_answers() {
    use rpc_lite::udp_transport::{self, UdpServerConfig};
    let registry = Registry::new().with(demo::Server::new(DemoService::default()));
    let config = UdpServerConfig {
        max_in_flight: 1,
        ..UdpServerConfig::default()
    };
    let server = udp_transport::spawn("127.0.0.1:0".parse().unwrap(), registry, config)
        .await
        .unwrap();
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    socket.connect(server.addr()).await.unwrap();
    let mut sleeper = call(Profile::LE64, 1, demo::procedure::sleep, &(5_000u32,));
    sleeper.header.call_id = 9;
    socket.send(&sleeper.to_bytes()).await.unwrap();
    let incr = call(Profile::LE64, 1, demo::procedure::incr, &(1u64,));
    insta::assert_snapshot!("udp_busy_le64", udp_exchange(&socket, &incr).await);
    let describe = call(Profile::LE64, 1, 0, &());
    insta::assert_snapshot!(
        "udp_describe_refused_le64",
        udp_exchange(&socket, &describe).await
    );
}

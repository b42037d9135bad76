//! The hand-written stub and skeleton of `examples/stub_by_hand.rs` put the same bytes
//! on the wire as the ones `service!` generates: the calls each stub sends, and the
//! answers each skeleton gives.

#[allow(dead_code)]
#[path = "../examples/stub_by_hand.rs"]
mod stub_by_hand;

use std::time::Duration;

use bytes::Bytes;
use framing::Profile;
use rpc_lite::registry::{Started, poll_once, reply_message};
use rpc_lite::{Channel, Header, Kind, Message, Registry, Transport};
use stub_by_hand::{ADD, PROGRAM, by_hand, generated};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

/// The first frame a client sends to a fresh connection, as raw bytes.
async fn first_call_bytes(call: impl AsyncFnOnce(Channel)) -> Vec<u8> {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let recorder = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut len = [0u8; 4];
        stream.read_exact(&mut len).await.unwrap();
        let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
        stream.read_exact(&mut body).await.unwrap();
        [len.to_vec(), body].concat()
    });
    let channel = Channel::connect(&addr, Transport::Tcp).await.unwrap();
    // Nobody answers: the call times out after the recorder has its bytes.
    call(channel).await;
    recorder.await.unwrap()
}

#[tokio::test]
async fn both_stubs_send_the_same_bytes() {
    let timeout = Duration::from_millis(200);
    let hand = first_call_bytes(async |channel| {
        let stub = by_hand::CalcClient::new(channel);
        let stub = by_hand::CalcClient {
            stub: stub.stub.with_timeout(timeout).with_profile(Profile::BE32),
        };
        let _ = stub.add(2, -3).await;
    })
    .await;
    let generated = first_call_bytes(async |channel| {
        let client = generated::calc::Client::new(channel)
            .with_timeout(timeout)
            .with_profile(Profile::BE32);
        let _ = client.add(2, -3).await;
    })
    .await;
    assert_eq!(hand, generated);
    assert_eq!(hand.len(), 4 + 36 + 16, "frame length, header, two i64");
}

/// What a skeleton answers to a call of `procedure` with `args`.
fn answer(registry: &Registry, procedure: u32, args: Bytes, profile: Profile) -> Bytes {
    let header = Header {
        profile,
        kind: Kind::Call,
        call_id: 1,
        program: PROGRAM,
        version: 1,
        procedure,
        deadline_ms: 5000,
    };
    let outcome = match registry.start(Message::new(header, args)) {
        Started::Now(outcome) => outcome,
        Started::Running(fut) => poll_once(fut).unwrap_or_else(|_| panic!("finishes at once")),
    };
    reply_message(&header, outcome, usize::MAX).to_bytes()
}

#[test]
fn both_skeletons_answer_with_the_same_bytes() {
    let hand = Registry::new().with(by_hand::CalcSkeleton);
    let generated = Registry::new().with(generated::calc::Server::new(generated::Calc));
    for profile in [Profile::BE32, Profile::LE64] {
        let cases = [
            (ADD, framing::to_bytes(&(2i64, 3i64), profile).unwrap()), // a result
            (ADD, framing::to_bytes(&(i64::MAX, 1i64), profile).unwrap()), // the app error
            (ADD, Bytes::from_static(b"\x01")),                        // garbage arguments
            (0, Bytes::new()),                                         // introspection
            (9, Bytes::new()),                                         // no such procedure
        ];
        for (procedure, args) in cases {
            assert_eq!(
                answer(&hand, procedure, args.clone(), profile),
                answer(&generated, procedure, args, profile),
                "procedure {procedure} as {profile}"
            );
        }
    }
}

//! The quote service over real sockets: raw bytes in, raw bytes asserted.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use udp::client::{RetryClient, RetryPolicy};
use udp::quote::server::{MAX_REQUEST_READ, REPLY_CACHE_ENTRIES};
use udp::quote::{Message, QuoteBook, QuoteReply, QuoteServer, fetch_quote};
use udp::shutdown::{self, ShutdownTrigger};
use udp::{DatagramPacket, DatagramSocket, UdpError};

async fn start(book: QuoteBook) -> (SocketAddr, ShutdownTrigger) {
    let (trigger, shutdown) = shutdown::channel();
    let server = QuoteServer::bind("127.0.0.1:0".parse().unwrap(), book)
        .await
        .unwrap();
    let addr = server.local_addr().unwrap();
    tokio::spawn(server.run(shutdown));
    (addr, trigger)
}

fn raw_client() -> DatagramSocket {
    let c = DatagramSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    c.set_so_timeout(Some(Duration::from_secs(5))).unwrap();
    c
}

fn ask(c: &DatagramSocket, server: SocketAddr, bytes: &[u8]) -> Vec<u8> {
    c.send_to(bytes, server).unwrap();
    let mut inbox = DatagramPacket::with_capacity(1024);
    c.receive(&mut inbox).unwrap();
    inbox.into_data()
}

fn three() -> QuoteBook {
    QuoteBook::from_text("alpha\nbeta\ngamma\n").unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_request_gets_the_next_quote_and_a_retry_gets_the_same_one() {
    let (addr, _t) = start(three()).await;
    tokio::task::spawn_blocking(move || {
        let c = raw_client();
        // 'Q' + id 1, big-endian.
        let first = ask(&c, addr, &[0x51, 0, 0, 0, 1]);
        assert_eq!(
            first,
            [&[0x41, 0, 0, 0, 1, 0, 0, 0, 0][..], b"alpha"].concat()
        );
        let second = ask(&c, addr, &[0x51, 0, 0, 0, 2]);
        assert_eq!(
            second,
            [&[0x41, 0, 0, 0, 2, 0, 0, 0, 1][..], b"beta"].concat()
        );
        // Retry of id 1: same quote, not "gamma".
        assert_eq!(ask(&c, addr, &[0x51, 0, 0, 0, 1]), first);
        // Another client using id 1 is a different request.
        let other = ask(&raw_client(), addr, &[0x51, 0, 0, 0, 1]);
        assert_eq!(
            other,
            [&[0x41, 0, 0, 0, 1, 0, 0, 0, 2][..], b"gamma"].concat()
        );
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_empty_and_oversized_requests_get_short_errors() {
    let (addr, _t) = start(three()).await;
    tokio::task::spawn_blocking(move || {
        let c = raw_client();
        assert_eq!(ask(&c, addr, b""), b"E\0\0\0\0empty datagram");
        assert_eq!(
            ask(&c, addr, b"GET /"),
            b"E\0\0\0\0unknown message type 0x47"
        );
        // A request-shaped datagram of the wrong length: the error still carries its id (9).
        assert_eq!(
            ask(&c, addr, &[0x51, 0, 0, 0, 9, 0]),
            b"E\0\0\0\x09request of 6 bytes; expected exactly 5"
        );
        // Longer than the server reads: truncated, and the error names the true length.
        let mut long = vec![0x51, 0, 0, 0, 3];
        long.resize(MAX_REQUEST_READ + 100, b'x');
        let reply = ask(&c, addr, &long);
        assert_eq!(
            reply,
            b"E\0\0\0\x03request of 612 bytes; expected exactly 5"
        );
        // The server still serves.
        assert_eq!(
            Message::decode(&ask(&c, addr, &[0x51, 0, 0, 0, 4])).unwrap(),
            Message::Quote {
                id: 4,
                number: 0,
                text: "alpha".into()
            }
        );
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_sent_to_the_server_gets_no_answer() {
    let (addr, _t) = start(three()).await;
    tokio::task::spawn_blocking(move || {
        let c = raw_client();
        c.set_so_timeout(Some(Duration::from_millis(100))).unwrap();
        c.send_to(
            &Message::Error {
                id: 1,
                message: "x".into(),
            }
            .encode(),
            addr,
        )
        .unwrap();
        let err = c
            .receive(&mut DatagramPacket::with_capacity(100))
            .unwrap_err();
        assert!(
            matches!(err, UdpError::Timeout),
            "servers must not answer replies (ping-pong loops)"
        );
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reply_cache_is_bounded() {
    let (addr, _t) = start(three()).await;
    tokio::task::spawn_blocking(move || {
        let c = raw_client();
        let req = |id: u32| [&[0x51][..], &id.to_be_bytes()].concat();
        let number = |reply: Vec<u8>| u32::from_be_bytes(reply[5..9].try_into().unwrap());
        let first = number(ask(&c, addr, &req(0)));
        for id in 1..=REPLY_CACHE_ENTRIES as u32 {
            ask(&c, addr, &req(id));
        }
        // Id 0 was the oldest entry and got evicted: asking again is a new request.
        let again = number(ask(&c, addr, &req(0)));
        assert_eq!(first, 0);
        assert_eq!(again, (REPLY_CACHE_ENTRIES as u32 + 1) % 3);
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_quote_through_the_retry_client() {
    let (addr, _t) = start(QuoteBook::builtin()).await;
    tokio::task::spawn_blocking(move || {
        let mut client = RetryClient::connect(addr, RetryPolicy::default()).unwrap();
        let QuoteReply::Quote { number, text } = fetch_quote(&mut client, 77).unwrap() else {
            panic!("refused")
        };
        assert_eq!(number, 0);
        assert_eq!(text, QuoteBook::builtin().get(0));
        assert_eq!(client.stats().answered, 1);
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_reply_cache_forgets_sooner() {
    let (trigger, shutdown) = shutdown::channel();
    let server = QuoteServer::bind("127.0.0.1:0".parse().unwrap(), three())
        .await
        .unwrap()
        .with_cache_entries(1);
    let addr = server.local_addr().unwrap();
    tokio::spawn(server.run(shutdown));
    tokio::task::spawn_blocking(move || {
        let c = raw_client();
        let number = |reply: Vec<u8>| u32::from_be_bytes(reply[5..9].try_into().unwrap());
        assert_eq!(number(ask(&c, addr, &[0x51, 0, 0, 0, 1])), 0);
        assert_eq!(
            number(ask(&c, addr, &[0x51, 0, 0, 0, 1])),
            0,
            "one entry: the last answer is kept"
        );
        assert_eq!(number(ask(&c, addr, &[0x51, 0, 0, 0, 2])), 1);
        assert_eq!(
            number(ask(&c, addr, &[0x51, 0, 0, 0, 1])),
            2,
            "id 1 was pushed out by id 2"
        );
    })
    .await
    .unwrap();
    trigger.fire();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_garbage_does_not_stop_service_to_others() {
    let (addr, _t) = start(three()).await;
    tokio::task::spawn_blocking(move || {
        let attacker = raw_client();
        let garbage: Vec<u8> = (0..=255u8).collect();
        for i in 0..2_000usize {
            // Never reads its replies; lengths from 0 to 1,999 bytes (some cut at 512).
            let _ = attacker.send_to(&garbage.repeat(8)[..i % 2_000], addr);
        }
        // The flood may fill the server's receive buffer, and the kernel then drops datagrams,
        // ours too: a client that retries gets through.
        let policy = RetryPolicy {
            timeout: Duration::from_millis(100),
            retries: 20,
            ..RetryPolicy::default()
        };
        let mut client = RetryClient::connect(addr, policy).unwrap();
        let reply = fetch_quote(&mut client, 42).unwrap();
        assert_eq!(
            reply,
            QuoteReply::Quote {
                number: 0,
                text: "alpha".into()
            }
        );
    })
    .await
    .unwrap();
}

/// The Python client printed in PROTOCOL.md, run as written (port substituted) against the
/// server: the document is precise enough for another language.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_client_in_protocol_md_works() {
    let doc = include_str!("../PROTOCOL.md");
    let from = doc
        .find("```python\n")
        .expect("PROTOCOL.md has a python example")
        + "```python\n".len();
    let script = &doc[from..from + doc[from..].find("```").unwrap()];
    if let Err(why) = common::require_command("python3") {
        common::skip!("needs python3 for the PROTOCOL.md client (apt-get install python3): {why}");
    }
    let (addr, _t) = start(three()).await;
    let script = script.replace("7017", &addr.port().to_string());
    let out = tokio::process::Command::new("python3")
        .arg("-c")
        .arg(&script)
        .output()
        .await
        .expect("python3 is on PATH but did not start");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "0 alpha\n");
}

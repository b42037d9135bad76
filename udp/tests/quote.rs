//! The quote service over real sockets: raw bytes in, raw bytes asserted.

use std::net::SocketAddr;
use std::time::Duration;

use support::shutdown::Shutdown;
use udp::client::{RetryClient, RetryPolicy};
use udp::quote::server::{MAX_REQUEST_READ, REPLY_CACHE_ENTRIES};
use udp::quote::wire::{MAX_REQUEST_LEN, padded_request};
use udp::quote::{Message, QuoteBook, QuoteReply, QuoteServer, fetch_quote};
use udp::{DatagramPacket, DatagramSocket, UdpError};

async fn start(book: QuoteBook) -> (SocketAddr, Shutdown) {
    let shutdown = Shutdown::manual();
    let server = QuoteServer::bind("127.0.0.1:0".parse().unwrap(), book)
        .await
        .unwrap();
    let addr = server.local_addr().unwrap();
    tokio::spawn(server.run(shutdown.token()));
    (addr, shutdown)
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

/// Sends `bytes`; the reply, or `None` if nothing comes within 200 ms.
fn ask_or_silence(c: &DatagramSocket, server: SocketAddr, bytes: &[u8]) -> Option<Vec<u8>> {
    c.set_so_timeout(Some(Duration::from_millis(200))).unwrap();
    c.send_to(bytes, server).unwrap();
    let mut inbox = DatagramPacket::with_capacity(1024);
    let got = match c.receive(&mut inbox) {
        Ok(()) => Some(inbox.into_data()),
        Err(UdpError::Timeout) => None,
        Err(e) => panic!("{e}"),
    };
    c.set_so_timeout(Some(Duration::from_secs(5))).unwrap();
    got
}

/// 'Q', the id big-endian, zero padding to the longest request (508 bytes).
fn padded(raw: [u8; 5]) -> Vec<u8> {
    let mut request = raw.to_vec();
    request.resize(MAX_REQUEST_LEN, 0);
    request
}

fn three() -> QuoteBook {
    QuoteBook::from_text("alpha\nbeta\ngamma\n").unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_request_gets_the_next_quote_and_a_retry_gets_the_same_one() {
    let (addr, _t) = start(three()).await;
    tokio::task::spawn_blocking(move || {
        let c = raw_client();
        // 'Q' + id 1, big-endian, padded with zeros to 508 bytes.
        let first = ask(&c, addr, &padded([0x51, 0, 0, 0, 1]));
        assert_eq!(
            first,
            [&[0x41, 0, 0, 0, 1, 0, 0, 0, 0][..], b"alpha"].concat()
        );
        let second = ask(&c, addr, &padded([0x51, 0, 0, 0, 2]));
        assert_eq!(
            second,
            [&[0x41, 0, 0, 0, 2, 0, 0, 0, 1][..], b"beta"].concat()
        );
        // Retry of id 1: same quote, not "gamma".
        assert_eq!(ask(&c, addr, &padded([0x51, 0, 0, 0, 1])), first);
        // Another client using id 1 is a different request.
        let other = ask(&raw_client(), addr, &padded([0x51, 0, 0, 0, 1]));
        assert_eq!(
            other,
            [&[0x41, 0, 0, 0, 1, 0, 0, 0, 2][..], b"gamma"].concat()
        );
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_empty_and_oversized_datagrams_get_no_reply() {
    let (addr, _t) = start(three()).await;
    tokio::task::spawn_blocking(move || {
        let c = raw_client();
        let mut long = padded([0x51, 0, 0, 0, 3]);
        long.resize(MAX_REQUEST_READ + 100, 0);
        let mut dirty_padding = padded([0x51, 0, 0, 0, 9]);
        dirty_padding[7] = b'x';
        for garbage in [&b""[..], b"GET /", b"Q", &dirty_padding, &long] {
            assert_eq!(
                ask_or_silence(&c, addr, garbage),
                None,
                "{} bytes of garbage got a reply",
                garbage.len()
            );
        }
        // The server still serves.
        assert_eq!(
            Message::decode(&ask(&c, addr, &padded([0x51, 0, 0, 0, 4]))).unwrap(),
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

/// The "Examples (hex)" of PROTOCOL.md, in order, against the built-in book.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hex_examples_in_protocol_md_hold() {
    let (addr, _t) = start(QuoteBook::builtin()).await;
    tokio::task::spawn_blocking(move || {
        let c = raw_client();
        let quote = |id: u8, number: u8, text: &str| {
            [&[0x41, 0, 0, 0, id, 0, 0, 0, number][..], text.as_bytes()].concat()
        };
        let first = ask(&c, addr, &padded([0x51, 0, 0, 0, 1]));
        assert_eq!(first, quote(1, 0, QuoteBook::builtin().get(0)));
        assert!(first[9..].starts_with(b"Simplic"));
        assert_eq!(ask(&c, addr, &padded([0x51, 0, 0, 0, 1])), first);
        let second = ask(&c, addr, &padded([0x51, 0, 0, 0, 2]));
        assert!(second[9..].starts_with(b"Be con"), "{second:?}");
        assert_eq!(ask(&c, addr, &[0x51, 0, 0, 0, 3]), [0x45, 0, 0, 0, 3]);
        let mut forty = vec![0x51, 0, 0, 0, 4];
        forty.resize(40, 0);
        assert_eq!(
            ask(&c, addr, &forty),
            b"E\0\0\0\x04pad the request to 78 bytes"
        );
        assert_eq!(ask_or_silence(&c, addr, b"hello?"), None);
        assert_eq!(ask_or_silence(&c, addr, b""), None);
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_reply_is_longer_than_its_request() {
    let book = QuoteBook::from_text(&"q".repeat(udp::quote::wire::MAX_QUOTE_BYTES)).unwrap();
    let (addr, _t) = start(book).await;
    tokio::task::spawn_blocking(move || {
        let c = raw_client();
        // A bare 5-byte request earns a 5-byte error: 'E' and the id, no room for a reason.
        assert_eq!(ask(&c, addr, &[0x51, 0, 0, 0, 1]), [0x45, 0, 0, 0, 1]);
        // Padded to 40 bytes: the reason fits, cut to the request's length.
        let mut forty = vec![0x51, 0, 0, 0, 2];
        forty.resize(40, 0);
        let reply = ask(&c, addr, &forty);
        assert_eq!(reply, b"E\0\0\0\x02pad the request to 508 bytes");
        for len in (5..=MAX_REQUEST_LEN)
            .step_by(23)
            .chain([MAX_REQUEST_LEN - 1])
        {
            let mut request = vec![0x51, 0, 0, 0, 7];
            request.resize(len, 0);
            let reply = ask(&c, addr, &request);
            assert!(
                reply.len() <= len,
                "{len}-byte request, {}-byte reply",
                reply.len()
            );
            assert_eq!(
                reply[0], b'E',
                "the 508-byte quote does not fit in {len} bytes"
            );
        }
        // Padded to the full 508 bytes: the longest quote, exactly as long as the request.
        let reply = ask(&c, addr, &padded([0x51, 0, 0, 0, 7]));
        assert_eq!((reply[0], reply.len()), (b'A', MAX_REQUEST_LEN));
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
        let req = padded_request;
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
    let shutdown = Shutdown::manual();
    let server = QuoteServer::bind("127.0.0.1:0".parse().unwrap(), three())
        .await
        .unwrap()
        .with_cache_entries(1);
    let addr = server.local_addr().unwrap();
    tokio::spawn(server.run(shutdown.token()));
    tokio::task::spawn_blocking(move || {
        let c = raw_client();
        let number = |reply: Vec<u8>| u32::from_be_bytes(reply[5..9].try_into().unwrap());
        assert_eq!(number(ask(&c, addr, &padded_request(1))), 0);
        assert_eq!(
            number(ask(&c, addr, &padded_request(1))),
            0,
            "one entry: the last answer is kept"
        );
        assert_eq!(number(ask(&c, addr, &padded_request(2))), 1);
        assert_eq!(
            number(ask(&c, addr, &padded_request(1))),
            2,
            "id 1 was pushed out by id 2"
        );
    })
    .await
    .unwrap();
    shutdown.trigger();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_good_client_keeps_getting_answers_during_a_flood_of_garbage() {
    let (addr, _t) = start(three()).await;
    let flood = tokio::task::spawn_blocking(move || {
        let attacker = raw_client();
        let garbage: Vec<u8> = (0..=255u8).collect::<Vec<_>>().repeat(8);
        // Bounded: 20,000 datagrams, 0 to 1,999 bytes (some longer than any request), never
        // reading a reply (there is none to read).
        for i in 0..20_000usize {
            let _ = attacker.send_to(&garbage[..i % 2_000], addr);
        }
    });
    let client = tokio::task::spawn_blocking(move || {
        // The flood may fill the server's receive buffer, and the kernel then drops datagrams,
        // ours too: a client that retries gets through.
        let policy = RetryPolicy {
            timeout: Duration::from_millis(100),
            retries: 20,
            ..RetryPolicy::default()
        };
        let mut client = RetryClient::connect(addr, policy).unwrap();
        (0..20u32)
            .map(|id| fetch_quote(&mut client, id).unwrap())
            .collect::<Vec<_>>()
    });
    let answers = client.await.unwrap();
    flood.await.unwrap();
    let texts: Vec<QuoteReply> = ["alpha", "beta", "gamma"]
        .iter()
        .cycle()
        .enumerate()
        .take(20)
        .map(|(n, text)| QuoteReply::Quote {
            number: (n % 3) as u32,
            text: text.to_string(),
        })
        .collect();
    assert_eq!(answers, texts, "20 requests, 20 quotes in order");
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
    support::skip_unless!(support::require::command(
        "python3",
        "apt-get install python3"
    ));
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

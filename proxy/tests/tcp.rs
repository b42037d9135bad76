//! The proxy end to end: bytes and half-close pass through unchanged, shaping works,
//! and a recorded conversation gives a stable transcript (an insta snapshot).

use proxy::tcp::recorder::Recorder;
use proxy::tcp::{Proxy, ProxyConfig};
use proxy::transcript::replay::replay;
use proxy::transcript::{Direction, Transcript};
use std::io::{self, Write};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(10);

/// An upstream that reads everything until the client half-closes, then sends it all
/// back followed by `END\n` and closes: it only answers if the FIN got through.
async fn collector() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut got = Vec::new();
                stream.read_to_end(&mut got).await.unwrap();
                got.extend_from_slice(b"END\n");
                stream.write_all(&got).await.unwrap();
            });
        }
    });
    addr
}

/// An upstream that answers each line with a fixed reply and says `bye` at end of input.
async fn line_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read);
                let mut line = Vec::new();
                while lines.read_until(b'\n', &mut line).await.unwrap() > 0 {
                    let reply = format!("got {} bytes\n", line.len());
                    write.write_all(reply.as_bytes()).await.unwrap();
                    line.clear();
                }
                write.write_all(b"bye\n").await.unwrap();
            });
        }
    });
    addr
}

/// Starts a proxy in front of `to`.
async fn proxy(config: ProxyConfig, recorder: Option<Recorder>) -> (SocketAddr, CancellationToken) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    tokio::spawn(Proxy::new(config, recorder).serve(listener, stop.clone()));
    (addr, stop)
}

/// Sends `data`, half-closes, and reads until the other side closes.
async fn send_and_collect(addr: SocketAddr, data: &[u8]) -> Vec<u8> {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    let data = data.to_vec();
    let writer = tokio::spawn(async move {
        write.write_all(&data).await.unwrap();
        write.shutdown().await.unwrap();
        write
    });
    let mut got = Vec::new();
    tokio::time::timeout(WAIT, read.read_to_end(&mut got))
        .await
        .unwrap()
        .unwrap();
    drop(writer.await.unwrap());
    got
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_and_half_close_pass_through_unchanged() {
    let upstream = collector().await;
    let (addr, _stop) = proxy(ProxyConfig::new(upstream), None).await;
    for len in [0, 1, 100_000, 3 << 20] {
        let data = pattern(len);
        let got = send_and_collect(addr, &data).await;
        assert_eq!(got.len(), len + 4, "length for {len} bytes");
        assert!(got[..len] == data[..], "bytes changed for {len} bytes");
        assert_eq!(&got[len..], b"END\n");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delay_and_throttle_slow_the_traffic_down() {
    let upstream = collector().await;
    let config = ProxyConfig {
        delay: Duration::from_millis(100),
        ..ProxyConfig::new(upstream)
    };
    let (addr, _stop) = proxy(config, None).await;
    let start = Instant::now();
    assert_eq!(send_and_collect(addr, b"x").await, b"xEND\n");
    // The reply depends on the FIN, so the data crosses the proxy's delay at least twice.
    assert!(
        start.elapsed() >= Duration::from_millis(200),
        "{:?}",
        start.elapsed()
    );

    let config = ProxyConfig {
        throttle_kbps: Some(80),
        ..ProxyConfig::new(upstream)
    }; // 10 000 B/s
    let (addr, _stop) = proxy(config, None).await;
    let start = Instant::now();
    let data = pattern(5_000);
    let got = send_and_collect(addr, &data).await;
    assert_eq!(&got[..5_000], &data[..]);
    assert!(
        start.elapsed() >= Duration::from_millis(900),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_resets_the_client_and_the_proxy_goes_on() {
    // A port that was just free: nothing listens there.
    let dead = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let (addr, _stop) = proxy(ProxyConfig::new(dead), None).await;
    for _ in 0..2 {
        // On loopback the reset can arrive before tokio's connect looks at the socket
        // again: then the connect itself reports it.
        let err = match TcpStream::connect(addr).await {
            Err(err) => err,
            Ok(mut stream) => {
                let mut got = Vec::new();
                let read = tokio::time::timeout(WAIT, stream.read_to_end(&mut got))
                    .await
                    .unwrap();
                read.expect_err("a reset, not an empty answer")
            }
        };
        assert_eq!(err.kind(), io::ErrorKind::ConnectionReset, "{err}");
    }
}

/// A `Write` the test can read back.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_conversation_matches_its_snapshot() {
    let upstream = line_server().await;
    let out = Shared::default();
    let recorder = Recorder::new(Box::new(out.clone())).unwrap();
    let (addr, stop) = proxy(ProxyConfig::new(upstream), Some(recorder)).await;

    // One step at a time, each waiting for its answer, so the order is fixed.
    let stream = TcpStream::connect(addr).await.unwrap();
    let (read, mut write) = stream.into_split();
    let mut replies = BufReader::new(read);
    let mut reply = String::new();
    // Every byte value below 40 except the newline, two non-ASCII bytes, then the newline.
    let binary: Vec<u8> = (0u8..40)
        .filter(|&b| b != b'\n')
        .chain([0xfe, 0xff, b'\n'])
        .collect();
    for step in [&b"HELO proxy\r\n"[..], "héllo wörld\n".as_bytes(), &binary] {
        write.write_all(step).await.unwrap();
        reply.clear();
        tokio::time::timeout(WAIT, replies.read_line(&mut reply))
            .await
            .unwrap()
            .unwrap();
    }
    write.shutdown().await.unwrap();
    let mut rest = String::new();
    tokio::time::timeout(WAIT, replies.read_to_string(&mut rest))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rest, "bye\n");
    drop((replies, write));
    // The connection's `close` record is written when the proxy has finished it.
    let text = tokio::time::timeout(WAIT, async {
        loop {
            let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
            if text.contains("[1] close") {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .unwrap();
    stop.cancel();

    insta::assert_snapshot!("proxy_transcript", text);
    let transcript = Transcript::parse(&text).unwrap();
    assert_eq!(
        transcript.to_text(),
        text,
        "parse then write gives the same text"
    );
    let sent = transcript.stream(1, Direction::ClientToServer);
    assert_eq!(
        sent,
        [&b"HELO proxy\r\n"[..], "héllo wörld\n".as_bytes(), &binary].concat()
    );
    let received = transcript.stream(1, Direction::ServerToClient);
    assert_eq!(received, b"got 12 bytes\ngot 14 bytes\ngot 42 bytes\nbye\n");

    // Replayed straight against the same kind of server, the conversation matches...
    let replay_against = |addr: SocketAddr, transcript: Transcript| {
        tokio::task::spawn_blocking(move || {
            let mut stream = std::net::TcpStream::connect(addr).unwrap();
            stream.set_read_timeout(Some(WAIT)).unwrap();
            replay(&transcript, 1, &mut stream)
        })
    };
    replay_against(line_server().await, transcript.clone())
        .await
        .unwrap()
        .unwrap();
    // ...and against a different server it stops at the first difference.
    let other = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let other_addr = other.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut stream, _) = other.accept().await.unwrap();
        stream
            .write_all(b"a different server entirely\n")
            .await
            .unwrap();
        let _ = stream.read_to_end(&mut Vec::new()).await;
    });
    let err = replay_against(other_addr, transcript)
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "server>client offset 0: expected \"got 12 bytes\\n\", got \"a different s\""
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_idle_past_the_read_deadline_is_closed() {
    let upstream = line_server().await;
    let mut config = ProxyConfig::new(upstream);
    config.limits.read_timeout = Duration::from_millis(200);
    let (addr, _stop) = proxy(config, None).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(b"one\n").await.unwrap();
    let mut got = Vec::new();
    let start = Instant::now();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut got))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        got, b"got 4 bytes\n",
        "the answer arrives, then the idle connection is closed"
    );
    assert!(start.elapsed() >= Duration::from_millis(150));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_from_the_server_ends_the_connection_and_the_proxy_goes_on() {
    // An upstream that resets every connection as soon as it has read a byte.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut byte = [0u8; 1];
            let _ = stream.read(&mut byte).await;
            stream.set_zero_linger().unwrap();
        }
    });
    let out = Shared::default();
    let recorder = Recorder::new(Box::new(out.clone())).unwrap();
    let (addr, _stop) = proxy(ProxyConfig::new(upstream), Some(recorder)).await;
    for _ in 0..2 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(b"x").await.unwrap();
        let mut got = Vec::new();
        let ended = tokio::time::timeout(WAIT, stream.read_to_end(&mut got))
            .await
            .unwrap();
        assert!(got.is_empty(), "nothing was sent back: {got:?} {ended:?}");
    }
    let text = tokio::time::timeout(WAIT, async {
        loop {
            let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
            if text.contains("[2] close") {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .unwrap();
    assert!(
        text.contains("[1] server>client offset 0 reset\n"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_cap_are_closed_and_the_first_one_goes_on() {
    let upstream = line_server().await;
    let mut config = ProxyConfig::new(upstream);
    config.limits.max_connections = 1;
    let (addr, _stop) = proxy(config, None).await;
    let first = TcpStream::connect(addr).await.unwrap();
    let (read, mut write) = first.into_split();
    let mut replies = BufReader::new(read);
    write.write_all(b"one\n").await.unwrap();
    let mut reply = String::new();
    replies.read_line(&mut reply).await.unwrap();
    assert_eq!(reply, "got 4 bytes\n");

    let mut second = TcpStream::connect(addr).await.unwrap();
    let mut got = Vec::new();
    let read = tokio::time::timeout(WAIT, second.read_to_end(&mut got))
        .await
        .unwrap();
    assert!(
        got.is_empty(),
        "the second connection was served: {got:?} {read:?}"
    );

    write.write_all(b"two!\n").await.unwrap();
    reply.clear();
    replies.read_line(&mut reply).await.unwrap();
    assert_eq!(reply, "got 5 bytes\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_after_resets_both_sides_of_a_quiet_connection() {
    // An upstream that says nothing and reports how its connection ended.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = listener.local_addr().unwrap();
    let (ended_tx, ended_rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut got = Vec::new();
        let _ = ended_tx.send(stream.read_to_end(&mut got).await.map_err(|e| e.kind()));
    });
    let mut config = ProxyConfig::new(upstream);
    config.reset_after = Some(Duration::from_millis(100));
    let (addr, _stop) = proxy(config, None).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut got = Vec::new();
    let read = tokio::time::timeout(WAIT, stream.read_to_end(&mut got))
        .await
        .unwrap();
    assert_eq!(read.unwrap_err().kind(), io::ErrorKind::ConnectionReset);
    let upstream_saw = tokio::time::timeout(WAIT, ended_rx).await.unwrap().unwrap();
    assert_eq!(upstream_saw, Err(io::ErrorKind::ConnectionReset));
}

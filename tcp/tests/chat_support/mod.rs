//! Test helpers for the chat: an in-process server on 127.0.0.1:0 and a raw-bytes peer.

#![allow(dead_code)] // each test file uses a different subset

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tcp::chat::registry::Registry;
use tcp::chat::{ChatConfig, ChatServer};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio_util::sync::CancellationToken;

/// How long a test waits for any one line before failing.
pub const WAIT: Duration = Duration::from_secs(10);

/// A chat server running inside the test process.
pub struct TestServer {
    pub addr: SocketAddr,
    pub registry: Arc<Registry>,
    pub shutdown: CancellationToken,
    pub task: tokio::task::JoinHandle<()>,
}

/// Starts a chat server with `config` on 127.0.0.1:0.
pub async fn start(config: ChatConfig) -> TestServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = ChatServer::new(config);
    let registry = server.registry();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(server.serve(listener, shutdown.clone()));
    TestServer {
        addr,
        registry,
        shutdown,
        task,
    }
}

/// A client speaking raw bytes.
pub struct Peer {
    pub reader: BufReader<OwnedReadHalf>,
    pub writer: OwnedWriteHalf,
}

impl Peer {
    /// Connects without sending anything.
    pub async fn connect(addr: SocketAddr) -> Peer {
        let stream = TcpStream::connect(addr).await.unwrap();
        Peer::from_stream(stream)
    }

    pub fn from_stream(stream: TcpStream) -> Peer {
        stream.set_nodelay(true).unwrap();
        let (r, w) = stream.into_split();
        Peer {
            reader: BufReader::new(r),
            writer: w,
        }
    }

    /// Connects, sends `name`, and waits for `* name joined`.
    pub async fn join(addr: SocketAddr, name: &str) -> Peer {
        let mut peer = Peer::connect(addr).await;
        peer.send(format!("{name}\n").as_bytes()).await;
        peer.expect(&format!("* {name} joined\n")).await;
        peer
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).await.unwrap();
    }

    /// The next line with its `\n` (empty string at end of stream).
    pub async fn line(&mut self) -> String {
        let mut line = Vec::new();
        tokio::time::timeout(WAIT, self.reader.read_until(b'\n', &mut line))
            .await
            .expect("timed out waiting for a line")
            .unwrap();
        String::from_utf8(line).expect("server sent invalid UTF-8")
    }

    /// Asserts the next line is exactly `expected` (including `\n`).
    pub async fn expect(&mut self, expected: &str) {
        assert_eq!(self.line().await, expected);
    }

    /// Asserts the server closes the connection (after any lines in `before`).
    pub async fn expect_closed(&mut self) {
        let line = self.line().await;
        assert_eq!(line, "", "expected end of stream");
    }
}

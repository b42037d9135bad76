//! The echo contract (RFC 862), one test body run against each server: async, blocking, batched.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use support::shutdown::Shutdown;
use udp::echo::{ASYNC_YIELD_EVERY, BLOCKING_YIELD_EVERY, EchoServer, EchoStats, serve_blocking};
use udp::echo_batch::serve_batched;
use udp::{DatagramPacket, DatagramSocket, MAX_DATAGRAM_BUFFER, MAX_PAYLOAD_V4};

type ServeFn = fn(&DatagramSocket, &AtomicBool, &EchoStats) -> udp::Result<()>;

/// Runs a blocking-style server in a thread; stops it when dropped.
struct ThreadServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    stats: Arc<EchoStats>,
    thread: Option<std::thread::JoinHandle<udp::Result<()>>>,
}

impl ThreadServer {
    fn start(bind: &str, serve: ServeFn) -> Self {
        let socket = DatagramSocket::bind(bind.parse().unwrap()).unwrap();
        let addr = socket.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(EchoStats::default());
        let (s, st) = (Arc::clone(&stop), Arc::clone(&stats));
        let thread = std::thread::spawn(move || serve(&socket, &s, &st));
        Self {
            addr,
            stop,
            stats,
            thread: Some(thread),
        }
    }
}

impl Drop for ThreadServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().unwrap().unwrap();
        }
    }
}

fn client(server: SocketAddr) -> DatagramSocket {
    let bind = if server.is_ipv4() {
        "127.0.0.1:0"
    } else {
        "[::1]:0"
    };
    let c = DatagramSocket::bind(bind.parse().unwrap()).unwrap();
    c.set_so_timeout(Some(Duration::from_secs(5))).unwrap();
    c.set_receive_buffer_size(1 << 20).unwrap();
    c
}

fn round_trip(c: &DatagramSocket, server: SocketAddr, data: &[u8]) -> DatagramPacket {
    c.send_to(data, server).unwrap();
    let mut inbox = DatagramPacket::with_capacity(MAX_DATAGRAM_BUFFER);
    c.receive(&mut inbox).unwrap();
    assert_eq!(inbox.peer(), Some(server));
    inbox
}

/// The contract every echo server must keep, one thread receiving: arrival order is kept.
fn echo_contract(server: SocketAddr) {
    echo_contract_in(server, Order::Kept);
}

/// Whether a server keeps the order of one client's back-to-back datagrams. Several threads on
/// one socket may not: each takes the next datagram, and either may send first (UDP never
/// promised order).
#[derive(PartialEq)]
enum Order {
    Kept,
    Any,
}

fn echo_contract_in(server: SocketAddr, order: Order) {
    let c = client(server);
    assert_eq!(round_trip(&c, server, b"hello\n").data(), b"hello\n");
    // Garbage: every byte value, not UTF-8.
    let garbage: Vec<u8> = (0..=255u8).rev().collect();
    assert_eq!(round_trip(&c, server, &garbage).data(), &garbage[..]);
    // An empty datagram is echoed as an empty datagram.
    let empty = round_trip(&c, server, b"");
    assert!(empty.is_empty() && !empty.is_truncated());
    // Boundaries are kept: three datagrams come back as three.
    let words = [&b"one"[..], b"two", b"three"];
    for word in words {
        c.send_to(word, server).unwrap();
    }
    let mut inbox = DatagramPacket::with_capacity(100);
    let mut back: Vec<Vec<u8>> = words
        .iter()
        .map(|_| {
            c.receive(&mut inbox).unwrap();
            inbox.data().to_vec()
        })
        .collect();
    if order == Order::Any {
        back.sort();
    }
    let mut expected: Vec<Vec<u8>> = words.iter().map(|w| w.to_vec()).collect();
    if order == Order::Any {
        expected.sort();
    }
    assert_eq!(back, expected);
    // Several clients at once get their own bytes back.
    let others: Vec<DatagramSocket> = (0..3).map(|_| client(server)).collect();
    for (i, o) in others.iter().enumerate() {
        o.send_to(format!("client {i}").as_bytes(), server).unwrap();
    }
    for (i, o) in others.iter().enumerate() {
        o.receive(&mut inbox).unwrap();
        assert_eq!(inbox.data(), format!("client {i}").as_bytes());
    }
}

fn largest_datagram_contract(server: SocketAddr) {
    let c = client(server);
    let data: Vec<u8> = (0..MAX_PAYLOAD_V4).map(|i| (i * 7 % 256) as u8).collect();
    let back = round_trip(&c, server, &data);
    assert_eq!(back.len(), 65_507);
    assert!(
        back.data() == data.as_slice(),
        "65,507-byte datagram came back changed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_server_keeps_the_contract() {
    let shutdown = Shutdown::manual();
    let server = EchoServer::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let addr = server.local_addr().unwrap();
    let stats = server.stats();
    let task = tokio::spawn(server.run(shutdown.token()));
    tokio::task::spawn_blocking(move || {
        echo_contract(addr);
        largest_datagram_contract(addr);
    })
    .await
    .unwrap();
    shutdown.trigger();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(stats.snapshot(), (10, 0), "10 datagrams echoed, no errors");
    let yields = stats.yields.load(Ordering::Relaxed);
    assert_eq!(
        yields,
        expected_yields(10, ASYNC_YIELD_EVERY),
        "CPU given away"
    );
}

#[tokio::test]
async fn async_server_on_ipv6_loopback() {
    let shutdown = Shutdown::manual();
    let server = EchoServer::bind("[::1]:0".parse().unwrap()).await.unwrap();
    let addr = server.local_addr().unwrap();
    assert_eq!(addr.to_string(), format!("[::1]:{}", addr.port()));
    let task = tokio::spawn(server.run(shutdown.token()));
    tokio::task::spawn_blocking(move || echo_contract(addr))
        .await
        .unwrap();
    shutdown.trigger();
    task.await.unwrap().unwrap();
}

#[test]
fn blocking_server_keeps_the_contract() {
    let server = ThreadServer::start("127.0.0.1:0", serve_blocking);
    echo_contract(server.addr);
    largest_datagram_contract(server.addr);
    assert_eq!(server.stats.snapshot().1, 0);
}

#[test]
fn blocking_server_gives_its_cpu_away_every_few_datagrams() {
    let server = ThreadServer::start("127.0.0.1:0", serve_blocking);
    let stats = Arc::clone(&server.stats);
    let c = client(server.addr);
    for i in 0..20u8 {
        assert_eq!(round_trip(&c, server.addr, &[i]).data(), [i]);
    }
    drop(server); // joins the loop: every echo it made is counted
    assert_eq!(stats.snapshot(), (20, 0));
    let yields = stats.yields.load(Ordering::Relaxed);
    assert_eq!(yields, expected_yields(20, BLOCKING_YIELD_EVERY));
}

/// Yields after `echoes` at one every `every`: none where this process may use one CPU only.
fn expected_yields(echoes: u64, every: u64) -> u64 {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cpus > 1 { echoes / every } else { 0 }
}

#[test]
fn batched_server_keeps_the_contract() {
    let server = ThreadServer::start("127.0.0.1:0", serve_batched);
    echo_contract(server.addr);
    largest_datagram_contract(server.addr);
}

#[test]
fn batched_server_on_ipv6_loopback() {
    let server = ThreadServer::start("[::1]:0", serve_batched);
    echo_contract(server.addr);
}

#[test]
fn batched_server_echoes_a_burst_whole_and_in_order() {
    // More datagrams than one batch, queued before the server reads them.
    let server = ThreadServer::start("127.0.0.1:0", serve_batched);
    let c = client(server.addr);
    let n = udp::echo_batch::BATCH * 3 + 5;
    for i in 0..n {
        c.send_to(format!("datagram {i}").as_bytes(), server.addr)
            .unwrap();
    }
    let mut inbox = DatagramPacket::with_capacity(100);
    for i in 0..n {
        c.receive(&mut inbox).unwrap();
        assert_eq!(inbox.data(), format!("datagram {i}").as_bytes());
    }
    // The counter is bumped after sendmmsg returns: read it once the server has stopped.
    let stats = Arc::clone(&server.stats);
    drop(server);
    assert_eq!(stats.snapshot(), (n as u64, 0));
}

/// Java's own `DatagramSocket` against the async server: the class this crate mirrors speaks to
/// it unchanged (and shows the silent truncation this crate reports).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_java_datagram_socket_client_gets_its_echo() {
    const JAVA: &str = r#"
import java.net.*;
public class EchoClient {
    public static void main(String[] args) throws Exception {
        try (DatagramSocket socket = new DatagramSocket()) {
            socket.setSoTimeout(5000);
            byte[] out = "hello from java".getBytes("UTF-8");
            InetAddress server = InetAddress.getByName("127.0.0.1");
            socket.send(new DatagramPacket(out, out.length, server, Integer.parseInt(args[0])));
            DatagramPacket whole = new DatagramPacket(new byte[1500], 1500);
            socket.receive(whole);
            System.out.println(new String(whole.getData(), 0, whole.getLength(), "UTF-8"));
            socket.send(new DatagramPacket(out, out.length, server, Integer.parseInt(args[0])));
            DatagramPacket small = new DatagramPacket(new byte[5], 5);
            socket.receive(small); // Java cuts the datagram and says nothing
            System.out.println(new String(small.getData(), 0, small.getLength(), "UTF-8"));
        }
    }
}
"#;
    support::skip_unless!(support::require::command(
        "java",
        "Java 17+: apt-get install openjdk-17-jdk-headless"
    ));
    let shutdown = Shutdown::manual();
    let server = EchoServer::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let port = server.local_addr().unwrap().port();
    tokio::spawn(server.run(shutdown.token()));
    let dir = std::env::temp_dir().join(format!("udp-java-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let source = dir.join("EchoClient.java");
    std::fs::write(&source, JAVA).unwrap();
    let out = tokio::process::Command::new("java")
        .arg(&source)
        .arg(port.to_string())
        .output()
        .await
        .expect("java is on PATH but did not start");
    std::fs::remove_dir_all(&dir).unwrap();
    shutdown.trigger();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "hello from java\nhello\n"
    );
}

#[test]
fn batched_server_takes_queued_datagrams_in_batches() {
    // Queue the datagrams before the server starts reading: each recvmmsg takes a full batch.
    let socket = DatagramSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = socket.local_addr().unwrap();
    let c = client(addr);
    let n = udp::echo_batch::BATCH * 3 + 5;
    for i in 0..n {
        c.send_to(format!("queued {i}").as_bytes(), addr).unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let stats = Arc::new(EchoStats::default());
    let (s, st) = (Arc::clone(&stop), Arc::clone(&stats));
    let thread = std::thread::spawn(move || serve_batched(&socket, &s, &st));
    let mut inbox = DatagramPacket::with_capacity(100);
    for i in 0..n {
        c.receive(&mut inbox).unwrap();
        assert_eq!(inbox.data(), format!("queued {i}").as_bytes());
    }
    stop.store(true, Ordering::Relaxed);
    thread.join().unwrap().unwrap();
    let calls = stats.batches.load(Ordering::Relaxed);
    assert_eq!(stats.snapshot(), (n as u64, 0));
    assert_eq!(
        calls, 4,
        "{n} queued datagrams should take 4 recvmmsg calls of up to 32"
    );
}

#[test]
fn async_server_on_two_threads_keeps_the_contract_and_stops() {
    let socket = DatagramSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = socket.local_addr().unwrap();
    let shutdown = Shutdown::manual();
    let stats = Arc::new(EchoStats::default());
    let (token, st) = (shutdown.token(), Arc::clone(&stats));
    let threads =
        std::thread::spawn(move || udp::echo::serve_async_threads(&socket, 2, &token, &st));
    echo_contract_in(addr, Order::Any);
    largest_datagram_contract(addr);
    shutdown.trigger();
    threads.join().unwrap().unwrap();
    // Counted after each send returns, so read once every thread has stopped: hello, garbage,
    // empty, three words, three clients, the largest datagram.
    assert_eq!(stats.snapshot(), (10, 0));
}

#[test]
fn an_echo_socket_gets_the_receive_buffer_it_asks_for() {
    let asked = 50_000; // no system default is twice this
    let default = udp::echo::bind_echo_socket("127.0.0.1:0".parse().unwrap(), None).unwrap();
    let sized = udp::echo::bind_echo_socket("127.0.0.1:0".parse().unwrap(), Some(asked)).unwrap();
    // Linux stores twice the value asked for (its bookkeeping), capped at net.core.rmem_max.
    assert!(sized.receive_buffer_size().unwrap() >= asked);
    assert_ne!(
        sized.receive_buffer_size().unwrap(),
        default.receive_buffer_size().unwrap()
    );
}

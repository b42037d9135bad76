//! `--pcap FILE`: the proxies' traffic as a capture. Read back with the same crates
//! (`pcap-file`, `etherparse`): handshake first, sequence and acknowledgement numbers that
//! add up, FINs for the half-closes, the payload byte for byte; and, where tshark is
//! installed, no expert warnings and "Follow TCP Stream" giving the session.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use etherparse::{NetSlice, SlicedPacket, TransportSlice};
use pcap_file::pcap::PcapReader;
use proxy::pcap::write::TcpPcap;
use proxy::tcp::{Proxy, ProxyConfig};
use proxy::udp::{FaultProxy, Faults};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

fn scratch(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("proxy-pcap-{name}-{}.pcap", std::process::id()))
}

/// One decoded packet: addresses, TCP fields if TCP, payload.
#[derive(Debug)]
struct Packet {
    src: SocketAddr,
    dst: SocketAddr,
    tcp: Option<Tcp>,
    payload: Vec<u8>,
}

#[derive(Debug, Clone, Copy)]
struct Tcp {
    seq: u32,
    ack: Option<u32>,
    syn: bool,
    fin: bool,
    rst: bool,
}

fn read_pcap(path: &Path) -> Vec<Packet> {
    let mut reader = PcapReader::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut packets = Vec::new();
    while let Some(packet) = reader.next_packet() {
        let packet = packet.unwrap();
        assert_eq!(packet.orig_len as usize, packet.data.len(), "nothing cut");
        let sliced = SlicedPacket::from_ethernet(&packet.data).unwrap();
        let (src_ip, dst_ip) = match sliced.net.unwrap() {
            NetSlice::Ipv4(v4) => (
                v4.header().source_addr().into(),
                v4.header().destination_addr().into(),
            ),
            NetSlice::Ipv6(v6) => (
                v6.header().source_addr().into(),
                v6.header().destination_addr().into(),
            ),
            other => panic!("not IP: {other:?}"),
        };
        let (ports, tcp, payload) = match sliced.transport.unwrap() {
            TransportSlice::Tcp(t) => (
                (t.source_port(), t.destination_port()),
                Some(Tcp {
                    seq: t.sequence_number(),
                    ack: t.ack().then(|| t.acknowledgment_number()),
                    syn: t.syn(),
                    fin: t.fin(),
                    rst: t.rst(),
                }),
                t.payload().to_vec(),
            ),
            TransportSlice::Udp(u) => (
                (u.source_port(), u.destination_port()),
                None,
                u.payload().to_vec(),
            ),
            other => panic!("not TCP or UDP: {other:?}"),
        };
        packets.push(Packet {
            src: SocketAddr::new(src_ip, ports.0),
            dst: SocketAddr::new(dst_ip, ports.1),
            tcp,
            payload,
        });
    }
    packets
}

/// An upstream that reads until the client half-closes, then answers `got N bytes` and
/// closes.
async fn counter() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut got = Vec::new();
                stream.read_to_end(&mut got).await.unwrap();
                let answer = format!("got {} bytes\n", got.len());
                stream.write_all(answer.as_bytes()).await.unwrap();
            });
        }
    });
    addr
}

/// Runs one conversation through a TCP proxy writing `path`; returns the client's address
/// and the request it sent.
async fn tcp_session(path: &Path) -> (SocketAddr, SocketAddr, Vec<u8>) {
    let upstream = counter().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    let proxy =
        Proxy::new(ProxyConfig::new(upstream), None).with_pcap(TcpPcap::create(path).unwrap());
    let serving = tokio::spawn(proxy.serve(listener, stop.clone()));
    let request: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let client = stream.local_addr().unwrap();
    stream.write_all(&request).await.unwrap();
    stream.shutdown().await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(answer, b"got 5000 bytes\n");
    drop(stream);
    // The proxy writes the connection's last packets when it closes it; then stop it.
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.cancel();
    serving.await.unwrap();
    (client, upstream, request)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tcp_session_is_a_capture_whose_numbers_add_up() {
    let path = scratch("tcp");
    let (client, server, request) = tcp_session(&path).await;
    let packets = read_pcap(&path);
    std::fs::remove_file(&path).unwrap();
    for p in &packets {
        assert!(
            (p.src, p.dst) == (client, server) || (p.src, p.dst) == (server, client),
            "{p:?}"
        );
    }
    let tcp: Vec<Tcp> = packets.iter().map(|p| p.tcp.unwrap()).collect();
    // The three-way handshake.
    assert!(tcp[0].syn && tcp[0].ack.is_none() && packets[0].src == client);
    assert!(
        tcp[1].syn && tcp[1].ack == Some(tcp[0].seq.wrapping_add(1)) && packets[1].src == server
    );
    assert!(!tcp[2].syn && tcp[2].ack == Some(tcp[1].seq.wrapping_add(1)));
    // Every segment starts where its side's stream has got to and acknowledges all the
    // other side has sent: replay the numbers.
    let mut next = [tcp[0].seq.wrapping_add(1), tcp[1].seq.wrapping_add(1)];
    let mut streams = [Vec::new(), Vec::new()];
    let mut fins = [false, false];
    for (p, t) in packets.iter().zip(&tcp).skip(2) {
        let me = usize::from(p.src == server);
        assert_eq!(t.seq, next[me], "{p:?}");
        assert_eq!(t.ack, Some(next[1 - me]), "{p:?}");
        assert!(!t.rst, "a clean session has no reset: {p:?}");
        assert!(p.payload.len() <= proxy::pcap::write::SEGMENT);
        streams[me].extend_from_slice(&p.payload);
        next[me] = next[me].wrapping_add(p.payload.len() as u32 + u32::from(t.fin));
        fins[me] |= t.fin;
    }
    assert_eq!(streams[0], request);
    assert_eq!(streams[1], b"got 5000 bytes\n");
    assert_eq!(fins, [true, true], "both half-closes are FINs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_udp_session_is_one_packet_per_datagram_sent_on() {
    let path = scratch("udp");
    let server = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let server_addr = server.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = [0u8; 100];
        while let Ok((len, from)) = server.recv_from(&mut buf).await {
            let _ = server.send_to(&buf[..len], from).await;
        }
    });
    let mut config = proxy::udp::ProxyConfig::new("127.0.0.1:0".parse().unwrap(), server_addr);
    config.pcap = Some(path.clone());
    config.faults = Faults {
        duplicate: 1.0,
        ..Faults::default()
    };
    let proxy = FaultProxy::spawn(config).await.unwrap();
    let client = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    client.send_to(b"quote?", proxy.local_addr()).await.unwrap();
    let mut buf = [0u8; 100];
    for _ in 0..4 {
        let (len, _) = tokio::time::timeout(Duration::from_secs(5), client.recv_from(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&buf[..len], b"quote?");
    }
    let stats = proxy.shutdown().await;
    let packets = read_pcap(&path);
    std::fs::remove_file(&path).unwrap();
    assert_eq!(packets.len() as u64, stats.forwarded + stats.duplicated);
    let me = client.local_addr().unwrap();
    let to_server = packets
        .iter()
        .filter(|p| (p.src, p.dst) == (me, server_addr));
    let to_client = packets
        .iter()
        .filter(|p| (p.src, p.dst) == (server_addr, me));
    assert_eq!((to_server.count(), to_client.count()), (2, 4));
    assert!(
        packets
            .iter()
            .all(|p| p.tcp.is_none() && p.payload == b"quote?")
    );
}

fn tshark(args: &[&str]) -> String {
    let out = Command::new("tshark").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tshark_reads_the_tcp_capture_without_warnings_and_follows_the_stream() {
    support::skip_unless!(support::require::command(
        "tshark",
        "apt-get install tshark"
    ));
    let path = scratch("tshark");
    let (_, _, request) = tcp_session(&path).await;
    let file = path.to_str().unwrap();
    let expert = tshark(&["-r", file, "-q", "-z", "expert,note"]);
    let follow = tshark(&["-r", file, "-q", "-z", "follow,tcp,raw,0"]);
    std::fs::remove_file(&path).unwrap();
    assert!(
        !expert.contains("Warns (") && !expert.contains("Errors ("),
        "tshark expert info:\n{expert}"
    );
    // follow,tcp,raw prints each side's data as hex, the server's lines indented by a tab.
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let client_side: String = follow
        .lines()
        .filter(|l| {
            !l.starts_with('\t') && l.chars().all(|c| c.is_ascii_hexdigit()) && !l.is_empty()
        })
        .collect();
    let server_side: String = follow
        .lines()
        .filter_map(|l| l.strip_prefix('\t'))
        .collect();
    assert_eq!(client_side, hex(&request), "{follow}");
    assert_eq!(server_side, hex(b"got 5000 bytes\n"), "{follow}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_capture_converts_back_to_the_conversation() {
    let path = scratch("roundtrip");
    let (_, _, request) = tcp_session(&path).await;
    let out = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    struct Sink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let file = std::fs::File::open(&path).unwrap();
    let converted = proxy::pcap::read::pcap_to_transcript(
        file,
        proxy::pcap::read::ConvertOptions::default(),
        &[],
        Sink(out.clone()),
    )
    .unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!((converted.retransmitted, converted.out_of_order), (0, 0));
    let text = String::from_utf8(out.lock().unwrap().clone()).unwrap();
    let transcript = proxy::transcript::Transcript::parse(&text).unwrap();
    use proxy::transcript::Direction::{ClientToServer, ServerToClient};
    assert_eq!(transcript.stream(1, ClientToServer), request);
    assert_eq!(transcript.stream(1, ServerToClient), b"got 5000 bytes\n");
    assert!(
        text.contains("[1] client>server offset 5000 eof\n"),
        "{text}"
    );
    assert!(text.contains("[1] server>client offset 15 eof\n"), "{text}");
}

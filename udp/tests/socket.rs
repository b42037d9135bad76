//! DatagramSocket and DatagramPacket against real loopback sockets: sizes, truncation, timeouts,
//! connect/disconnect, IPv6, options.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use udp::{
    AsyncDatagramSocket, DatagramPacket, DatagramSocket, MAX_PAYLOAD_V4, MAX_PAYLOAD_V6, UdpError,
};

fn local() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

fn pair() -> (DatagramSocket, DatagramSocket) {
    let a = DatagramSocket::bind(local()).unwrap();
    let b = DatagramSocket::bind(local()).unwrap();
    for s in [&a, &b] {
        s.set_so_timeout(Some(Duration::from_secs(5))).unwrap();
    }
    (a, b)
}

#[test]
fn largest_ipv4_datagram_arrives_intact() {
    let (a, b) = pair();
    b.set_receive_buffer_size(1 << 20).unwrap();
    let data: Vec<u8> = (0..MAX_PAYLOAD_V4).map(|i| (i % 251) as u8).collect();
    a.send(&DatagramPacket::new(data.clone(), b.local_addr().unwrap()))
        .unwrap();
    let mut inbox = DatagramPacket::with_capacity(udp::MAX_DATAGRAM_BUFFER);
    b.receive(&mut inbox).unwrap();
    assert_eq!(inbox.len(), 65_507);
    assert!(!inbox.is_truncated());
    assert_eq!(inbox.data(), &data[..]);
}

#[test]
fn one_byte_over_the_ipv4_limit_is_a_clear_error() {
    let (a, b) = pair();
    let err = a
        .send_to(&vec![0u8; MAX_PAYLOAD_V4 + 1], b.local_addr().unwrap())
        .unwrap_err();
    assert!(matches!(
        err,
        UdpError::TooLarge {
            len: 65_508,
            max: 65_507,
            family: "IPv4"
        }
    ));
    assert!(
        err.to_string().contains("65508 bytes is too large"),
        "{err}"
    );
    assert!(err.is_per_datagram());
}

#[test]
fn kernel_refuses_oversized_datagram_too() {
    // Bypass our own check to show what the kernel says (EMSGSIZE) for 65,508 bytes.
    let (a, b) = pair();
    let err = a
        .as_socket2()
        .send_to(
            &vec![0u8; MAX_PAYLOAD_V4 + 1],
            &b.local_addr().unwrap().into(),
        )
        .unwrap_err();
    assert_eq!(err.raw_os_error(), Some(rustix_emsgsize()));
    assert!(udp::error::is_per_datagram_io(&err));
}

fn rustix_emsgsize() -> i32 {
    90 // EMSGSIZE on Linux
}

#[test]
fn truncation_is_reported_with_the_true_length() {
    let (a, b) = pair();
    a.send_to(&[7u8; 1000], b.local_addr().unwrap()).unwrap();
    let mut inbox = DatagramPacket::with_capacity(100);
    b.receive(&mut inbox).unwrap();
    assert!(inbox.is_truncated());
    assert_eq!(inbox.len(), 100);
    assert_eq!(inbox.datagram_len(), 1000);
    assert_eq!(inbox.data(), &[7u8; 100][..]);
    // The rest of that datagram is gone: the next receive gets the next datagram.
    a.send_to(b"next", b.local_addr().unwrap()).unwrap();
    b.receive(&mut inbox).unwrap();
    assert_eq!(inbox.data(), b"next");
    assert!(!inbox.is_truncated());
}

#[test]
fn empty_datagram_is_a_datagram() {
    let (a, b) = pair();
    a.send_to(b"", b.local_addr().unwrap()).unwrap();
    let mut inbox = DatagramPacket::with_capacity(10);
    b.receive(&mut inbox).unwrap();
    assert!(inbox.is_empty());
    assert_eq!(inbox.peer(), Some(a.local_addr().unwrap()));
}

#[test]
fn receive_timeout_expires() {
    let (_a, b) = pair();
    b.set_so_timeout(Some(Duration::from_millis(50))).unwrap();
    // The kernel keeps the timeout in clock ticks, so it may read back slightly larger.
    let t = b.so_timeout().unwrap().unwrap();
    assert!(
        t >= Duration::from_millis(50) && t < Duration::from_millis(100),
        "{t:?}"
    );
    let start = Instant::now();
    let err = b
        .receive(&mut DatagramPacket::with_capacity(10))
        .unwrap_err();
    assert!(matches!(err, UdpError::Timeout), "{err}");
    assert!(start.elapsed() >= Duration::from_millis(40));
}

#[test]
fn connected_socket_filters_other_senders_until_disconnect() {
    let (a, b) = pair();
    let stranger = DatagramSocket::bind(local()).unwrap();
    b.connect(a.local_addr().unwrap()).unwrap();
    assert_eq!(b.peer_addr(), Some(a.local_addr().unwrap()));
    stranger
        .send_to(b"from stranger", b.local_addr().unwrap())
        .unwrap();
    a.send_to(b"from peer", b.local_addr().unwrap()).unwrap();
    let mut inbox = DatagramPacket::with_capacity(100);
    b.receive(&mut inbox).unwrap();
    assert_eq!(
        inbox.data(),
        b"from peer",
        "the kernel dropped the stranger's datagram"
    );
    // Connected: send without an address.
    b.send(&DatagramPacket::unaddressed(b"reply".to_vec()))
        .unwrap();
    a.receive(&mut inbox).unwrap();
    assert_eq!(inbox.data(), b"reply");

    let port_before = b.local_addr().unwrap();
    b.disconnect().unwrap();
    assert_eq!(b.peer_addr(), None);
    assert_eq!(
        b.local_addr().unwrap(),
        port_before,
        "disconnect keeps the local port"
    );
    stranger
        .send_to(b"hello again", b.local_addr().unwrap())
        .unwrap();
    b.receive(&mut inbox).unwrap();
    assert_eq!(inbox.data(), b"hello again");
    assert!(matches!(
        b.send(&DatagramPacket::unaddressed(b"x".to_vec())),
        Err(UdpError::NoDestination)
    ));
}

#[test]
fn connected_socket_reports_port_unreachable() {
    // Reserve a port, then close it so nobody listens there.
    let closed = DatagramSocket::bind(local()).unwrap();
    let dead = closed.local_addr().unwrap();
    drop(closed);
    let s = DatagramSocket::bind(local()).unwrap();
    s.set_so_timeout(Some(Duration::from_secs(2))).unwrap();
    s.connect(dead).unwrap();
    s.send_connected(b"anyone?").unwrap();
    let err = s
        .receive(&mut DatagramPacket::with_capacity(10))
        .unwrap_err();
    assert_eq!(
        err.io_kind(),
        Some(std::io::ErrorKind::ConnectionRefused),
        "{err}"
    );
    assert!(err.is_per_datagram());
}

#[test]
fn ipv6_loopback_works_and_has_its_own_limit() {
    let a = DatagramSocket::bind("[::1]:0".parse().unwrap()).unwrap();
    let b = DatagramSocket::bind("[::1]:0".parse().unwrap()).unwrap();
    b.set_so_timeout(Some(Duration::from_secs(5))).unwrap();
    b.set_receive_buffer_size(1 << 20).unwrap();
    let to = b.local_addr().unwrap();
    assert!(to.to_string().starts_with("[::1]:"));
    a.send_to(&vec![1u8; MAX_PAYLOAD_V6], to).unwrap();
    let mut inbox = DatagramPacket::with_capacity(udp::MAX_DATAGRAM_BUFFER);
    b.receive(&mut inbox).unwrap();
    assert_eq!(inbox.len(), MAX_PAYLOAD_V6);
    let err = a.send_to(&vec![1u8; MAX_PAYLOAD_V6 + 1], to).unwrap_err();
    assert!(matches!(err, UdpError::TooLarge { family: "IPv6", .. }));
}

#[test]
fn options_read_back() {
    let s = DatagramSocket::builder()
        .reuse_address(true)
        .reuse_port(true)
        .broadcast(true)
        .recv_buffer_size(64 * 1024)
        .send_buffer_size(64 * 1024)
        .bind(local())
        .unwrap();
    assert!(s.broadcast().unwrap());
    assert!(s.reuse_address().unwrap());
    assert!(s.as_socket2().reuse_port().unwrap());
    assert!(s.receive_buffer_size().unwrap() >= 64 * 1024);
    assert!(s.send_buffer_size().unwrap() >= 64 * 1024);
    s.set_broadcast(false).unwrap();
    assert!(!s.broadcast().unwrap());
}

#[test]
fn a_port_in_use_is_an_error_not_a_silent_share() {
    let first = DatagramSocket::bind(local()).unwrap();
    assert!(
        !first.reuse_address().unwrap(),
        "off by default, as in Java"
    );
    let err = DatagramSocket::bind(first.local_addr().unwrap()).unwrap_err();
    assert!(err.to_string().contains("in use"), "{err}");
}

#[test]
fn reuse_port_lets_two_sockets_share_a_port() {
    let a = DatagramSocket::builder()
        .reuse_port(true)
        .bind(local())
        .unwrap();
    let port = a.local_addr().unwrap();
    let b = DatagramSocket::builder()
        .reuse_port(true)
        .bind(port)
        .unwrap();
    assert_eq!(b.local_addr().unwrap(), port);
    // A socket without SO_REUSEADDR / SO_REUSEPORT cannot join a port already taken.
    let raw = DatagramSocket::open(local()).unwrap();
    let err = raw.bind(&port.into()).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
}

#[test]
fn prepared_socket2_can_be_bound_and_configured() {
    let raw = DatagramSocket::open(local()).unwrap();
    raw.set_multicast_loop_v4(true).unwrap();
    let s = DatagramSocket::bind_prepared(raw, local()).unwrap();
    assert!(s.as_socket2().multicast_loop_v4().unwrap());
    let s = DatagramSocket::builder()
        .configure(|raw| raw.set_multicast_ttl_v4(1))
        .bind(local())
        .unwrap();
    assert_eq!(s.as_socket2().multicast_ttl_v4().unwrap(), 1);
}

#[tokio::test]
async fn async_socket_reports_truncation_too() {
    let a = AsyncDatagramSocket::bind(local()).await.unwrap();
    let b = AsyncDatagramSocket::bind(local()).await.unwrap();
    a.send_to(&[3u8; 500], b.local_addr().unwrap())
        .await
        .unwrap();
    let mut inbox = DatagramPacket::with_capacity(64);
    b.receive(&mut inbox).await.unwrap();
    assert_eq!((inbox.len(), inbox.datagram_len()), (64, 500));
    assert_eq!(inbox.peer(), Some(a.local_addr().unwrap()));
}

#[tokio::test]
async fn async_connected_socket_reports_refusal_as_per_datagram() {
    let closed = DatagramSocket::bind(local()).unwrap();
    let dead = closed.local_addr().unwrap();
    drop(closed);
    let s = AsyncDatagramSocket::bind(local()).await.unwrap();
    s.connect(dead).await.unwrap();
    s.send(b"anyone?").await.unwrap();
    let err = tokio::time::timeout(Duration::from_secs(2), s.recv_from(&mut [0u8; 16]))
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(
        err.io_kind(),
        Some(std::io::ErrorKind::ConnectionRefused),
        "{err}"
    );
    assert!(err.is_per_datagram());
}

#[test]
fn connected_send_too_large_is_a_clear_error() {
    let (a, b) = pair();
    a.connect(b.local_addr().unwrap()).unwrap();
    let err = a
        .send_connected(&vec![0u8; MAX_PAYLOAD_V4 + 1])
        .unwrap_err();
    assert!(
        matches!(
            err,
            UdpError::TooLarge {
                len: 65_508,
                family: "IPv4",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(a.send_connected(b"fits").unwrap(), 4);
}

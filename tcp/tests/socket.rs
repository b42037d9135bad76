//! `ServerSocket` and `Socket`: every option set and read back, half-close, addresses,
//! and the errors a user meets.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

use tcp::socket::{KeepAlive, ServerSocket, Socket, SocketError};

/// A listening socket on loopback and a client connected to it, with the server's side.
fn pair() -> (ServerSocket, Socket, Socket) {
    let server = ServerSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let client = Socket::connect(&server.local_addr().unwrap().to_string(), None).unwrap();
    let (accepted, _) = server.accept().unwrap();
    (server, client, accepted)
}

#[test]
fn tcp_no_delay_round_trips() {
    let (_server, client, _accepted) = pair();
    client.set_tcp_no_delay(true).unwrap();
    assert!(client.tcp_no_delay().unwrap());
    client.set_tcp_no_delay(false).unwrap();
    assert!(!client.tcp_no_delay().unwrap());
}

#[test]
fn keep_alive_turns_on_and_off() {
    let (_server, client, _accepted) = pair();
    let probing = KeepAlive {
        idle: Duration::from_secs(30),
        interval: Duration::from_secs(5),
        count: 4,
    };
    client.set_keep_alive(Some(probing)).unwrap();
    assert!(client.keep_alive().unwrap());
    client.set_keep_alive(None).unwrap();
    assert!(!client.keep_alive().unwrap());
}

#[test]
fn linger_round_trips() {
    let (_server, client, _accepted) = pair();
    client.set_so_linger(Some(Duration::from_secs(2))).unwrap();
    assert_eq!(client.so_linger().unwrap(), Some(Duration::from_secs(2)));
    client.set_so_linger(None).unwrap();
    assert_eq!(client.so_linger().unwrap(), None);
}

#[test]
fn buffer_sizes_are_set_doubled_as_linux_does() {
    let (_server, client, _accepted) = pair();
    client.set_send_buffer_size(64 * 1024).unwrap();
    client.set_receive_buffer_size(64 * 1024).unwrap();
    assert_eq!(client.send_buffer_size().unwrap(), 128 * 1024);
    assert_eq!(client.receive_buffer_size().unwrap(), 128 * 1024);
}

#[test]
fn so_timeout_makes_a_silent_read_fail() {
    let (_server, mut client, _accepted) = pair();
    client
        .set_so_timeout(Some(Duration::from_millis(30)))
        .unwrap();
    // The kernel keeps the timeout in clock ticks, so it reads back rounded (30 -> 32 ms).
    let kept = client.so_timeout().unwrap().expect("a timeout is set");
    assert!(
        kept.abs_diff(Duration::from_millis(30)) <= Duration::from_millis(10),
        "{kept:?}"
    );
    let err = client.read(&mut [0u8; 8]).unwrap_err();
    // Interrupted: a read with a timeout is not restarted after a stop and continue of
    // this process (`signal(7)`); it got no bytes all the same.
    assert!(matches!(
        err.kind(),
        std::io::ErrorKind::WouldBlock
            | std::io::ErrorKind::TimedOut
            | std::io::ErrorKind::Interrupted
    ));
}

#[test]
fn shutdown_output_is_a_half_close() {
    let (_server, mut client, mut accepted) = pair();
    client.write_all(b"last words").unwrap();
    client.shutdown_output().unwrap();
    let mut heard = Vec::new();
    accepted.read_to_end(&mut heard).unwrap(); // end-of-stream after the bytes
    assert_eq!(heard, b"last words");
    accepted.write_all(b"still listening").unwrap(); // the other direction is open
    accepted.shutdown_output().unwrap();
    let mut reply = Vec::new();
    client.read_to_end(&mut reply).unwrap();
    assert_eq!(reply, b"still listening");
}

#[test]
fn addresses_match_on_both_ends() {
    let (server, client, accepted) = pair();
    assert_eq!(client.peer_addr().unwrap(), server.local_addr().unwrap());
    assert_eq!(accepted.peer_addr().unwrap(), client.local_addr().unwrap());
}

#[test]
fn a_clone_reads_while_the_original_writes() {
    let (_server, client, accepted) = pair();
    let reader = client.try_clone().unwrap();
    (&accepted).write_all(b"ping").unwrap();
    let mut got = [0u8; 4];
    (&reader).read_exact(&mut got).unwrap();
    assert_eq!(&got, b"ping");
}

#[test]
fn connecting_to_a_closed_port_is_refused() {
    let server = ServerSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = server.local_addr().unwrap().to_string();
    drop(server);
    let err = Socket::connect(&addr, Some(Duration::from_secs(1))).unwrap_err();
    assert!(matches!(err, SocketError::Connect { .. }), "{err}");
    let cause = std::error::Error::source(&err).map(ToString::to_string);
    assert!(cause.is_some_and(|c| c.contains("refused")), "{err}");
}

#[test]
fn an_unknown_host_is_a_resolve_error() {
    let err = Socket::connect("no-such-host.invalid:7", None).unwrap_err();
    assert!(matches!(err, SocketError::Resolve { .. }), "{err}");
}

#[test]
fn tokio_conversions_keep_the_connection() {
    let server = ServerSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr: SocketAddr = server.local_addr().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = server.into_tokio().unwrap();
        let client = Socket::connect_addr(addr, None).unwrap();
        let mut client = client.into_tokio().unwrap();
        let (mut accepted, _) = listener.accept().await.unwrap();
        client.write_all(b"async").await.unwrap();
        let mut got = [0u8; 5];
        accepted.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"async");
    });
}

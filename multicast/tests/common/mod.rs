//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use multicast::{MulticastSocket, NetworkInterface};

/// How long a test waits for a datagram that should arrive.
pub const ARRIVES: Duration = Duration::from_secs(2);
/// How long a test waits to be sure a datagram does NOT arrive.
pub const SILENT: Duration = Duration::from_millis(250);

/// A group no other test (nor the same test in another process) uses: 239.X.Y.Z with X from
/// the process id and Y from the test's own number. Ports are ephemeral on top of that.
pub fn unique_group(test_id: u8) -> IpAddr {
    let pid = std::process::id();
    IpAddr::V4(Ipv4Addr::new(
        239,
        100 + (pid % 100) as u8,
        test_id,
        1 + (pid / 100 % 250) as u8,
    ))
}

/// The loopback interface.
pub fn lo() -> NetworkInterface {
    NetworkInterface::loopback().expect("loopback interface")
}

/// `count` listeners joined to `group` on loopback, all on one port (the first picks it).
pub fn listeners(group: IpAddr, count: usize) -> (Vec<MulticastSocket>, SocketAddr) {
    let first =
        MulticastSocket::listener(SocketAddr::new(group, 0), &lo()).expect("first listener");
    let addr = SocketAddr::new(group, first.local_addr().unwrap().port());
    let mut all = vec![first];
    for _ in 1..count {
        all.push(MulticastSocket::listener(addr, &lo()).expect("listener on the shared port"));
    }
    (all, addr)
}

/// Receives one datagram within `wait`: `Some((text, sender))`, or `None` on timeout.
pub fn recv_text(socket: &MulticastSocket, wait: Duration) -> Option<(String, SocketAddr)> {
    socket.set_so_timeout(Some(wait)).unwrap();
    let mut buf = [0u8; 2048];
    match socket.recv_from(&mut buf) {
        Ok(info) => Some((
            String::from_utf8_lossy(&buf[..info.len]).into_owned(),
            info.peer,
        )),
        Err(e) if e.is_timeout() => None,
        Err(e) => panic!("receive failed: {e}"),
    }
}

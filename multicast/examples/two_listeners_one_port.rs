//! Two sockets, one port, one host, and BOTH get every datagram: what `SO_REUSEPORT` (plus
//! `SO_REUSEADDR`) means for multicast. For unicast the kernel would give each datagram to only
//! one of them; for multicast each member socket gets its own copy.
//!
//! Run: `cargo run -p multicast --example two_listeners_one_port`
//!
//! ```text
//! first  listener bound 239.255.42.98:40002
//! second listener bound 239.255.42.98:40002 (same port)
//! first  got "to everyone"
//! second got "to everyone"
//! ```
#![forbid(unsafe_code)]

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use multicast::{MulticastSocket, NetworkInterface};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let lo = NetworkInterface::loopback()?;
    let group = SocketAddr::new(Ipv4Addr::new(239, 255, 42, 98).into(), 0);

    let first = MulticastSocket::listener(group, &lo)?;
    let shared = first.local_addr()?; // the port the kernel picked
    // Without SO_REUSEPORT on BOTH sockets this bind would fail with EADDRINUSE.
    let second = MulticastSocket::listener(shared, &lo)?;
    println!("first  listener bound {shared}");
    println!("second listener bound {} (same port)", second.local_addr()?);

    MulticastSocket::sender(&lo, false)?.send_to(b"to everyone", shared)?;

    for (name, socket) in [("first ", &first), ("second", &second)] {
        socket.set_so_timeout(Some(Duration::from_secs(2)))?;
        let mut buf = [0u8; 100];
        let info = socket.recv_from(&mut buf)?;
        println!("{name} got {:?}", String::from_utf8_lossy(&buf[..info.len]));
    }
    Ok(())
}

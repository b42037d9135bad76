//! One program, one group: join, send, receive, leave. The smallest complete multicast round
//! trip, the Rust twin of the usual Java `MulticastSocket` example.
//!
//! Run: `cargo run -p multicast --example hello_group`
//!
//! ```text
//! joined 239.255.42.99 on lo, bound 239.255.42.99:40001
//! sent 5 bytes to 239.255.42.99:40001
//! received "hello" from 127.0.0.1:53012
//! left 239.255.42.99
//! ```
//! Underneath: `socket(2)`, `setsockopt(SO_REUSEADDR, SO_REUSEPORT)`, `bind(2)`,
//! `setsockopt(IP_ADD_MEMBERSHIP)`, `sendto(2)`, `recvfrom(2)`, `setsockopt(IP_DROP_MEMBERSHIP)`.
#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::time::Duration;

use multicast::{DEFAULT_GROUP_V4, MulticastSocket, NetworkInterface};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Java: NetworkInterface.getByInetAddress(InetAddress.getLoopbackAddress())
    let lo = NetworkInterface::loopback()?;

    // Java: new MulticastSocket(port); joinGroup(new InetSocketAddress(group, port), lo)
    // Port 0: let the kernel pick a free port, so this example never clashes with anything.
    let listener = MulticastSocket::listener(SocketAddr::new(DEFAULT_GROUP_V4.into(), 0), &lo)?;
    let group = listener.local_addr()?;
    println!("joined {} on {}, bound {group}", group.ip(), lo.name);

    // Sending needs no membership: any UDP socket can send to a group.
    let sender = MulticastSocket::sender(&lo, false)?;
    let n = sender.send_to(b"hello", group)?;
    println!("sent {n} bytes to {group}");

    // Java: setSoTimeout(2000); receive(packet)
    listener.set_so_timeout(Some(Duration::from_secs(2)))?;
    let mut buf = [0u8; 1500];
    let info = listener.recv_from(&mut buf)?;
    println!(
        "received {:?} from {}",
        String::from_utf8_lossy(&buf[..info.len]),
        info.peer
    );

    // Java: leaveGroup(...). Closing the socket (drop) would leave too.
    listener.leave(group.ip())?;
    println!("left {}", group.ip());
    Ok(())
}

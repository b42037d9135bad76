//! Source-specific multicast (SSM, RFC 4607): a receiver that names the ONE sender it wants.
//! The kernel filters the rest (`IP_ADD_SOURCE_MEMBERSHIP`, IGMPv3 on the wire). Java's
//! `MulticastSocket` cannot do this; `DatagramChannel.join(group, interface, source)` can.
//!
//! Run: `cargo run -p multicast --example source_specific`
//!
//! ```text
//! listening to 232.1.2.3:40003 from 127.0.0.2 only
//! 127.0.0.1 sent "from .1", 127.0.0.2 sent "from .2"
//! received "from .2" from 127.0.0.2:51515
//! ```
//! Both senders are on this host: any 127.x.y.z address is the loopback interface on Linux.
#![forbid(unsafe_code)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use multicast::{MulticastSocket, NetworkInterface};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let lo = NetworkInterface::loopback()?;
    // 232.0.0.0/8 is the range set aside for source-specific groups.
    let group = IpAddr::V4(Ipv4Addr::new(232, 1, 2, 3));
    let wanted = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

    let listener = MulticastSocket::bind_on(SocketAddr::new(group, 0), &lo)?;
    listener.join_source_group(wanted, group, &lo)?;
    let target = listener.local_addr()?;
    println!("listening to {target} from {wanted} only");

    let from_1 = MulticastSocket::bind("127.0.0.1:0".parse()?)?;
    let from_2 = MulticastSocket::bind("127.0.0.2:0".parse()?)?;
    from_1.send_to(b"from .1", target)?;
    from_2.send_to(b"from .2", target)?;
    println!("127.0.0.1 sent \"from .1\", 127.0.0.2 sent \"from .2\"");

    listener.set_so_timeout(Some(Duration::from_secs(2)))?;
    let mut buf = [0u8; 100];
    let info = listener.recv_from(&mut buf)?;
    println!(
        "received {:?} from {}",
        String::from_utf8_lossy(&buf[..info.len]),
        info.peer
    );
    Ok(())
}

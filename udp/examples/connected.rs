//! What `connect(2)` changes on a UDP socket: no packet is sent, but the kernel now (1) fills in
//! the destination, (2) drops datagrams from anyone else, and (3) reports an ICMP "port
//! unreachable" as `ECONNREFUSED` on a later call. `disconnect` undoes it.
//!
//! Run: `cargo run -p udp --example connected`
//!
//! Two machines: the ICMP "port unreachable" comes back over the network the same way; on a
//! real network a firewall may swallow it, and then the receive only times out.
//!
//! Output:
//! ```text
//! connected to 127.0.0.1:PORT; a stranger's datagram was dropped, the peer's arrived: "from peer"
//! after disconnect the stranger gets through: "stranger again"
//! to a closed port: the next receive reports: recvfrom: Connection refused (os error 111)
//! ```

use std::time::Duration;

use udp::{DatagramPacket, DatagramSocket};

fn socket() -> udp::Result<DatagramSocket> {
    let s = DatagramSocket::bind("127.0.0.1:0".parse().expect("literal address"))?;
    s.set_so_timeout(Some(Duration::from_secs(2)))?;
    Ok(s)
}

fn main() -> udp::Result<()> {
    let (me, peer, stranger) = (socket()?, socket()?, socket()?);
    me.connect(peer.local_addr()?)?;
    stranger.send_to(b"from stranger", me.local_addr()?)?;
    peer.send_to(b"from peer", me.local_addr()?)?;
    let mut packet = DatagramPacket::with_capacity(100);
    me.receive(&mut packet)?;
    println!(
        "connected to {}; a stranger's datagram was dropped, the peer's arrived: {:?}",
        peer.local_addr()?,
        String::from_utf8_lossy(packet.data())
    );

    me.disconnect()?;
    stranger.send_to(b"stranger again", me.local_addr()?)?;
    me.receive(&mut packet)?;
    println!(
        "after disconnect the stranger gets through: {:?}",
        String::from_utf8_lossy(packet.data())
    );

    let closed = socket()?;
    let nobody = closed.local_addr()?;
    drop(closed);
    me.connect(nobody)?;
    me.send_connected(b"hello?")?;
    match me.receive(&mut packet) {
        Err(e) => println!("to a closed port: the next receive reports: {e}"),
        Ok(()) => println!("unexpected reply"),
    }
    Ok(())
}

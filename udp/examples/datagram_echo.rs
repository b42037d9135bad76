//! One server, one client, a few datagrams: the Java `DatagramSocket` / `DatagramPacket`
//! pattern in Rust. Datagrams keep their boundaries: three sends are three receives.
//!
//! Run: `cargo run -p udp --example datagram_echo` (both ends in one process, on loopback).
//! Two machines: run `udp echo-server --bind 0.0.0.0:7007` on one, and on the other
//! `udp echo-client HOST:7007`.
//!
//! Output:
//! ```text
//! server on 127.0.0.1:PORT
//! echoed "one" (3 bytes) back to 127.0.0.1:PORT
//! client got "one" from 127.0.0.1:PORT
//! ...
//! ```

use std::time::Duration;

use udp::{DatagramPacket, DatagramSocket};

fn main() -> udp::Result<()> {
    let server = DatagramSocket::bind("127.0.0.1:0".parse().expect("literal address"))?;
    let client = DatagramSocket::bind("127.0.0.1:0".parse().expect("literal address"))?;
    client.set_so_timeout(Some(Duration::from_secs(2)))?; // Java: setSoTimeout(2000)
    println!("server on {}", server.local_addr()?);

    for word in ["one", "two", "three"] {
        client.send(&DatagramPacket::new(word, server.local_addr()?))?;
    }
    let mut packet = DatagramPacket::with_capacity(1500);
    for _ in 0..3 {
        server.receive(&mut packet)?; // one datagram per receive, never merged
        server.send(&packet)?; // the packet still holds the sender: echo it back
        let text = String::from_utf8_lossy(packet.data());
        println!(
            "echoed {text:?} ({} bytes) back to {}",
            packet.len(),
            packet.peer().expect("set by receive")
        );
        let mut reply = DatagramPacket::with_capacity(1500);
        client.receive(&mut reply)?;
        println!(
            "client got {:?} from {}",
            String::from_utf8_lossy(reply.data()),
            reply.peer().expect("set by receive")
        );
    }
    Ok(())
}

//! A datagram larger than the receive buffer: Java cuts it silently; here `receive` says so and
//! tells the real length (`recvfrom(2)` with `MSG_TRUNC`). The cut-off bytes are gone for good.
//!
//! Run: `cargo run -p udp --example truncation`
//!
//! Two machines: the same happens across a network; `udp echo-server` on one host and any
//! client with a short buffer on the other show it.
//!
//! Output:
//! ```text
//! sent 1000 bytes; received 100 bytes; truncated: true; the datagram had 1000 bytes
//! next receive gets the next datagram: "after"
//! ```

use std::time::Duration;

use udp::{DatagramPacket, DatagramSocket};

fn main() -> udp::Result<()> {
    let receiver = DatagramSocket::bind("127.0.0.1:0".parse().expect("literal address"))?;
    let sender = DatagramSocket::bind("127.0.0.1:0".parse().expect("literal address"))?;
    receiver.set_so_timeout(Some(Duration::from_secs(2)))?;
    let to = receiver.local_addr()?;

    sender.send_to(&[b'x'; 1000], to)?;
    sender.send_to(b"after", to)?;

    let mut small = DatagramPacket::with_capacity(100);
    receiver.receive(&mut small)?;
    println!(
        "sent 1000 bytes; received {} bytes; truncated: {}; the datagram had {} bytes",
        small.len(),
        small.is_truncated(),
        small.datagram_len()
    );
    receiver.receive(&mut small)?;
    println!(
        "next receive gets the next datagram: {:?}",
        String::from_utf8_lossy(small.data())
    );
    Ok(())
}

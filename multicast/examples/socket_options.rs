//! The multicast socket options, set and read back, beside their Java names. Note the one trap:
//! Java's `setLoopbackMode(true)` turns loopback OFF; here `set_loopback(true)` turns it ON.
//!
//! Run: `cargo run -p multicast --example socket_options`
//!
//! ```text
//! IP_MULTICAST_TTL  = 1      (Java getTimeToLive)       default: the local link only
//! IP_MULTICAST_TTL  = 4      after set_time_to_live(4)
//! IP_MULTICAST_LOOP = true   (Java getLoopbackMode() == false)
//! IP_MULTICAST_LOOP = false  after set_loopback(false)  (Java setLoopbackMode(true))
//! IP_MULTICAST_IF   = lo     (Java getNetworkInterface) default: loopback, never 0.0.0.0
//! ```
#![forbid(unsafe_code)]

use multicast::MulticastSocket;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let socket = MulticastSocket::bind("127.0.0.1:0".parse()?)?;

    println!(
        "IP_MULTICAST_TTL  = {:<6} (Java getTimeToLive)       default: the local link only",
        socket.time_to_live()?
    );
    socket.set_time_to_live(4)?;
    println!(
        "IP_MULTICAST_TTL  = {:<6} after set_time_to_live(4)",
        socket.time_to_live()?
    );

    let on = socket.loopback()?;
    println!(
        "IP_MULTICAST_LOOP = {on:<6} (Java getLoopbackMode() == {})",
        !on
    );
    socket.set_loopback(false)?;
    println!(
        "IP_MULTICAST_LOOP = {:<6} after set_loopback(false)  (Java setLoopbackMode(true))",
        socket.loopback()?
    );

    let iface = socket.interface()?;
    println!(
        "IP_MULTICAST_IF   = {:<6} (Java getNetworkInterface) default: loopback, never 0.0.0.0",
        iface.name
    );
    Ok(())
}

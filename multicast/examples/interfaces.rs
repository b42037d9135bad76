//! The host's network interfaces, as Java's `NetworkInterface.getNetworkInterfaces()` lists
//! them: name, index, flags, addresses. Multicast always happens ON an interface, so this is the
//! first thing to look at when a group stays silent.
//!
//! Run: `cargo run -p multicast --example interfaces`
//!
//! ```text
//!   1 lo       up loopback no-multicast  [127.0.0.1, ::1]
//!   4 eth0     up multicast              [192.168.1.20, fe80::1]
//! ```
//! Underneath: `getifaddrs(3)` and `if_nametoindex(3)` (through the `nix` crate).
#![forbid(unsafe_code)]

use multicast::NetworkInterface;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for iface in NetworkInterface::all()? {
        let up = if iface.is_up { "up" } else { "down" };
        let lo = if iface.is_loopback { " loopback" } else { "" };
        let mc = if iface.supports_multicast {
            "multicast"
        } else {
            "no-multicast"
        };
        let flags = format!("{up}{lo} {mc}");
        println!(
            "{:>3} {:<8} {flags:<25} {:?}",
            iface.index, iface.name, iface.addresses
        );
    }
    Ok(())
}

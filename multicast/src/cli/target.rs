//! `--group GROUP:PORT` and `--interface ADDR|NAME|INDEX`, the same in every subcommand.

use std::net::{IpAddr, SocketAddr};

use multicast::group::check_group;
use multicast::{DEFAULT_PORT, NetworkInterface};

use super::UsageError;

/// Where datagrams go: the group, its port, and the interface.
#[derive(Debug, Clone, clap::Args)]
pub struct Target {
    /// Group and port, e.g. 239.255.42.99:4446 or [ff02::4242]:4446 (a group alone uses port 4446)
    #[arg(long, value_name = "GROUP:PORT", default_value = "239.255.42.99:4446", value_parser = parse_group)]
    pub group: SocketAddr,

    /// Interface: an address of this host (127.0.0.1, 192.168.1.20), a name (lo, eth0) or an
    /// index. Default 127.0.0.1; IPv6 groups need one (loopback carries no IPv6 multicast)
    #[arg(long, value_name = "ADDR|NAME", value_parser = parse_interface)]
    pub interface: Option<NetworkInterface>,
}

impl Target {
    /// The interface to use: the one given, or loopback for an IPv4 group.
    ///
    /// # Errors
    /// A [`UsageError`] for an IPv6 group without `--interface` or with the loopback device.
    pub fn interface(&self) -> anyhow::Result<NetworkInterface> {
        match (&self.interface, self.group.is_ipv6()) {
            (Some(iface), true) if iface.is_loopback => Err(UsageError(format!(
                "{} is the loopback device, which cannot carry IPv6 multicast: name another interface",
                iface.name
            ))
            .into()),
            (Some(iface), _) => Ok(iface.clone()),
            (None, false) => Ok(NetworkInterface::loopback()?),
            (None, true) => Err(UsageError(
                "IPv6 groups need --interface NAME|INDEX: the loopback device cannot carry IPv6 multicast \
                 (for a test on one host, use a veth pair in a network namespace)"
                    .into(),
            )
            .into()),
        }
    }
}

/// Parses `GROUP:PORT`, `[V6GROUP]:PORT` or a bare group, and checks it is multicast.
pub fn parse_group(text: &str) -> Result<SocketAddr, String> {
    let addr = match (text.parse::<SocketAddr>(), text.parse::<IpAddr>()) {
        (Ok(addr), _) => addr,
        (_, Ok(ip)) => SocketAddr::new(ip, DEFAULT_PORT),
        _ => {
            return Err(format!(
                "`{text}` is not GROUP:PORT (e.g. 239.255.42.99:4446 or [ff02::4242]:4446)"
            ));
        }
    };
    check_group(addr.ip()).map_err(|e| e.to_string())?;
    Ok(addr)
}

/// Looks an interface up by address, index or name.
pub fn parse_interface(text: &str) -> Result<NetworkInterface, String> {
    NetworkInterface::parse(text).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_parse_with_and_without_port() {
        assert_eq!(
            parse_group("239.1.2.3:5000").unwrap(),
            "239.1.2.3:5000".parse().unwrap()
        );
        assert_eq!(parse_group("239.1.2.3").unwrap().port(), DEFAULT_PORT);
        assert_eq!(parse_group("ff02::4242").unwrap().port(), DEFAULT_PORT);
        assert_eq!(parse_group("[ff02::4242]:9").unwrap().port(), 9);
    }

    #[test]
    fn bad_groups_are_explained() {
        assert!(
            parse_group("10.0.0.1:5000")
                .unwrap_err()
                .contains("is not a multicast address")
        );
        assert!(
            parse_group("239.1.2.3:99999")
                .unwrap_err()
                .contains("is not GROUP:PORT")
        );
        assert!(
            parse_group("hello")
                .unwrap_err()
                .contains("is not GROUP:PORT")
        );
    }
}

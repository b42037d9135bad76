//! Network interfaces, Java's `NetworkInterface`: a name, an index, addresses and flags.
//!
//! Multicast is per interface: a host joins a group ON an interface, and sends to a group OUT OF
//! an interface. IPv4 socket options name the interface by one of its IPv4 addresses
//! (`struct ip_mreq`), IPv6 ones by its index (`struct ipv6_mreq`), so both are kept here.
//!
//! Underneath: `getifaddrs(3)` lists every (interface, address) pair with the interface flags
//! of `netdevice(7)` (`IFF_UP`, `IFF_LOOPBACK`, `IFF_MULTICAST`); `if_nametoindex(3)` gives the
//! index. Both through the `nix` crate, so this crate itself needs no `unsafe`.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use nix::ifaddrs::{InterfaceAddress, getifaddrs};
use nix::net::if_::{InterfaceFlags, if_nametoindex};

use crate::error::{MulticastError, Result};

/// One network interface of this host, as `getifaddrs(3)` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkInterface {
    /// Kernel name, e.g. `lo`, `eth0`, `v0`.
    pub name: String,
    /// Interface index (`if_nametoindex(3)`): what IPv6 socket options take.
    pub index: u32,
    /// IPv4 and IPv6 addresses, in the order the kernel lists them (the one the user named
    /// first when looked up by address).
    pub addresses: Vec<IpAddr>,
    /// `IFF_UP`: administratively up.
    pub is_up: bool,
    /// `IFF_LOOPBACK`: the loopback device.
    pub is_loopback: bool,
    /// `IFF_MULTICAST`: the driver supports multicast. Linux still routes IPv4 multicast
    /// through `lo` (which lacks the flag), but not IPv6 multicast.
    pub supports_multicast: bool,
}

impl NetworkInterface {
    /// Every interface of this host, sorted by index (`getifaddrs(3)`).
    ///
    /// # Errors
    /// [`MulticastError::Io`] if the kernel refuses the listing.
    pub fn all() -> Result<Vec<NetworkInterface>> {
        let entries = getifaddrs().map_err(|e| MulticastError::Io {
            op: "getifaddrs".into(),
            source: e.into(),
        })?;
        let mut by_name: BTreeMap<String, NetworkInterface> = BTreeMap::new();
        for entry in entries {
            let iface = by_name
                .entry(entry.interface_name.clone())
                .or_insert_with(|| from_flags(&entry));
            if let Some(ip) = ip_of(&entry) {
                iface.addresses.push(ip);
            }
        }
        let mut list: Vec<_> = by_name.into_values().collect();
        list.sort_by_key(|iface| iface.index);
        Ok(list)
    }

    /// The interface with this name (Java `NetworkInterface.getByName`).
    ///
    /// # Errors
    /// [`MulticastError::NoSuchInterface`] if there is none.
    pub fn by_name(name: &str) -> Result<NetworkInterface> {
        Self::all()?
            .into_iter()
            .find(|iface| iface.name == name)
            .ok_or_else(|| MulticastError::NoSuchInterface {
                name: name.to_string(),
            })
    }

    /// The interface with this index (Java `NetworkInterface.getByIndex`).
    ///
    /// # Errors
    /// [`MulticastError::NoSuchInterface`] if there is none.
    pub fn by_index(index: u32) -> Result<NetworkInterface> {
        Self::all()?
            .into_iter()
            .find(|iface| iface.index == index)
            .ok_or_else(|| MulticastError::NoSuchInterface {
                name: index.to_string(),
            })
    }

    /// The interface that carries `addr` (Java `NetworkInterface.getByInetAddress`), with
    /// `addr` moved to the front of its address list so IPv4 options use exactly that address.
    ///
    /// # Errors
    /// [`MulticastError::UnspecifiedInterface`] for 0.0.0.0 or ::,
    /// [`MulticastError::NoInterfaceWithAddress`] if no interface has it.
    pub fn by_address(addr: IpAddr) -> Result<NetworkInterface> {
        if addr.is_unspecified() {
            return Err(MulticastError::UnspecifiedInterface { addr });
        }
        let mut iface = Self::all()?
            .into_iter()
            .find(|iface| iface.addresses.contains(&addr))
            .ok_or(MulticastError::NoInterfaceWithAddress { addr })?;
        iface.addresses.retain(|a| *a != addr);
        iface.addresses.insert(0, addr);
        Ok(iface)
    }

    /// The loopback interface, found by its address 127.0.0.1: the crate's safe default.
    ///
    /// # Errors
    /// [`MulticastError::NoInterfaceWithAddress`] on a host without 127.0.0.1.
    pub fn loopback() -> Result<NetworkInterface> {
        Self::by_address(IpAddr::V4(Ipv4Addr::LOCALHOST))
    }

    /// Parses what a user types after `--interface`: an address (`127.0.0.1`, `fe80::1`), an
    /// index (`3`) or a name (`lo`, `v0`).
    ///
    /// # Errors
    /// The lookup's error: no such interface, no interface with that address, or an
    /// unspecified address.
    pub fn parse(spec: &str) -> Result<NetworkInterface> {
        if let Ok(addr) = spec.parse::<IpAddr>() {
            return Self::by_address(addr);
        }
        if let Ok(index) = spec.parse::<u32>() {
            return Self::by_index(index);
        }
        Self::by_name(spec)
    }

    /// The interface's first IPv4 address (the one named by the user, if looked up by address).
    pub fn ipv4(&self) -> Option<Ipv4Addr> {
        self.addresses.iter().find_map(|a| match a {
            IpAddr::V4(v4) => Some(*v4),
            IpAddr::V6(_) => None,
        })
    }

    /// The IPv4 address that names this interface in IPv4 multicast options.
    ///
    /// # Errors
    /// [`MulticastError::NoIpv4Address`] if it has none.
    pub fn ipv4_for_multicast(&self) -> Result<Ipv4Addr> {
        self.ipv4().ok_or_else(|| MulticastError::NoIpv4Address {
            name: self.name.clone(),
        })
    }

    /// The interface's IPv6 addresses.
    pub fn ipv6(&self) -> impl Iterator<Item = Ipv6Addr> + '_ {
        self.addresses.iter().filter_map(|a| match a {
            IpAddr::V6(v6) => Some(*v6),
            IpAddr::V4(_) => None,
        })
    }
}

/// A new, address-less interface from the flags of one `getifaddrs` entry.
fn from_flags(entry: &InterfaceAddress) -> NetworkInterface {
    NetworkInterface {
        name: entry.interface_name.clone(),
        // An interface that vanished between the two calls gets index 0 and is never matched.
        index: if_nametoindex(entry.interface_name.as_str()).unwrap_or(0),
        addresses: Vec::new(),
        is_up: entry.flags.contains(InterfaceFlags::IFF_UP),
        is_loopback: entry.flags.contains(InterfaceFlags::IFF_LOOPBACK),
        supports_multicast: entry.flags.contains(InterfaceFlags::IFF_MULTICAST),
    }
}

/// The IP address of one `getifaddrs` entry (entries of other families, such as `AF_PACKET`,
/// give `None`).
fn ip_of(entry: &InterfaceAddress) -> Option<IpAddr> {
    let addr = entry.address.as_ref()?;
    if let Some(v4) = addr.as_sockaddr_in() {
        return Some(IpAddr::V4(v4.ip()));
    }
    addr.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_found_by_name_index_and_address() {
        let lo = NetworkInterface::loopback().unwrap();
        assert!(lo.is_loopback);
        assert_eq!(lo.ipv4(), Some(Ipv4Addr::LOCALHOST));
        assert_eq!(NetworkInterface::by_name(&lo.name).unwrap().index, lo.index);
        assert_eq!(
            NetworkInterface::parse(&lo.index.to_string()).unwrap().name,
            lo.name
        );
        assert_eq!(NetworkInterface::parse("127.0.0.1").unwrap().name, lo.name);
    }

    #[test]
    fn missing_interfaces_are_named_in_the_error() {
        let err = NetworkInterface::parse("nosuch0").unwrap_err();
        assert_eq!(
            err.to_string(),
            "no network interface named `nosuch0` on this host (run `multicast doctor` to list them)"
        );
        let err = NetworkInterface::parse("203.0.113.77").unwrap_err();
        assert!(
            err.to_string()
                .contains("no network interface of this host has the address 203.0.113.77")
        );
        let err = NetworkInterface::parse("999999").unwrap_err();
        assert!(matches!(err, MulticastError::NoSuchInterface { .. }));
    }

    #[test]
    fn unspecified_addresses_are_refused() {
        for spec in ["0.0.0.0", "::"] {
            let err = NetworkInterface::parse(spec).unwrap_err();
            assert!(
                matches!(err, MulticastError::UnspecifiedInterface { .. }),
                "{spec}"
            );
        }
    }
}

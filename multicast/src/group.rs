//! Group addresses: which addresses are multicast, and how far a datagram to each one may travel.
//!
//! IPv4 groups are the old class D, `224.0.0.0/4` (RFC 5771); IPv6 groups are `ff00::/8`, with the
//! scope written in the address itself (RFC 4291 section 2.7). The checks here run before any
//! system call, so a mistake is reported in words rather than as the kernel's `EINVAL`.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::error::{MulticastError, Result, family_name};

/// The suite's default group: administratively scoped (RFC 2365), so routers do not forward it
/// off the organisation's network, and it stays off well-known assignments.
pub const DEFAULT_GROUP_V4: Ipv4Addr = Ipv4Addr::new(239, 255, 42, 99);

/// The suite's default port for multicast examples.
pub const DEFAULT_PORT: u16 = 4446;

/// Checks that `addr` is a multicast group address.
///
/// # Errors
/// [`MulticastError::NotMulticast`] for any unicast or broadcast address.
pub fn check_group(addr: IpAddr) -> Result<()> {
    if addr.is_multicast() {
        Ok(())
    } else {
        Err(MulticastError::NotMulticast { addr })
    }
}

/// Checks that `addr` belongs to the same family as a socket that is IPv6 when `socket_is_v6`.
///
/// `what` names the role of the address in the error message ("group", "source", ...).
///
/// # Errors
/// [`MulticastError::FamilyMismatch`] when the families differ.
pub fn check_family(what: &'static str, addr: IpAddr, socket_is_v6: bool) -> Result<()> {
    if addr.is_ipv6() == socket_is_v6 {
        return Ok(());
    }
    Err(MulticastError::FamilyMismatch {
        what,
        addr,
        addr_family: family_name(&addr),
        socket_family: if socket_is_v6 { "IPv6" } else { "IPv4" },
    })
}

/// How far a multicast datagram to a group may travel: the group's scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Stays on one interface (IPv6 `ff01::/16`); never sent on a wire.
    InterfaceLocal,
    /// Stays on the local link: IPv4 `224.0.0.0/24`, IPv6 `ff02::/16`. Routers never forward it.
    LinkLocal,
    /// IPv6 `ff04::/16`: the smallest scope an administrator configures.
    AdminLocal,
    /// IPv4 `239.255.0.0/16`, IPv6 `ff05::/16`: one site.
    SiteLocal,
    /// IPv4 `239.192.0.0/14`, IPv6 `ff08::/16`: one organisation.
    OrganizationLocal,
    /// IPv4 `239.0.0.0/8` outside the ranges above: administratively scoped (RFC 2365).
    AdminScoped,
    /// IPv4 `232.0.0.0/8`: source-specific multicast (RFC 4607); receivers name the sender.
    SourceSpecific,
    /// Anything else: globally scoped, routable in principle (in practice the internet does not
    /// carry multicast between providers).
    Global,
}

impl Scope {
    /// The scope of a multicast address.
    ///
    /// # Errors
    /// [`MulticastError::NotMulticast`] if `addr` is not a group.
    pub fn of(addr: IpAddr) -> Result<Scope> {
        check_group(addr)?;
        Ok(match addr {
            IpAddr::V4(v4) => scope_v4(v4),
            IpAddr::V6(v6) => scope_v6(v6),
        })
    }
}

fn scope_v4(addr: Ipv4Addr) -> Scope {
    match addr.octets() {
        [224, 0, 0, _] => Scope::LinkLocal,
        [232, ..] => Scope::SourceSpecific,
        [239, 255, ..] => Scope::SiteLocal,
        [239, b, ..] if (192..=195).contains(&b) => Scope::OrganizationLocal,
        [239, ..] => Scope::AdminScoped,
        _ => Scope::Global,
    }
}

fn scope_v6(addr: Ipv6Addr) -> Scope {
    // The low 4 bits of the second byte: ff0S::  (RFC 4291 section 2.7, RFC 7346).
    match addr.octets()[1] & 0x0f {
        0x1 => Scope::InterfaceLocal,
        0x2 => Scope::LinkLocal,
        0x4 => Scope::AdminLocal,
        0x5 => Scope::SiteLocal,
        0x8 => Scope::OrganizationLocal,
        _ => Scope::Global,
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Scope::InterfaceLocal => "interface-local",
            Scope::LinkLocal => "link-local",
            Scope::AdminLocal => "admin-local",
            Scope::SiteLocal => "site-local",
            Scope::OrganizationLocal => "organization-local",
            Scope::AdminScoped => "administratively scoped",
            Scope::SourceSpecific => "source-specific",
            Scope::Global => "global",
        };
        f.write_str(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn unicast_and_broadcast_are_not_groups() {
        for bad in ["127.0.0.1", "255.255.255.255", "10.1.2.3", "::1", "fe80::1"] {
            let err = check_group(ip(bad)).unwrap_err();
            assert!(
                err.to_string().contains("is not a multicast address"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn class_d_and_ff_are_groups() {
        for good in ["224.0.0.1", "239.255.42.99", "ff02::4242", "ff05::1:3"] {
            check_group(ip(good)).unwrap();
        }
    }

    #[test]
    fn family_mismatch_names_both_families() {
        let err = check_family("group", ip("239.1.2.3"), true).unwrap_err();
        assert_eq!(
            err.to_string(),
            "group 239.1.2.3 is IPv4 but the socket is IPv6: use one family throughout"
        );
        check_family("group", ip("ff02::1"), true).unwrap();
    }

    #[test]
    fn scopes() {
        let cases = [
            ("224.0.0.251", Scope::LinkLocal),
            ("232.1.1.1", Scope::SourceSpecific),
            ("239.255.42.99", Scope::SiteLocal),
            ("239.193.0.1", Scope::OrganizationLocal),
            ("239.1.2.3", Scope::AdminScoped),
            ("225.1.2.3", Scope::Global),
            ("ff01::1", Scope::InterfaceLocal),
            ("ff02::4242", Scope::LinkLocal),
            ("ff05::1:3", Scope::SiteLocal),
            ("ff0e::1", Scope::Global),
        ];
        for (addr, scope) in cases {
            assert_eq!(Scope::of(ip(addr)).unwrap(), scope, "{addr}");
        }
        assert!(Scope::of(ip("192.0.2.1")).is_err());
    }
}

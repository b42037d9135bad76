//! The groups this host has joined, as the kernel lists them in `/proc/net/igmp` (IPv4, the
//! IGMP state) and `/proc/net/igmp6` (IPv6, the MLD state). Linux only.
//!
//! A socket's `IP_ADD_MEMBERSHIP` / `IPV6_JOIN_GROUP` shows up here as one more *user* of the
//! group on that interface; the kernel reports the membership to routers (IGMP, MLD) once per
//! interface, whatever the number of sockets. Reading these files is how `multicast doctor`
//! (and `ip maddr`) tell whether a join really happened, and on which interface.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Where the kernel lists IPv4 memberships.
pub const PROC_IGMP: &str = "/proc/net/igmp";
/// Where the kernel lists IPv6 memberships.
pub const PROC_IGMP6: &str = "/proc/net/igmp6";

/// One group joined on one interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    /// Interface index.
    pub index: u32,
    /// Interface name.
    pub device: String,
    /// The group.
    pub group: IpAddr,
    /// How many sockets (and kernel users, such as the all-hosts group) hold this membership.
    pub users: u32,
}

/// Every group joined on this host, IPv4 first (reads [`PROC_IGMP`] and [`PROC_IGMP6`]; a file
/// that does not exist, as on a kernel without IPv6, counts as empty).
///
/// # Errors
/// Any other error reading the files.
pub fn joined_groups() -> io::Result<Vec<Membership>> {
    let mut all = parse_igmp(&read_optional(PROC_IGMP)?);
    all.extend(parse_igmp6(&read_optional(PROC_IGMP6)?));
    Ok(all)
}

fn read_optional(path: &str) -> io::Result<String> {
    match std::fs::read_to_string(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(String::new()),
        other => other,
    }
}

/// Parses the text of `/proc/net/igmp`.
///
/// ```text
/// Idx     Device    : Count Querier       Group    Users Timer    Reporter
/// 1       lo        :     1      V3
///                                 010000E0     1 0:00000000               0
/// ```
/// A device line starts in column 0; the group lines under it are indented. The group is the
/// `__be32` address printed with `%08X`, that is as a native-endian integer, so its bytes in
/// network order are the integer's native-endian bytes.
pub fn parse_igmp(text: &str) -> Vec<Membership> {
    let mut out = Vec::new();
    let mut device: Option<(u32, String)> = None;
    for line in text.lines().skip(1) {
        let mut words = line.split_whitespace();
        if line.starts_with(char::is_whitespace) {
            let group = words.next().and_then(|w| u32::from_str_radix(w, 16).ok());
            let users = words.next().and_then(|w| w.parse().ok());
            if let (Some((index, name)), Some(group), Some(users)) = (&device, group, users) {
                let group = IpAddr::V4(Ipv4Addr::from(group.to_ne_bytes()));
                out.push(Membership {
                    index: *index,
                    device: name.clone(),
                    group,
                    users,
                });
            }
        } else {
            let index = words.next().and_then(|w| w.parse().ok());
            let name = words.next().map(|w| w.trim_end_matches(':').to_string());
            device = index.zip(name);
        }
    }
    out
}

/// Parses the text of `/proc/net/igmp6`: one line per membership,
/// `index device group-as-32-hex-digits users flags timer`.
pub fn parse_igmp6(text: &str) -> Vec<Membership> {
    text.lines().filter_map(parse_igmp6_line).collect()
}

fn parse_igmp6_line(line: &str) -> Option<Membership> {
    let mut words = line.split_whitespace();
    let index = words.next()?.parse().ok()?;
    let device = words.next()?.to_string();
    let hex = words.next()?;
    let group = IpAddr::V6(Ipv6Addr::from(u128::from_str_radix(hex, 16).ok()?));
    let users = words.next()?.parse().ok()?;
    Some(Membership {
        index,
        device,
        group,
        users,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Captured from a Linux 6.x host (tabs as the kernel prints them).
    const IGMP: &str = "Idx\tDevice    : Count Querier\tGroup    Users Timer\tReporter\n\
        1\tlo        :     2      V3\n\
        \t\t\t\t010000E0     1 0:00000000\t\t0\n\
        \t\t\t\t632AFFEF     3 0:00000000\t\t0\n\
        4\teth0      :     1      V3\n\
        \t\t\t\t010000E0     1 0:00000000\t\t0\n";

    const IGMP6: &str = "1    lo              ff020000000000000000000000000001     1 0000000C 0\n\
        3    v0              ff020000000000000000000000004242     2 00000004 0\n";

    #[test]
    fn igmp_groups_are_read_per_device() {
        let got = parse_igmp(IGMP);
        let want = [
            (1, "lo", "224.0.0.1", 1),
            (1, "lo", "239.255.42.99", 3),
            (4, "eth0", "224.0.0.1", 1),
        ];
        assert_eq!(got.len(), want.len());
        for (m, (index, device, group, users)) in got.iter().zip(want) {
            assert_eq!(
                (m.index, m.device.as_str(), m.group, m.users),
                (index, device, group.parse().unwrap(), users)
            );
        }
    }

    #[test]
    fn igmp6_lines_are_read() {
        let got = parse_igmp6(IGMP6);
        assert_eq!(
            got[1],
            Membership {
                index: 3,
                device: "v0".into(),
                group: "ff02::4242".parse().unwrap(),
                users: 2
            }
        );
        assert_eq!(got.len(), 2);
    }

    #[test]
    fn garbage_is_skipped_not_fatal() {
        assert!(parse_igmp("header\n\t\tZZZZ 1\nnot a device line\n").is_empty());
        assert!(parse_igmp6("x y z\n1 lo notHex 1\n").is_empty());
    }

    #[test]
    fn this_host_lists_the_all_hosts_group() {
        // Every IPv4 interface that is up joins 224.0.0.1 by itself (RFC 1112).
        let groups = joined_groups().unwrap();
        assert!(
            groups
                .iter()
                .any(|m| m.group == IpAddr::V4(Ipv4Addr::new(224, 0, 0, 1))),
            "{groups:?}"
        );
    }
}

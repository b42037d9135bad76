//! `multicast doctor`: what this host offers for multicast, and why a listener may hear nothing.
//!
//! It gathers three things: the interfaces (index, flags, addresses; `getifaddrs(3)`), the
//! groups joined on each (`/proc/net/igmp`, `/proc/net/igmp6`), and a round trip over IPv4
//! loopback (a listener and a sender in this process on a fresh group). Then it prints the
//! checklist of the usual reasons nothing arrives, with notes that apply to this host.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use multicast::chat::new_instance_id;
use multicast::error::Result;
use multicast::interface::NetworkInterface;
use multicast::membership::{Membership, joined_groups};
use multicast::socket::MulticastSocket;

/// How long the self-test waits for its own datagram.
pub const SELF_TEST_WAIT: Duration = Duration::from_millis(500);

/// The usual reasons nothing arrives, in the order worth checking them.
pub const CHECKLIST: [&str; 8] = [
    "wrong interface: listener and sender must use an interface on the same link. The default is \
     127.0.0.1 (this host only); on a LAN pass `--interface <LAN address or name>` on BOTH machines.",
    "wrong port or group: the listener's --group GROUP:PORT must be exactly the sender's. A listener \
     is bound to its group's address, so datagrams for another group on the same port never reach it.",
    "not joined: while the listener runs, its group must appear under \"groups joined\" above, on the \
     interface you meant. If it is on another interface, the join went to the wrong one.",
    "TTL: the default time-to-live is 1 (this link only). Crossing a router needs --ttl 2 or more AND a \
     router that forwards multicast (most do not).",
    "loopback mode: a sender with `--loop false` does not deliver to listeners on its own host over a \
     real link (on the loopback device itself the datagram comes back in anyway).",
    "a device without multicast: the interface needs the MULTICAST flag (`ip link set DEV multicast on`) \
     and must be UP. IPv6 multicast never works on `lo`; IPv4 multicast via 127.0.0.1 does on Linux.",
    "a filter on the way: a firewall (nftables/iptables) dropping UDP to the port, reverse-path \
     filtering (rp_filter) dropping datagrams from a source with no route back, a switch's IGMP \
     snooping without a querier, or a Wi-Fi access point that drops multicast.",
    "IPv6 link-local groups (ff02::/16) need the interface: --interface NAME or INDEX on both sides.",
];

/// Everything `doctor` found.
#[derive(Debug)]
pub struct Report {
    /// The host's interfaces.
    pub interfaces: Vec<NetworkInterface>,
    /// Groups joined on the host (empty if `/proc` could not be read; see `membership_error`).
    pub memberships: Vec<Membership>,
    /// Why the memberships could not be read, if they could not.
    pub membership_error: Option<String>,
    /// The IPv4 loopback round trip: `Ok(())` or why it failed.
    pub self_test: std::result::Result<(), String>,
}

impl Report {
    /// Gathers the report.
    ///
    /// # Errors
    /// Only if the interface list cannot be read at all.
    pub fn gather() -> Result<Report> {
        let interfaces = NetworkInterface::all()?;
        let (memberships, membership_error) = match joined_groups() {
            Ok(list) => (list, None),
            Err(e) => (Vec::new(), Some(e.to_string())),
        };
        let self_test = loopback_round_trip().map_err(|e| e.to_string());
        Ok(Report {
            interfaces,
            memberships,
            membership_error,
            self_test,
        })
    }

    /// Notes that apply to this host in particular.
    pub fn notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        for iface in &self.interfaces {
            notes.extend(interface_note(iface));
        }
        if let Err(why) = &self.self_test {
            notes.push(format!("the IPv4 loopback self-test failed ({why}): multicast routing on this host is broken"));
        }
        notes
    }

    /// The report as text, the way `multicast doctor` prints it.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.render_interfaces(&mut out);
        self.render_memberships(&mut out);
        let verdict = match &self.self_test {
            Ok(()) => "delivered".to_string(),
            Err(why) => format!("FAILED: {why}"),
        };
        let _ = writeln!(out, "\nself-test: IPv4 multicast over 127.0.0.1: {verdict}");
        let _ = writeln!(out, "\nchecklist when nothing arrives:");
        for (i, item) in CHECKLIST.iter().enumerate() {
            let _ = writeln!(out, "  {}. {item}", i + 1);
        }
        let notes = self.notes();
        if !notes.is_empty() {
            let _ = writeln!(out, "\nnotes for this host:");
            for note in notes {
                let _ = writeln!(out, "  - {note}");
            }
        }
        out
    }

    /// Where `group` is joined on this host, in one sentence: the first thing to check when a
    /// listener for it hears nothing.
    pub fn group_status(&self, group: IpAddr) -> String {
        let on: Vec<String> = self
            .memberships
            .iter()
            .filter(|m| m.group == group)
            .map(|m| {
                format!(
                    "{} ({} user{})",
                    m.device,
                    m.users,
                    if m.users == 1 { "" } else { "s" }
                )
            })
            .collect();
        if on.is_empty() {
            format!(
                "group {group}: no socket of this host has joined it. Start the listener first \
                 (`multicast listen --group {group}:PORT`), and check its --interface"
            )
        } else {
            format!("group {group}: joined on {}", on.join(", "))
        }
    }

    fn render_interfaces(&self, out: &mut String) {
        let _ = writeln!(out, "interfaces (getifaddrs):");
        let _ = writeln!(
            out,
            "  {:>5}  {:<12} {:<26} addresses",
            "index", "name", "flags"
        );
        for iface in &self.interfaces {
            let addrs: Vec<String> = iface.addresses.iter().map(IpAddr::to_string).collect();
            let addrs = if addrs.is_empty() {
                "-".to_string()
            } else {
                addrs.join(", ")
            };
            let _ = writeln!(
                out,
                "  {:>5}  {:<12} {:<26} {addrs}",
                iface.index,
                iface.name,
                flags(iface)
            );
        }
    }

    fn render_memberships(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "\ngroups joined on this host (/proc/net/igmp, /proc/net/igmp6):"
        );
        if let Some(why) = &self.membership_error {
            let _ = writeln!(out, "  (could not read: {why})");
        }
        for m in &self.memberships {
            let _ = writeln!(
                out,
                "  {:>5}  {:<12} {:<40} users {}",
                m.index, m.device, m.group, m.users
            );
        }
    }
}

/// The flags column: UP / DOWN, LOOPBACK, MULTICAST / NO-MULTICAST.
fn flags(iface: &NetworkInterface) -> String {
    let mut words = vec![if iface.is_up { "UP" } else { "DOWN" }];
    if iface.is_loopback {
        words.push("LOOPBACK");
    }
    words.push(if iface.supports_multicast {
        "MULTICAST"
    } else {
        "NO-MULTICAST"
    });
    words.join(" ")
}

/// A note about one interface, if anything about it matters for multicast.
fn interface_note(iface: &NetworkInterface) -> Option<String> {
    let name = &iface.name;
    if iface.is_loopback && !iface.supports_multicast {
        Some(format!(
            "{name} has no MULTICAST flag: IPv4 multicast via 127.0.0.1 still works (Linux routes it), IPv6 multicast does not"
        ))
    } else if !iface.is_up {
        Some(format!("{name} is DOWN: nothing is sent or received on it"))
    } else if !iface.supports_multicast {
        Some(format!(
            "{name} has no MULTICAST flag: `ip link set {name} multicast on` to use it"
        ))
    } else {
        None
    }
}

/// Sends one datagram to a fresh administratively scoped group over 127.0.0.1 and waits for it.
///
/// # Errors
/// Any failure to set up, send or receive, including the datagram not arriving in
/// [`SELF_TEST_WAIT`].
pub fn loopback_round_trip() -> Result<()> {
    let lo = NetworkInterface::loopback()?;
    let id = new_instance_id().to_be_bytes();
    // 239.255.0.0/16 is site-local; the random middle bytes keep concurrent runs apart.
    let group = IpAddr::V4(Ipv4Addr::new(239, 255, id[0], id[1].max(1)));
    let listener = MulticastSocket::listener(SocketAddr::new(group, 0), &lo)?;
    let target = SocketAddr::new(group, listener.local_addr()?.port());
    let sender = MulticastSocket::sender(&lo, false)?;
    sender.send_to(&id, target)?;
    listener.set_so_timeout(Some(SELF_TEST_WAIT))?;
    let mut buf = [0u8; 64];
    loop {
        let info = listener.recv_from(&mut buf)?;
        if buf[..info.len] == id {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_lists_loopback_and_its_groups() {
        let report = Report::gather().unwrap();
        assert_eq!(report.self_test, Ok(()));
        let text = report.render();
        assert!(text.contains("127.0.0.1"), "{text}");
        assert!(text.contains("224.0.0.1"), "{text}");
        assert!(
            text.contains("self-test: IPv4 multicast over 127.0.0.1: delivered"),
            "{text}"
        );
        assert!(text.contains("8. IPv6 link-local groups"), "{text}");
    }

    #[test]
    fn group_status_names_the_interfaces_or_says_nobody_joined() {
        let lo = |group: &str, users| Membership {
            index: 1,
            device: "lo".into(),
            group: group.parse().unwrap(),
            users,
        };
        let report = Report {
            interfaces: vec![],
            memberships: vec![lo("239.255.42.99", 2), lo("224.0.0.1", 1)],
            membership_error: None,
            self_test: Ok(()),
        };
        let joined = report.group_status("239.255.42.99".parse().unwrap());
        assert_eq!(joined, "group 239.255.42.99: joined on lo (2 users)");
        let lonely = report.group_status("239.1.1.1".parse().unwrap());
        assert!(
            lonely.starts_with("group 239.1.1.1: no socket of this host has joined it"),
            "{lonely}"
        );
    }

    #[test]
    fn notes_explain_interfaces_without_multicast() {
        let mut iface = NetworkInterface {
            name: "dummy9".into(),
            index: 9,
            addresses: vec![],
            is_up: true,
            is_loopback: false,
            supports_multicast: false,
        };
        assert!(
            interface_note(&iface)
                .unwrap()
                .contains("ip link set dummy9 multicast on")
        );
        iface.is_up = false;
        assert!(interface_note(&iface).unwrap().contains("DOWN"));
        iface.is_loopback = true;
        assert!(
            interface_note(&iface)
                .unwrap()
                .contains("IPv6 multicast does not")
        );
        iface = NetworkInterface {
            supports_multicast: true,
            is_loopback: false,
            is_up: true,
            ..iface
        };
        assert_eq!(interface_note(&iface), None);
    }
}

//! MulticastSocket on IPv4 loopback: delivery to several listeners, leave, options, filters,
//! and the errors for bad groups and interfaces. Each test uses its own group (see
//! `common::unique_group`) so tests running in parallel never see each other's datagrams.

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use common::{ARRIVES, SILENT, listeners, lo, recv_text, unique_group};
use multicast::{MulticastError, MulticastSocket, NetworkInterface};

#[test]
fn every_listener_on_one_port_receives_each_datagram() {
    let group = unique_group(1);
    let (all, addr) = listeners(group, 4);
    let sender = MulticastSocket::sender(&lo(), false).unwrap();
    sender.send_to(b"hello, group", addr).unwrap();
    for (i, listener) in all.iter().enumerate() {
        let (text, from) =
            recv_text(listener, ARRIVES).unwrap_or_else(|| panic!("listener {i} got nothing"));
        assert_eq!(text, "hello, group");
        assert_eq!(from, sender.local_addr().unwrap());
    }
}

#[test]
fn after_leave_delivery_stops_and_a_new_join_resumes_it() {
    let group = unique_group(2);
    let (all, addr) = listeners(group, 2);
    let sender = MulticastSocket::sender(&lo(), false).unwrap();
    all[1].leave(group).unwrap();
    sender.send_to(b"one", addr).unwrap();
    assert_eq!(recv_text(&all[0], ARRIVES).unwrap().0, "one");
    assert_eq!(
        recv_text(&all[1], SILENT),
        None,
        "a listener that left still received"
    );

    all[1].join(group).unwrap();
    sender.send_to(b"two", addr).unwrap();
    assert_eq!(recv_text(&all[0], ARRIVES).unwrap().0, "two");
    assert_eq!(recv_text(&all[1], ARRIVES).unwrap().0, "two");
}

#[test]
fn a_listener_joined_to_another_group_on_the_same_port_receives_nothing() {
    let (mine, addr) = listeners(unique_group(3), 1);
    let other =
        MulticastSocket::listener(SocketAddr::new(unique_group(4), addr.port()), &lo()).unwrap();
    let sender = MulticastSocket::sender(&lo(), false).unwrap();
    sender.send_to(b"for group 3 only", addr).unwrap();
    assert_eq!(recv_text(&mine[0], ARRIVES).unwrap().0, "for group 3 only");
    assert_eq!(recv_text(&other, SILENT), None);
}

#[test]
fn loopback_off_does_not_hide_datagrams_sent_out_of_the_loopback_device() {
    // IP_MULTICAST_LOOP controls the extra local COPY the kernel makes of a datagram it sends on
    // a real link. On `lo` the "wire" is this host, so the datagram comes back in anyway: loop
    // off changes nothing here. (tests/ipv6_netns.rs shows loop off working on a veth link.)
    let (all, addr) = listeners(unique_group(5), 1);
    let sender = MulticastSocket::sender(&lo(), false).unwrap();
    sender.set_loopback(false).unwrap();
    sender.send_to(b"looped anyway", addr).unwrap();
    assert_eq!(recv_text(&all[0], ARRIVES).unwrap().0, "looped anyway");
}

#[test]
fn a_source_specific_join_receives_only_that_source() {
    let group = unique_group(6);
    let listener = MulticastSocket::bind(SocketAddr::new(group, 0)).unwrap();
    let addr = SocketAddr::new(group, listener.local_addr().unwrap().port());
    let wanted: IpAddr = Ipv4Addr::new(127, 0, 0, 2).into();
    listener.join_source_group(wanted, group, &lo()).unwrap();

    let other = MulticastSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    other.send_to(b"from 127.0.0.1", addr).unwrap();
    assert_eq!(recv_text(&listener, SILENT), None);
    let chosen = MulticastSocket::bind("127.0.0.2:0".parse().unwrap()).unwrap();
    chosen.send_to(b"from 127.0.0.2", addr).unwrap();
    let (text, from) = recv_text(&listener, ARRIVES).unwrap();
    assert_eq!((text.as_str(), from.ip()), ("from 127.0.0.2", wanted));

    listener.leave_source_group(wanted, group, &lo()).unwrap();
    chosen.send_to(b"after leave", addr).unwrap();
    assert_eq!(recv_text(&listener, SILENT), None);
}

#[test]
fn defaults_are_loopback_interface_ttl_1_and_loop_on() {
    let socket = MulticastSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    assert_eq!(socket.time_to_live().unwrap(), 1);
    assert!(socket.loopback().unwrap());
    assert_eq!(
        socket.interface().unwrap().ipv4(),
        Some(Ipv4Addr::LOCALHOST)
    );
    let reuse = socket.as_datagram_socket().reuse_address().unwrap();
    assert!(
        reuse,
        "SO_REUSEADDR must be set so listeners share the port"
    );
}

#[test]
fn ttl_loop_and_interface_are_set_and_read_back_ipv4() {
    let mut socket = MulticastSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    for ttl in [0, 1, 2, 64, 255] {
        socket.set_time_to_live(ttl).unwrap();
        assert_eq!(socket.time_to_live().unwrap(), ttl);
    }
    for on in [false, true] {
        socket.set_loopback(on).unwrap();
        assert_eq!(socket.loopback().unwrap(), on);
    }
    socket.set_interface(&lo()).unwrap();
    assert_eq!(socket.interface().unwrap().name, lo().name);
    let err = socket.set_time_to_live(256).unwrap_err();
    assert!(matches!(err, MulticastError::BadTtl { ttl: 256 }), "{err}");
}

#[test]
fn ttl_loop_and_interface_are_set_and_read_back_ipv6() {
    let mut socket = MulticastSocket::bind("[::1]:0".parse().unwrap()).unwrap();
    assert_eq!(socket.time_to_live().unwrap(), 1);
    assert_eq!(socket.interface().unwrap().index, lo().index);
    socket.set_time_to_live(5).unwrap();
    assert_eq!(socket.time_to_live().unwrap(), 5);
    socket.set_loopback(false).unwrap();
    assert!(!socket.loopback().unwrap());
    socket.set_interface(&lo()).unwrap();
    assert_eq!(socket.interface().unwrap().name, lo().name);
}

#[test]
fn a_group_that_is_not_multicast_is_refused_by_name() {
    let socket = MulticastSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    for bad in ["127.0.0.1", "192.0.2.1", "255.255.255.255"] {
        let group: IpAddr = bad.parse().unwrap();
        let err = socket.join(group).unwrap_err();
        assert!(
            err.to_string()
                .starts_with(&format!("{bad} is not a multicast address")),
            "{err}"
        );
        let err = socket.send_to(b"x", SocketAddr::new(group, 9)).unwrap_err();
        assert!(matches!(err, MulticastError::NotMulticast { .. }), "{err}");
    }
    let err = MulticastSocket::listener("127.0.0.1:5000".parse().unwrap(), &lo()).unwrap_err();
    assert!(matches!(err, MulticastError::NotMulticast { .. }), "{err}");
}

#[test]
fn an_ipv4_group_on_an_ipv6_socket_is_refused_by_name() {
    let socket = MulticastSocket::bind("[::1]:0".parse().unwrap()).unwrap();
    let err = socket.join("239.255.42.99".parse().unwrap()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "group 239.255.42.99 is IPv4 but the socket is IPv6: use one family throughout"
    );
    let v4 = MulticastSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let err = v4.join("ff02::4242".parse().unwrap()).unwrap_err();
    assert!(
        matches!(err, MulticastError::FamilyMismatch { .. }),
        "{err}"
    );
}

#[test]
fn interfaces_that_do_not_exist_or_lack_an_address_are_refused_by_name() {
    let err = NetworkInterface::parse("nosuch0").unwrap_err();
    assert!(
        err.to_string()
            .starts_with("no network interface named `nosuch0`"),
        "{err}"
    );
    let err = NetworkInterface::parse("0.0.0.0").unwrap_err();
    assert!(
        matches!(err, MulticastError::UnspecifiedInterface { .. }),
        "{err}"
    );

    // A vanished interface (or one made up): no IPv4 address, an index the kernel does not know.
    let ghost = NetworkInterface {
        name: "ghost0".into(),
        index: 999_999,
        addresses: vec![],
        is_up: false,
        is_loopback: false,
        supports_multicast: false,
    };
    let v4 = MulticastSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let err = v4.join_group(unique_group(7), &ghost).unwrap_err();
    assert_eq!(
        err.to_string(),
        "interface `ghost0` has no IPv4 address, so it cannot be used for an IPv4 group"
    );
    let v6 = MulticastSocket::bind("[::1]:0".parse().unwrap()).unwrap();
    let err = v6
        .join_group("ff02::4242".parse().unwrap(), &ghost)
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("IPV6_JOIN_GROUP ff02::4242 on ghost0 failed:"),
        "{err}"
    );
}

#[test]
fn ipv6_on_loopback_joins_but_cannot_send() {
    // Documented limit: the loopback device carries no IPv6 multicast (see tests/ipv6_netns.rs
    // for IPv6 over a veth pair). The kernel says so with ENETUNREACH.
    let sender = MulticastSocket::bind("[::1]:0".parse().unwrap()).unwrap();
    let err = sender
        .send_to(b"x", "[ff02::4242]:9".parse().unwrap())
        .unwrap_err();
    assert!(err.to_string().contains("unreachable"), "{err}");
}

#[tokio::test]
async fn an_async_listener_keeps_its_membership() {
    let (mut all, addr) = listeners(unique_group(8), 1);
    let listener = all.pop().unwrap().into_async().unwrap();
    let sender = MulticastSocket::sender(&lo(), false).unwrap();
    sender.send_to(b"async hello", addr).unwrap();
    let mut buf = [0u8; 64];
    let wait = tokio::time::timeout(ARRIVES, listener.recv_from(&mut buf));
    let info = wait.await.expect("no datagram within the timeout").unwrap();
    assert_eq!(&buf[..info.len], b"async hello");
}

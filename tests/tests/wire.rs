//! Golden bytes of the multicast datagrams, as the real `multicast send` and `multicast chat`
//! put them on the wire (the other protocols' golden bytes are the recorded sessions in
//! `tests/transcripts/`). A raw socket joined to the group captures them; the snapshot is a
//! hex dump beside the text. The chat's random instance id is the one variable field
//! (multicast/PROTOCOL.md section 2) and is redacted by name.

use std::net::{Ipv4Addr, UdpSocket};

use suite_tests::process::{IO_TIMEOUT, run};
use suite_tests::{Proc, Server};

const GROUP: Ipv4Addr = Ipv4Addr::new(239, 255, 42, 99);

/// A socket bound to the group on a free port, joined on 127.0.0.1. `SO_REUSEADDR`, so a
/// `multicast chat` can bind the same group and port beside it, as two chat instances do.
fn capture_socket() -> UdpSocket {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).unwrap();
    socket.set_reuse_address(true).unwrap();
    socket
        .bind(&std::net::SocketAddr::from((GROUP, 0)).into())
        .expect("bind to the group address");
    let socket = UdpSocket::from(socket);
    socket
        .join_multicast_v4(&GROUP, &Ipv4Addr::LOCALHOST)
        .expect("join on 127.0.0.1");
    socket.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    socket
}

fn receive(socket: &UdpSocket) -> Vec<u8> {
    let mut buf = vec![0u8; 65_536];
    let n = socket.recv(&mut buf).expect("a datagram on the group");
    buf.truncate(n);
    buf
}

/// `hexdump -C`-like lines: offset, 16 bytes in hex, the printable characters.
fn hex_dump(bytes: &[u8]) -> String {
    let mut out = format!("{} bytes\n", bytes.len());
    for (i, chunk) in bytes.chunks(16).enumerate() {
        let hex: Vec<String> = chunk.iter().map(|b| format!("{b:02x}")).collect();
        let text: String = chunk
            .iter()
            .map(|&b| {
                if (0x20..0x7f).contains(&b) {
                    b as char
                } else {
                    '.'
                }
            })
            .collect();
        out.push_str(&format!(
            "{:04x}  {:<47}  |{text}|\n",
            i * 16,
            hex.join(" ")
        ));
    }
    out
}

#[test]
fn multicast_send_is_the_text_and_nothing_else() {
    let socket = capture_socket();
    let group = format!("{GROUP}:{}", socket.local_addr().unwrap().port());
    let (code, _, stderr) = run(
        "multicast",
        &["send", "--group", &group, "hello", "there"],
        b"",
    );
    assert_eq!(code, Some(0), "{stderr}");
    let datagram = receive(&socket);
    assert_eq!(
        datagram, b"hello there",
        "no header, no newline (PROTOCOL.md section 1)"
    );
    insta::assert_snapshot!("multicast_send", hex_dump(&datagram));
}

#[test]
fn multicast_chat_datagram_has_the_documented_header() {
    let socket = capture_socket();
    let group = format!("{GROUP}:{}", socket.local_addr().unwrap().port());
    let mut alice = Server::from_proc(Proc::spawn(
        "multicast",
        &["chat", "--group", &group, "--name", "alice"],
    ));
    alice.write_line("hello there");
    alice.write_line("second");
    let first = receive(&socket);
    let second = receive(&socket);
    alice.close_stdin();
    alice.assert_exits_ok();
    let text = format!(
        "{}\n{}",
        redact_instance_id(&first),
        redact_instance_id(&second)
    );
    insta::assert_snapshot!("multicast_chat", text);
}

/// Checks the header layout (`chat/1 `, 16 lower-case hex digits, a space) and replaces the
/// instance id, the one random field, by `X`s before dumping.
fn redact_instance_id(datagram: &[u8]) -> String {
    const ID: std::ops::Range<usize> = 7..23;
    assert!(datagram.starts_with(b"chat/1 "), "magic: {datagram:?}");
    let id = &datagram[ID];
    assert!(
        id.iter()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b)),
        "instance id: {id:?}"
    );
    assert_eq!(datagram[ID.end], b' ');
    let mut shown = datagram.to_vec();
    shown[ID].fill(b'X');
    format!(
        "{}\n(bytes 7..23, the random instance id, shown as X)\n{}",
        String::from_utf8_lossy(&shown),
        hex_dump(&shown)
    )
}

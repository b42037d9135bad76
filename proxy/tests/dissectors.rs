//! The Wireshark dissectors (`dissectors/suite.lua`) on captures written with the crate's
//! own pcap writer: an rpc-lite frame split across TCP segments and two calls in one
//! segment (desegmentation), rpc-lite found by heuristic on another port, framing frames
//! with labelled records (split too), and multicast chat datagrams. Snapshots of what
//! tshark decodes; skipped, visibly, where tshark is not installed.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;

use proxy::pcap::write::{TcpPcap, UdpPcap};
use proxy::transcript::Direction::{ClientToServer, ServerToClient};

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn scratch(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("proxy-dissect-{name}-{}.pcap", std::process::id()))
}

fn tshark(pcap: &PathBuf, args: &[&str]) -> String {
    let lua = concat!(env!("CARGO_MANIFEST_DIR"), "/dissectors/suite.lua");
    let out = Command::new("tshark")
        .args(["-2", "-X", &format!("lua_script:{lua}"), "-r"])
        .arg(pcap)
        .args(args)
        .output()
        .expect("tshark runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        !stderr.contains("Lua"),
        "the dissector raised an error: {stderr}"
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(!stdout.contains("Lua Error"), "{stdout}");
    stdout
}

/// A big-endian 32-bit rpc-lite call of the demo program, framed (TCP).
fn be32_call(id: u64, procedure: u32, body: &[u8]) -> Vec<u8> {
    let mut m = b"RPCL".to_vec();
    m.extend([0x4c, 0x01, 0x00, 0x04, 0x01, 0x01, 0x00, 0x00]);
    m.extend(id.to_be_bytes());
    m.extend(0x2000_7470u32.to_be_bytes());
    m.extend(1u32.to_be_bytes());
    m.extend(procedure.to_be_bytes());
    m.extend(5000u32.to_be_bytes());
    m.extend(body);
    let mut framed = (m.len() as u32).to_be_bytes().to_vec();
    framed.extend(m);
    framed
}

fn skip_without_tshark() -> bool {
    support::require::command("tshark", "apt-get install tshark").is_err()
}

fn rpc_fields(pcap: &PathBuf, extra: &[&str]) -> String {
    let mut args = extra.to_vec();
    args.extend([
        "-Y",
        "rpclite",
        "-T",
        "fields",
        "-E",
        "occurrence=a",
        "-e",
        "frame.number",
        "-e",
        "rpclite.call_id",
        "-e",
        "rpclite.procedure_name",
        "-e",
        "rpclite.length",
    ]);
    tshark(pcap, &args)
}

#[test]
fn a_call_split_across_segments_and_two_calls_in_one_segment_are_all_decoded() {
    if skip_without_tshark() {
        support::skip!("needs `tshark` on PATH (apt-get install tshark)");
    }
    let path = scratch("desegment");
    let pcap = TcpPcap::create(&path).unwrap();
    pcap.open(1, addr("127.0.0.1:40000"), addr("127.0.0.1:7470"));
    // echo of 3000 bytes: u32 length then the bytes; 3044 framed bytes = 3 segments.
    let mut body = 3000u32.to_be_bytes().to_vec();
    body.extend([b'x'; 3000]);
    pcap.data(1, ClientToServer, &be32_call(1, 6, &body));
    // add(2, 3) and incr(5) written together: one segment, two calls.
    let mut two = be32_call(2, 1, &[0, 0, 0, 2, 0, 0, 0, 3]);
    two.extend(be32_call(3, 8, &5u64.to_be_bytes()));
    pcap.data(1, ClientToServer, &two);
    pcap.eof(1, ClientToServer);
    pcap.eof(1, ServerToClient);
    pcap.close(1);
    drop(pcap);
    let fields = rpc_fields(&path, &[]);
    std::fs::remove_file(&path).unwrap();
    insta::assert_snapshot!("desegmentation", fields);
}

#[test]
fn rpc_lite_on_another_port_is_found_by_its_magic() {
    if skip_without_tshark() {
        support::skip!("needs `tshark` on PATH (apt-get install tshark)");
    }
    let path = scratch("heuristic");
    let pcap = TcpPcap::create(&path).unwrap();
    pcap.open(1, addr("[::1]:40000"), addr("[::1]:9100"));
    pcap.data(1, ClientToServer, &be32_call(7, 3, &[0, 0, 0, 1, b'k']));
    pcap.close(1);
    drop(pcap);
    let fields = rpc_fields(&path, &[]);
    std::fs::remove_file(&path).unwrap();
    insta::assert_snapshot!("heuristic", fields);
}

#[test]
fn framing_frames_with_labelled_records_split_and_joined() {
    if skip_without_tshark() {
        support::skip!("needs `tshark` on PATH (apt-get install tshark)");
    }
    // The reference record of framing/PROTOCOL.md, labelled, from a be32 and an le64 sender.
    let be32: &[u8] = &[
        0x4c, 0x01, 0x00, 0x04, 0x12, 0x34, 0x56, 0x78, 0x64, 0x65, 0x70, 0x6f, 0x74, 0x2d, 0x37,
        0x00, 0x00, 0x16, 0xe3, 0x60, 0xc1, 0x94, 0x00, 0x00, 0x01, 0x01, 0x02, 0x00, 0x00, 0x00,
        0x0b, b'k', b'e', b'e', b'p', b' ', b'f', b'r', b'o', b'z', b'e', b'n',
    ];
    let le64: &[u8] = &[
        0x4c, 0x01, 0x01, 0x08, 0x78, 0x56, 0x34, 0x12, 0x64, 0x65, 0x70, 0x6f, 0x74, 0x2d, 0x37,
        0x00, 0x60, 0xe3, 0x16, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x94, 0xc1, 0x01, 0x02,
        0x01, 0x0b, 0x00, 0x00, 0x00, b'k', b'e', b'e', b'p', b' ', b'f', b'r', b'o', b'z', b'e',
        b'n',
    ];
    let frame = |payload: &[u8]| {
        let mut f = (payload.len() as u32).to_be_bytes().to_vec();
        f.extend(payload);
        f
    };
    let mut stream = frame(be32);
    stream.extend(frame(le64));
    let path = scratch("framing");
    let pcap = TcpPcap::create(&path).unwrap();
    pcap.open(1, addr("127.0.0.1:40000"), addr("127.0.0.1:9000"));
    // Cut inside the first frame's label; the second frame arrives with the first's end.
    pcap.data(1, ClientToServer, &stream[..6]);
    pcap.data(1, ClientToServer, &stream[6..]);
    pcap.close(1);
    drop(pcap);
    let text = tshark(
        &path,
        &[
            "-d",
            "tcp.port==9000,suiteframe",
            "-Y",
            "suiteframe",
            "-T",
            "fields",
            "-E",
            "occurrence=a",
            "-e",
            "frame.number",
            "-e",
            "suiteframe.length",
            "-e",
            "suiteframe.label",
            "-e",
            "suiteframe.label.byte_order",
            "-e",
            "suiteframe.label.word_size",
            "-e",
            "suiteframe.record",
        ],
    );
    std::fs::remove_file(&path).unwrap();
    insta::assert_snapshot!("framing", text);
}

#[test]
fn multicast_chat_datagrams() {
    if skip_without_tshark() {
        support::skip!("needs `tshark` on PATH (apt-get install tshark)");
    }
    let path = scratch("mcchat");
    let pcap = UdpPcap::create(&path, addr("239.255.42.99:4446")).unwrap();
    let alice = addr("127.0.0.1:40312");
    for datagram in [
        &b"chat/1 9f3c2a1b00d4e5f6 1 alice +join"[..],
        b"chat/1 9f3c2a1b00d4e5f6 17 alice: hello there",
        b"chat/1 9f3c2a1b00d4e5f6 18 alice: ",
        b"chat/1 9f3c2a1b00d4e5f6 19 alice +here",
        b"chat/1 9f3c2a1b00d4e5f6 20 alice +leave",
        b"chat/1 9f3c2a1b00d4e5f6 21 alice +dance",
        b"chat/1 NOTHEX 1 alice: hi",
        b"hello there (plain multicast send)",
    ] {
        pcap.datagram(alice, ClientToServer, datagram);
    }
    drop(pcap);
    let text = tshark(
        &path,
        &[
            "-Y",
            "mcchat",
            "-T",
            "fields",
            "-E",
            "separator=|",
            "-e",
            "mcchat.magic",
            "-e",
            "mcchat.instance",
            "-e",
            "mcchat.seq",
            "-e",
            "mcchat.name",
            "-e",
            "mcchat.text",
            "-e",
            "mcchat.presence",
            "-e",
            "mcchat.malformed",
        ],
    );
    std::fs::remove_file(&path).unwrap();
    insta::assert_snapshot!("multicast_chat", text);
}

//! `pcap_to_transcript` on crafted captures: a clean connection, retransmissions,
//! out-of-order segments, a lost segment, a cut packet, several flows, a missing SYN, a UDP
//! flow; and the round trip from a proxy's own `--pcap` to the same streams its `--record`
//! wrote.

use std::io::Cursor;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use etherparse::PacketBuilder;
use pcap_file::DataLink;
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use proxy::pcap::read::{
    ConvertError, ConvertOptions, Converted, PACKET_OVERHEAD, pcap_to_transcript,
};
use proxy::transcript::{Direction, Record, Transcript};

const CLIENT: &str = "192.0.2.1:40000";
const SERVER: &str = "192.0.2.2:7007";
const ISN_C: u32 = 0xffff_fff0; // wraps inside the test: sequence arithmetic must be modular
const ISN_S: u32 = 1000;

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// A capture being written: Ethernet frames, optionally cut to a snap length.
#[derive(Default)]
struct Capture {
    frames: Vec<(Vec<u8>, Option<usize>)>,
}

#[derive(Clone, Copy, Default)]
struct F {
    syn: bool,
    fin: bool,
    rst: bool,
    ack: Option<u32>,
}

impl Capture {
    fn tcp(&mut self, from: &str, to: &str, seq: u32, flags: F, payload: &[u8]) -> &mut Self {
        let (from, to) = (addr(from), addr(to));
        let (SocketAddr::V4(f), SocketAddr::V4(t)) = (from, to) else {
            unreachable!()
        };
        let mut step = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4(f.ip().octets(), t.ip().octets(), 64)
            .tcp(f.port(), t.port(), seq, 65535);
        if flags.syn {
            step = step.syn();
        }
        if flags.fin {
            step = step.fin();
        }
        if flags.rst {
            step = step.rst();
        }
        if let Some(ack) = flags.ack {
            step = step.ack(ack);
        }
        let mut frame = Vec::new();
        step.write(&mut frame, payload).unwrap();
        self.frames.push((frame, None));
        self
    }

    fn udp(&mut self, from: &str, to: &str, payload: &[u8]) -> &mut Self {
        let (SocketAddr::V4(f), SocketAddr::V4(t)) = (addr(from), addr(to)) else {
            unreachable!()
        };
        let mut frame = Vec::new();
        PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4(f.ip().octets(), t.ip().octets(), 64)
            .udp(f.port(), t.port())
            .write(&mut frame, payload)
            .unwrap();
        self.frames.push((frame, None));
        self
    }

    /// Cuts the last packet to `snap` bytes, as `tcpdump -s SNAP` does.
    fn cut_last(&mut self, snap: usize) -> &mut Self {
        self.frames.last_mut().unwrap().1 = Some(snap);
        self
    }

    /// Client SYN, server SYN-ACK, client ACK.
    fn handshake(&mut self) -> &mut Self {
        self.tcp(
            CLIENT,
            SERVER,
            ISN_C,
            F {
                syn: true,
                ..F::default()
            },
            b"",
        )
        .tcp(
            SERVER,
            CLIENT,
            ISN_S,
            F {
                syn: true,
                ack: Some(ISN_C.wrapping_add(1)),
                ..F::default()
            },
            b"",
        )
        .tcp(CLIENT, SERVER, c(0), ack(s(0)), b"")
    }

    fn bytes(&self) -> Vec<u8> {
        let header = PcapHeader {
            datalink: DataLink::ETHERNET,
            ..PcapHeader::default()
        };
        let mut writer = PcapWriter::with_header(Vec::new(), header).unwrap();
        for (i, (frame, snap)) in self.frames.iter().enumerate() {
            let kept = snap.map_or(frame.len(), |s| s.min(frame.len()));
            let stamp = Duration::from_millis(1_000 + i as u64);
            let packet = PcapPacket::new(stamp, frame.len() as u32, &frame[..kept]);
            writer.write_packet(&packet).unwrap();
        }
        writer.into_writer()
    }
}

/// Client sequence number of stream offset `n`.
fn c(n: u32) -> u32 {
    ISN_C.wrapping_add(1).wrapping_add(n)
}
/// Server sequence number of stream offset `n`.
fn s(n: u32) -> u32 {
    ISN_S.wrapping_add(1).wrapping_add(n)
}
fn ack(n: u32) -> F {
    F {
        ack: Some(n),
        ..F::default()
    }
}
fn fin(n: u32) -> F {
    F {
        fin: true,
        ack: Some(n),
        ..F::default()
    }
}

/// A `Write` the test reads back.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);
impl std::io::Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn convert(capture: &Capture, flow: Option<usize>) -> Result<(Converted, String), ConvertError> {
    let options = ConvertOptions {
        flow,
        ..ConvertOptions::default()
    };
    convert_with(capture, options)
}

fn convert_with(
    capture: &Capture,
    options: ConvertOptions,
) -> Result<(Converted, String), ConvertError> {
    let out = Shared::default();
    let header = vec!["# server: tcp echo-server".to_string()];
    let converted =
        pcap_to_transcript(Cursor::new(capture.bytes()), options, &header, out.clone())?;
    let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    Ok((converted, text))
}

/// An echo conversation: `hello ` + `world\n` from the client, the echo back, both FINs.
fn echo_conversation(capture: &mut Capture) -> &mut Capture {
    capture
        .handshake()
        .tcp(CLIENT, SERVER, c(0), ack(s(0)), b"hello ")
        .tcp(CLIENT, SERVER, c(6), ack(s(0)), b"world\n")
        .tcp(SERVER, CLIENT, s(0), ack(c(12)), b"hello world\n")
        .tcp(CLIENT, SERVER, c(12), fin(s(12)), b"")
        .tcp(SERVER, CLIENT, s(12), fin(c(13)), b"")
        .tcp(CLIENT, SERVER, c(13), ack(s(13)), b"")
}

#[test]
fn a_clean_connection_becomes_the_transcript_a_proxy_would_record() {
    let mut capture = Capture::default();
    echo_conversation(&mut capture);
    let (converted, text) = convert(&capture, None).unwrap();
    assert_eq!((converted.retransmitted, converted.out_of_order), (0, 0));
    assert!(
        text.starts_with("# transcript v1\n# server: tcp echo-server\n# transport: tcp\n"),
        "{text}"
    );
    let transcript = Transcript::parse(&text).unwrap();
    assert_eq!(
        transcript.records,
        vec![
            Record::Open { conn: 1 },
            Record::Data {
                conn: 1,
                dir: Direction::ClientToServer,
                offset: 0,
                bytes: b"hello world\n".to_vec()
            },
            Record::Data {
                conn: 1,
                dir: Direction::ServerToClient,
                offset: 0,
                bytes: b"hello world\n".to_vec()
            },
            Record::Eof {
                conn: 1,
                dir: Direction::ClientToServer,
                offset: 12
            },
            Record::Eof {
                conn: 1,
                dir: Direction::ServerToClient,
                offset: 12
            },
            Record::Close { conn: 1 },
        ]
    );
}

#[test]
fn retransmissions_and_out_of_order_segments_give_each_byte_once_in_order() {
    let mut capture = Capture::default();
    capture
        .handshake()
        .tcp(CLIENT, SERVER, c(6), ack(s(0)), b"world\n") // overtook the first segment
        .tcp(CLIENT, SERVER, c(0), ack(s(0)), b"hello ")
        .tcp(CLIENT, SERVER, c(0), ack(s(0)), b"hello ") // retransmitted
        .tcp(CLIENT, SERVER, c(3), ack(s(0)), b"lo wor") // overlaps both
        .tcp(SERVER, CLIENT, s(0), ack(c(12)), b"hello world\n")
        .tcp(CLIENT, SERVER, c(12), fin(s(12)), b"")
        .tcp(SERVER, CLIENT, s(12), fin(c(13)), b"");
    let (converted, text) = convert(&capture, None).unwrap();
    assert_eq!((converted.retransmitted, converted.out_of_order), (2, 1));
    let transcript = Transcript::parse(&text).unwrap();
    assert_eq!(
        transcript.stream(1, Direction::ClientToServer),
        b"hello world\n"
    );
    assert_eq!(
        transcript.stream(1, Direction::ServerToClient),
        b"hello world\n"
    );
}

#[test]
fn a_segment_missing_from_the_capture_is_refused_with_its_byte_range() {
    let mut capture = Capture::default();
    capture
        .handshake()
        .tcp(CLIENT, SERVER, c(6), ack(s(0)), b"world\n")
        .tcp(CLIENT, SERVER, c(12), fin(s(0)), b"");
    let err = convert(&capture, None).unwrap_err();
    assert!(
        matches!(
            err,
            ConvertError::Gap {
                dir: Direction::ClientToServer,
                from: 0,
                to: 6
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("client>server bytes 0..6 are missing"),
        "{err}"
    );
}

#[test]
fn a_packet_cut_by_the_snap_length_is_refused() {
    let mut capture = Capture::default();
    capture
        .handshake()
        .tcp(CLIENT, SERVER, c(0), ack(s(0)), &[b'x'; 200])
        .cut_last(96);
    let err = convert(&capture, None).unwrap_err();
    assert!(
        matches!(
            err,
            ConvertError::Truncated {
                number: 4,
                captured: 96,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("tcpdump -s 0"), "{err}");
}

#[test]
fn several_flows_are_listed_and_one_can_be_chosen() {
    let mut capture = Capture::default();
    capture.udp("192.0.2.9:5353", "192.0.2.10:5353", b"noise");
    echo_conversation(&mut capture);
    let err = convert(&capture, None).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("2 flows; choose one with --flow N"), "{text}");
    assert!(
        text.contains("1: udp 192.0.2.9:5353 <-> 192.0.2.10:5353 (1 packets)"),
        "{text}"
    );
    assert!(
        text.contains("2: tcp 192.0.2.1:40000 <-> 192.0.2.2:7007 (9 packets)"),
        "{text}"
    );
    let (converted, transcript) = convert(&capture, Some(2)).unwrap();
    assert_eq!(converted.flow.ends, (addr(CLIENT), addr(SERVER)));
    assert!(transcript.contains("# transport: tcp"));
    assert!(matches!(
        convert(&capture, Some(3)),
        Err(ConvertError::NoSuchFlow { chosen: 3, .. })
    ));
}

#[test]
fn a_connection_without_its_syn_is_refused() {
    let mut capture = Capture::default();
    capture.tcp(CLIENT, SERVER, c(0), ack(s(0)), b"mid-stream");
    let err = convert(&capture, None).unwrap_err();
    assert!(matches!(err, ConvertError::NoSyn(_)), "{err}");
}

#[test]
fn a_reset_is_recorded_for_the_side_that_sent_it() {
    let mut capture = Capture::default();
    capture
        .handshake()
        .tcp(CLIENT, SERVER, c(0), ack(s(0)), b"hi\n")
        .tcp(
            SERVER,
            CLIENT,
            s(0),
            F {
                rst: true,
                ack: Some(c(3)),
                ..F::default()
            },
            b"",
        );
    let (_, text) = convert(&capture, None).unwrap();
    let transcript = Transcript::parse(&text).unwrap();
    assert!(
        transcript.records.contains(&Record::Reset {
            conn: 1,
            dir: Direction::ServerToClient,
            offset: 0
        }),
        "{text}"
    );
}

#[test]
fn a_udp_flow_is_one_record_per_datagram() {
    let mut capture = Capture::default();
    capture
        .udp(CLIENT, SERVER, b"one")
        .udp(SERVER, CLIENT, b"one")
        .udp(CLIENT, SERVER, b"")
        .udp(SERVER, CLIENT, b"");
    let (_, text) = convert(&capture, None).unwrap();
    assert!(text.contains("# transport: udp\n"), "{text}");
    let transcript = Transcript::parse(&text).unwrap();
    let lengths: Vec<(Direction, usize)> = transcript
        .records
        .iter()
        .filter_map(|r| match r {
            Record::Data { dir, bytes, .. } => Some((*dir, bytes.len())),
            _ => None,
        })
        .collect();
    use Direction::{ClientToServer as Up, ServerToClient as Down};
    assert_eq!(lengths, vec![(Up, 3), (Down, 3), (Up, 0), (Down, 0)]);
}

#[test]
fn a_file_that_is_not_pcap_is_refused() {
    let out = Shared::default();
    let err = pcap_to_transcript(
        Cursor::new(b"not a capture at all".to_vec()),
        ConvertOptions::default(),
        &[],
        out,
    )
    .unwrap_err();
    assert!(matches!(err, ConvertError::Format(_)), "{err}");
}

/// A `Write` whose every write fails, like a full disk.
struct Full;
impl std::io::Write for Full {
    fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
        Err(std::io::Error::other("no space left"))
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Err(std::io::Error::other("no space left"))
    }
}

#[test]
fn a_transcript_that_cannot_be_written_is_an_error_not_a_success() {
    let mut capture = Capture::default();
    echo_conversation(&mut capture);
    let result = pcap_to_transcript(
        Cursor::new(capture.bytes()),
        ConvertOptions::default(),
        &[],
        Full,
    );
    assert!(matches!(result, Err(ConvertError::Io(_))), "{result:?}");
}

#[test]
fn a_capture_above_the_memory_limit_is_refused_and_one_just_below_converts() {
    let mut capture = Capture::default();
    echo_conversation(&mut capture);
    // Everything the converter keeps: the payload bytes plus the per-packet overhead.
    let (converted, _) = convert(&capture, None).unwrap();
    let payload = 2 * ("hello ".len() + "world\n".len()) as u64;
    let needed = payload + converted.flow.packets as u64 * PACKET_OVERHEAD;
    let at = |max_bytes| ConvertOptions {
        flow: None,
        max_bytes,
    };
    assert!(convert_with(&capture, at(needed)).is_ok());
    let err = convert_with(&capture, at(needed - 1)).unwrap_err();
    assert!(
        matches!(err, ConvertError::TooLarge { limit } if limit == needed - 1),
        "{err}"
    );
    assert!(err.to_string().contains("--max-bytes"), "{err}");
}

//! Reading a capture back: one TCP connection or one UDP flow of a pcap file (from
//! `tcpdump -w`, Wireshark, or `--pcap`) turned into a transcript the replayer runs.
//!
//! A capture taken on a real network is messier than a proxy's: TCP segments can be
//! retransmitted (the same bytes twice), arrive out of order (a later segment before an
//! earlier one), or be missing altogether; `tcpdump -s N` cuts packets to N bytes; and a
//! capture usually holds more than one conversation. The converter rebuilds each TCP
//! direction the way the receiving kernel does: from the SYN's initial sequence number,
//! bytes already delivered are skipped, segments from the future wait until the gap is
//! filled, and a gap never filled is an error naming the missing byte range. A cut packet,
//! a fragmented datagram, a connection whose SYN is not in the capture, and a capture with
//! several flows (unless one is chosen) are refused with a message that says what to do.
//!
//! No system calls beyond reading the file.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::{self, Read, Write};
use std::net::SocketAddr;

use etherparse::{LaxNetSlice, LaxSlicedPacket, NetSlice, SlicedPacket, TransportSlice};
use pcap_file::DataLink;
use pcap_file::pcap::PcapReader;

use crate::tcp::recorder::Recorder;
use crate::transcript::{Direction, Record, TranscriptWriter};

/// Why a capture could not be converted.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    /// Not a classic pcap file, or a broken one.
    #[error("not a readable pcap file (pcapng? convert it with `editcap -F pcap IN OUT`): {0}")]
    Format(String),
    /// A link type the converter does not decode.
    #[error("link type {0:?} is not supported (Ethernet, Linux cooked, raw IP are)")]
    LinkType(DataLink),
    /// A packet of the flow was cut by the capture's snap length.
    #[error(
        "packet {number} was captured with {captured} of its {length} bytes (snap length): capture again with `tcpdump -s 0`"
    )]
    Truncated {
        /// 1-based packet number in the file.
        number: usize,
        /// Bytes in the file.
        captured: usize,
        /// Bytes on the wire.
        length: usize,
    },
    /// A fragmented IP packet of the flow (the converter does not reassemble IP).
    #[error("packet {0} is an IP fragment; reassembly is not supported")]
    Fragment(usize),
    /// No TCP or UDP packet at all.
    #[error("the capture holds no TCP or UDP packet")]
    Empty,
    /// Several flows and none chosen.
    #[error("the capture holds {} flows; choose one with --flow N:\n{}", .0.len(), list(.0))]
    SeveralFlows(Vec<FlowSummary>),
    /// `--flow N` outside the list.
    #[error("there is no flow {chosen}; the capture holds:\n{}", list(.flows))]
    NoSuchFlow {
        /// The number asked for.
        chosen: usize,
        /// What there is.
        flows: Vec<FlowSummary>,
    },
    /// The TCP connection's start is not in the capture.
    #[error(
        "the capture does not hold the SYN of {0}: start the capture before the client connects"
    )]
    NoSyn(String),
    /// Bytes of one direction never appear in the capture.
    #[error(
        "{dir} bytes {from}..{to} are missing from the capture (lost by the capture, not by TCP); capture again"
    )]
    Gap {
        /// The direction with the hole.
        dir: Direction,
        /// First missing byte (stream offset).
        from: u64,
        /// First byte present again.
        to: u64,
    },
    /// The capture holds more packet bytes than the converter keeps in memory at once.
    #[error(
        "the capture holds more than {limit} bytes of TCP and UDP packets (the limit, --max-bytes); cut it to one conversation first, e.g. `tshark -r IN -w OUT -Y 'tcp.stream == 0'`"
    )]
    TooLarge {
        /// The limit that was crossed.
        limit: u64,
    },
    /// Reading the file or writing the transcript.
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// How much of a capture the converter holds in memory by default: every TCP and UDP packet
/// is kept until the chosen flow is known, so a huge capture is refused instead of exhausting
/// memory. Counted as payload bytes plus [`PACKET_OVERHEAD`] per packet.
pub const DEFAULT_MAX_BYTES: u64 = 256 * 1024 * 1024;
/// What one kept packet costs beyond its payload (addresses, flags, bookkeeping), counted
/// against the limit so that a flood of empty packets is bounded too.
pub const PACKET_OVERHEAD: u64 = 128;

/// What to convert, and how much memory the conversion may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvertOptions {
    /// Flow number (1-based, as the error listing several flows numbers them); `None`: the
    /// only one.
    pub flow: Option<usize>,
    /// Most packet bytes held at once (see [`DEFAULT_MAX_BYTES`]).
    pub max_bytes: u64,
}

impl Default for ConvertOptions {
    fn default() -> Self {
        ConvertOptions {
            flow: None,
            max_bytes: DEFAULT_MAX_BYTES,
        }
    }
}

fn list(flows: &[FlowSummary]) -> String {
    flows
        .iter()
        .enumerate()
        .map(|(i, f)| format!("  {}: {f}", i + 1))
        .collect::<Vec<_>>()
        .join("\n")
}

/// TCP or UDP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// A TCP connection.
    Tcp,
    /// A UDP flow.
    Udp,
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
        })
    }
}

/// One flow found in a capture: for the list printed when there are several.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowSummary {
    /// TCP or UDP.
    pub transport: Transport,
    /// The two ends, in the order of the first packet (sender first).
    pub ends: (SocketAddr, SocketAddr),
    /// Packets in the flow.
    pub packets: usize,
}

impl fmt::Display for FlowSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} <-> {} ({} packets)",
            self.transport, self.ends.0, self.ends.1, self.packets
        )
    }
}

/// One TCP or UDP packet of the capture.
struct Packet {
    number: usize,
    transport: Transport,
    src: SocketAddr,
    dst: SocketAddr,
    tcp: Option<TcpFields>,
    payload: Vec<u8>,
    /// Cut by the snap length (refused only if it belongs to the chosen flow).
    truncated: Option<(usize, usize)>,
    fragment: bool,
}

#[derive(Debug, Clone, Copy)]
struct TcpFields {
    seq: u32,
    syn: bool,
    ack: bool,
    fin: bool,
    rst: bool,
}

/// The key of a flow: transport and the two ends in a fixed order.
fn key(p: &Packet) -> (Transport, SocketAddr, SocketAddr) {
    let (a, b) = if p.src <= p.dst {
        (p.src, p.dst)
    } else {
        (p.dst, p.src)
    };
    (p.transport, a, b)
}

/// What the conversion produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Converted {
    /// The flow converted.
    pub flow: FlowSummary,
    /// Segments skipped because their bytes had been delivered already.
    pub retransmitted: usize,
    /// Segments that arrived before a gap before them was filled.
    pub out_of_order: usize,
}

/// Converts flow `options.flow` of the capture in `input` into a transcript written to
/// `out`, holding at most `options.max_bytes` of packets. `header` lines (`# server: ...`)
/// go after the transcript's first line.
///
/// # Errors
/// See [`ConvertError`]: every reason names what to do about it.
pub fn pcap_to_transcript<R: Read, W: Write + Send + 'static>(
    input: R,
    options: ConvertOptions,
    header: &[String],
    out: W,
) -> Result<Converted, ConvertError> {
    let packets = read_packets(input, options.max_bytes)?;
    let mut order: Vec<(Transport, SocketAddr, SocketAddr)> = Vec::new();
    let mut flows: HashMap<(Transport, SocketAddr, SocketAddr), Vec<Packet>> = HashMap::new();
    for p in packets {
        let k = key(&p);
        if !flows.contains_key(&k) {
            order.push(k);
        }
        flows.entry(k).or_default().push(p);
    }
    let summaries: Vec<FlowSummary> = order
        .iter()
        .map(|k| {
            let first = &flows[k][0];
            FlowSummary {
                transport: k.0,
                ends: (first.src, first.dst),
                packets: flows[k].len(),
            }
        })
        .collect();
    let index = match (options.flow, summaries.len()) {
        (_, 0) => return Err(ConvertError::Empty),
        (None, 1) => 0,
        (None, _) => return Err(ConvertError::SeveralFlows(summaries)),
        (Some(n), len) if n == 0 || n > len => {
            return Err(ConvertError::NoSuchFlow {
                chosen: n,
                flows: summaries,
            });
        }
        (Some(n), _) => n - 1,
    };
    let flow = flows.remove(&order[index]).unwrap_or_default();
    for p in &flow {
        if let Some((captured, length)) = p.truncated {
            return Err(ConvertError::Truncated {
                number: p.number,
                captured,
                length,
            });
        }
        if p.fragment {
            return Err(ConvertError::Fragment(p.number));
        }
    }
    let summary = summaries[index].clone();
    let mut buffered = io::BufWriter::new(out);
    writeln!(buffered, "{}", crate::transcript::HEADER)?;
    for line in header {
        writeln!(buffered, "{line}")?;
    }
    writeln!(buffered, "# transport: {}", summary.transport)?;
    let (retransmitted, out_of_order) = match summary.transport {
        Transport::Tcp => convert_tcp(&flow, buffered)?,
        Transport::Udp => {
            convert_udp(&flow, buffered)?;
            (0, 0)
        }
    };
    Ok(Converted {
        flow: summary,
        retransmitted,
        out_of_order,
    })
}

fn read_packets<R: Read>(input: R, max_bytes: u64) -> Result<Vec<Packet>, ConvertError> {
    let mut reader = PcapReader::new(input).map_err(|e| ConvertError::Format(e.to_string()))?;
    let link = reader.header().datalink;
    if !matches!(
        link,
        DataLink::ETHERNET | DataLink::LINUX_SLL | DataLink::RAW | DataLink::IPV4 | DataLink::IPV6
    ) {
        return Err(ConvertError::LinkType(link));
    }
    let mut packets = Vec::new();
    let mut held = HeldBytes { held: 0, max_bytes };
    let mut number = 0;
    while let Some(next) = reader.next_packet() {
        number += 1;
        let packet = next.map_err(|e| ConvertError::Format(e.to_string()))?;
        let data = &packet.data;
        if data.len() < packet.orig_len as usize {
            // Cut by the snap length: enough to know whose it is, not what it said.
            if let Some(p) = decode_cut(number, link, data, packet.orig_len as usize) {
                held.keep(&p)?;
                packets.push(p);
            }
            continue;
        }
        let sliced = match link {
            DataLink::ETHERNET => SlicedPacket::from_ethernet(data),
            DataLink::LINUX_SLL => SlicedPacket::from_linux_sll(data),
            _ => SlicedPacket::from_ip(data),
        };
        // Not IP at all (ARP, ...) or malformed: not part of any flow.
        let Ok(sliced) = sliced else { continue };
        if let Some(p) = decode(number, &sliced) {
            held.keep(&p)?;
            packets.push(p);
        }
    }
    Ok(packets)
}

/// The running count of bytes kept, against the limit.
struct HeldBytes {
    held: u64,
    max_bytes: u64,
}

impl HeldBytes {
    fn keep(&mut self, p: &Packet) -> Result<(), ConvertError> {
        self.held = self
            .held
            .saturating_add(p.payload.len() as u64 + PACKET_OVERHEAD);
        if self.held > self.max_bytes {
            return Err(ConvertError::TooLarge {
                limit: self.max_bytes,
            });
        }
        Ok(())
    }
}

/// Linux "cooked" capture header (`tcpdump -i any`): 16 bytes before the IP header.
const LINUX_SLL_HEADER: usize = 16;

/// The flow of a packet cut short: addresses and ports from whatever headers survived.
fn decode_cut(number: usize, link: DataLink, data: &[u8], length: usize) -> Option<Packet> {
    let sliced = match link {
        DataLink::ETHERNET => LaxSlicedPacket::from_ethernet(data).ok()?,
        DataLink::LINUX_SLL => LaxSlicedPacket::from_ip(data.get(LINUX_SLL_HEADER..)?).ok()?,
        _ => LaxSlicedPacket::from_ip(data).ok()?,
    };
    let (src_ip, dst_ip) = match sliced.net? {
        LaxNetSlice::Ipv4(v4) => (
            v4.header().source_addr().into(),
            v4.header().destination_addr().into(),
        ),
        LaxNetSlice::Ipv6(v6) => (
            v6.header().source_addr().into(),
            v6.header().destination_addr().into(),
        ),
        LaxNetSlice::Arp(_) => return None,
    };
    let (transport, ports) = match sliced.transport? {
        TransportSlice::Tcp(t) => (Transport::Tcp, (t.source_port(), t.destination_port())),
        TransportSlice::Udp(u) => (Transport::Udp, (u.source_port(), u.destination_port())),
        _ => return None,
    };
    Some(Packet {
        number,
        transport,
        src: SocketAddr::new(src_ip, ports.0),
        dst: SocketAddr::new(dst_ip, ports.1),
        tcp: None,
        payload: Vec::new(),
        truncated: Some((data.len(), length)),
        fragment: false,
    })
}

fn decode(number: usize, sliced: &SlicedPacket<'_>) -> Option<Packet> {
    let (src_ip, dst_ip, fragment) = match sliced.net.as_ref()? {
        NetSlice::Ipv4(v4) => (
            v4.header().source_addr().into(),
            v4.header().destination_addr().into(),
            v4.payload().fragmented,
        ),
        NetSlice::Ipv6(v6) => (
            v6.header().source_addr().into(),
            v6.header().destination_addr().into(),
            v6.payload().fragmented,
        ),
        NetSlice::Arp(_) => return None,
    };
    let (transport, ports, tcp, payload) = match sliced.transport.as_ref()? {
        TransportSlice::Tcp(t) => (
            Transport::Tcp,
            (t.source_port(), t.destination_port()),
            Some(TcpFields {
                seq: t.sequence_number(),
                syn: t.syn(),
                ack: t.ack(),
                fin: t.fin(),
                rst: t.rst(),
            }),
            t.payload().to_vec(),
        ),
        TransportSlice::Udp(u) => (
            Transport::Udp,
            (u.source_port(), u.destination_port()),
            None,
            u.payload().to_vec(),
        ),
        _ => return None,
    };
    Some(Packet {
        number,
        transport,
        src: SocketAddr::new(src_ip, ports.0),
        dst: SocketAddr::new(dst_ip, ports.1),
        tcp,
        payload,
        truncated: None,
        fragment,
    })
}

/// One direction of a TCP connection being rebuilt.
#[derive(Default)]
struct Stream {
    /// Sequence number of the first data byte (ISN + 1).
    base: u32,
    /// Bytes delivered so far (the next expected stream offset).
    delivered: u64,
    /// Segments from the future, by stream offset.
    waiting: BTreeMap<u64, Vec<u8>>,
    /// Stream offset of the FIN, once seen.
    fin_at: Option<u64>,
    eof_recorded: bool,
}

impl Stream {
    /// Stream offset of sequence number `seq` (sequence numbers wrap; a capture spans far
    /// less than 2 GiB of one direction, so the difference is taken modulo 2^32).
    fn offset(&self, seq: u32) -> u64 {
        u64::from(seq.wrapping_sub(self.base))
    }

    /// Accepts a segment; returns the bytes that became contiguous, and whether it was a
    /// retransmission (nothing new) or arrived out of order (waits for a gap).
    fn accept(&mut self, at: u64, bytes: &[u8]) -> (Vec<u8>, bool, bool) {
        if bytes.is_empty() {
            // A bare ACK (or the sequence number after a FIN): no bytes to place.
            return (Vec::new(), false, false);
        }
        let end = at + bytes.len() as u64;
        if end <= self.delivered {
            return (Vec::new(), !bytes.is_empty(), false);
        }
        if at > self.delivered {
            self.waiting.entry(at).or_insert_with(|| bytes.to_vec());
            return (Vec::new(), false, true);
        }
        let mut ready = bytes[(self.delivered - at) as usize..].to_vec();
        self.delivered = end;
        while let Some((&next, _)) = self.waiting.first_key_value() {
            if next > self.delivered {
                break;
            }
            let (next, data) = self.waiting.pop_first().unwrap_or_default();
            let data_end = next + data.len() as u64;
            if data_end > self.delivered {
                ready.extend_from_slice(&data[(self.delivered - next) as usize..]);
                self.delivered = data_end;
            }
        }
        (ready, false, false)
    }
}

fn convert_tcp<W: Write + Send + 'static>(
    flow: &[Packet],
    out: W,
) -> Result<(usize, usize), ConvertError> {
    let describe = || format!("{} <-> {}", flow[0].src, flow[0].dst);
    let syn = flow
        .iter()
        .find(|p| p.tcp.is_some_and(|t| t.syn && !t.ack))
        .ok_or_else(|| ConvertError::NoSyn(describe()))?;
    let client = syn.src;
    let dir_of = |p: &Packet| {
        if p.src == client {
            Direction::ClientToServer
        } else {
            Direction::ServerToClient
        }
    };
    let recorder = Recorder::after_header(Box::new(out));
    let mut streams: HashMap<Direction, Stream> = HashMap::new();
    let (mut retransmitted, mut out_of_order) = (0, 0);
    let mut opened = false;
    let mut reset = false;
    for p in flow {
        let Some(t) = p.tcp else { continue };
        let dir = dir_of(p);
        if t.syn {
            // A retransmitted SYN changes nothing; the first one set the base.
            streams.entry(dir).or_insert_with(|| Stream {
                base: t.seq.wrapping_add(1),
                ..Stream::default()
            });
            if !opened && dir == Direction::ServerToClient {
                recorder.open(1);
                opened = true;
            }
            continue;
        }
        let Some(stream) = streams.get_mut(&dir) else {
            continue; // a segment before the handshake: not part of this connection
        };
        if !opened {
            recorder.open(1);
            opened = true;
        }
        let at = stream.offset(t.seq);
        if t.rst {
            recorder.reset(1, dir);
            reset = true;
            break;
        }
        let (ready, again, early) = stream.accept(at, &p.payload);
        retransmitted += usize::from(again);
        out_of_order += usize::from(early);
        if !ready.is_empty() {
            recorder.data(1, dir, &ready);
        }
        if t.fin {
            stream.fin_at.get_or_insert(at + p.payload.len() as u64);
        }
        if let Some(fin_at) = stream.fin_at
            && stream.delivered >= fin_at
            && !stream.eof_recorded
        {
            recorder.eof(1, dir);
            stream.eof_recorded = true;
        }
    }
    if !reset {
        for (dir, stream) in &streams {
            if let Some((&from, _)) = stream.waiting.first_key_value() {
                return Err(ConvertError::Gap {
                    dir: *dir,
                    from: stream.delivered,
                    to: from,
                });
            }
            if let Some(fin_at) = stream.fin_at
                && stream.delivered < fin_at
            {
                return Err(ConvertError::Gap {
                    dir: *dir,
                    from: stream.delivered,
                    to: fin_at,
                });
            }
        }
    }
    recorder.close(1);
    recorder.flush();
    if recorder.failed() {
        return Err(ConvertError::Io(io::Error::other(
            "writing the transcript failed",
        )));
    }
    Ok((retransmitted, out_of_order))
}

fn convert_udp<W: Write>(flow: &[Packet], out: W) -> Result<(), ConvertError> {
    let client = flow[0].src;
    let mut writer = TranscriptWriter::without_header(out);
    let mut offsets: HashMap<Direction, u64> = HashMap::new();
    writer.write(&Record::Open { conn: 1 })?;
    for p in flow {
        let dir = if p.src == client {
            Direction::ClientToServer
        } else {
            Direction::ServerToClient
        };
        let offset = offsets.entry(dir).or_default();
        writer.write(&Record::Data {
            conn: 1,
            dir,
            offset: *offset,
            bytes: p.payload.clone(),
        })?;
        *offset += p.payload.len() as u64;
    }
    writer.write(&Record::Close { conn: 1 })?;
    writer.flush()?;
    Ok(())
}

//! Writing a capture: the packet builder and the per-connection TCP bookkeeping.
//!
//! TCP in a capture must add up: each side's sequence number starts at its initial
//! sequence number (ISN), grows by one for SYN and FIN and by the payload length for data,
//! and every segment acknowledges what the other side has sent so far. The receiver of a
//! data record acknowledges it at once with a bare ACK, as a real receiver would, so
//! Wireshark never sees more unacknowledged bytes than the advertised window.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use etherparse::PacketBuilder;
use pcap_file::DataLink;
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};

use crate::transcript::Direction;

/// Most payload bytes per synthesized TCP segment (the Ethernet MSS over IPv4).
pub const SEGMENT: usize = 1460;

/// Largest packet the file announces it may hold (tcpdump's default snap length): a
/// 65,507-byte UDP datagram with its headers fits whole.
pub const SNAPLEN: u32 = 262_144;

/// Window advertised in every TCP segment.
const WINDOW: u16 = 65_535;

/// Hop limit of the synthesized IP headers.
const TTL: u8 = 64;

/// Locally administered MAC addresses for the two ends.
const CLIENT_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
const SERVER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];

/// The file and its writer, shared by every task of a proxy.
struct Sink {
    /// `None` once writing failed: forwarding goes on, the capture stops.
    writer: Option<PcapWriter<File>>,
}

impl Sink {
    fn create(path: &Path) -> io::Result<Sink> {
        let header = PcapHeader {
            snaplen: SNAPLEN,
            datalink: DataLink::ETHERNET,
            ..PcapHeader::default()
        };
        let writer =
            PcapWriter::with_header(File::create(path)?, header).map_err(io::Error::other)?;
        Ok(Sink {
            writer: Some(writer),
        })
    }

    fn write(&mut self, frame: &[u8]) {
        let Some(writer) = self.writer.as_mut() else {
            return;
        };
        let stamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        let packet = PcapPacket::new(stamp, frame.len() as u32, frame);
        if let Err(err) = writer.write_packet(&packet) {
            tracing::error!(error = %err, "cannot write the pcap file; capture stops (forwarding goes on)");
            self.writer = None;
        }
    }
}

/// One end of a synthesized packet.
#[derive(Debug, Clone, Copy)]
struct End {
    addr: SocketAddr,
    mac: [u8; 6],
}

/// TCP header fields of one synthesized segment.
#[derive(Debug, Clone, Copy, Default)]
struct Flags {
    syn: bool,
    fin: bool,
    rst: bool,
    psh: bool,
    ack: Option<u32>,
}

/// Builds one Ethernet frame from `from` to `to`, TCP (with `tcp`) or UDP (without).
fn frame(from: End, to: End, tcp: Option<(u32, Flags)>, payload: &[u8]) -> Vec<u8> {
    let (src, dst) = same_family(from.addr, to.addr);
    let link = PacketBuilder::ethernet2(from.mac, to.mac);
    let ip = match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => link.ipv4(s.octets(), d.octets(), TTL),
        (s, d) => link.ipv6(v6(s), v6(d), TTL),
    };
    let mut out = Vec::new();
    let written = match tcp {
        Some((seq, flags)) => {
            let mut step = ip.tcp(src.port(), dst.port(), seq, WINDOW);
            if flags.syn {
                step = step.syn();
            }
            if flags.fin {
                step = step.fin();
            }
            if flags.rst {
                step = step.rst();
            }
            if flags.psh {
                step = step.psh();
            }
            if let Some(ack) = flags.ack {
                step = step.ack(ack);
            }
            step.write(&mut out, payload)
        }
        None => ip.udp(src.port(), dst.port()).write(&mut out, payload),
    };
    // Only a payload too large for one IP packet fails, and callers never build one.
    if let Err(err) = written {
        tracing::error!(error = %err, "cannot build a pcap packet; skipped");
        out.clear();
    }
    out
}

/// Both addresses in one family: an IPv4 address beside an IPv6 one becomes `::ffff:a.b.c.d`.
fn same_family(a: SocketAddr, b: SocketAddr) -> (SocketAddr, SocketAddr) {
    if a.is_ipv4() == b.is_ipv4() {
        return (a, b);
    }
    let mapped = |s: SocketAddr| SocketAddr::new(IpAddr::V6(to_v6(s.ip())), s.port());
    (mapped(a), mapped(b))
}

fn to_v6(ip: IpAddr) -> std::net::Ipv6Addr {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    }
}

fn v6(ip: IpAddr) -> [u8; 16] {
    to_v6(ip).octets()
}

/// The capture of a TCP proxy (`proxy tcp --pcap FILE`).
pub struct TcpPcap {
    state: Mutex<TcpState>,
}

impl std::fmt::Debug for TcpPcap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpPcap").finish_non_exhaustive()
    }
}

struct TcpState {
    sink: Sink,
    flows: HashMap<u64, Flow>,
}

/// One connection's two ends and where each side's sequence numbers have got to.
struct Flow {
    client: End,
    server: End,
    /// Next sequence number of the client (index 0) and the server (index 1).
    next: [u32; 2],
    fin: [bool; 2],
    reset: bool,
}

impl Flow {
    fn side(dir: Direction) -> usize {
        match dir {
            Direction::ClientToServer => 0,
            Direction::ServerToClient => 1,
        }
    }

    fn ends(&self, dir: Direction) -> (End, End) {
        match dir {
            Direction::ClientToServer => (self.client, self.server),
            Direction::ServerToClient => (self.server, self.client),
        }
    }

    /// A segment from the sender of `dir`, acknowledging everything the other side sent.
    fn segment(&self, dir: Direction, mut flags: Flags, payload: &[u8]) -> Vec<u8> {
        let (from, to) = self.ends(dir);
        let me = Self::side(dir);
        flags.ack = Some(self.next[1 - me]);
        frame(from, to, Some((self.next[me], flags)), payload)
    }
}

impl TcpPcap {
    /// Creates (truncates) `path` and writes the pcap file header.
    ///
    /// # Errors
    /// If the file cannot be created or written.
    pub fn create(path: &Path) -> io::Result<TcpPcap> {
        Ok(TcpPcap {
            state: Mutex::new(TcpState {
                sink: Sink::create(path)?,
                flows: HashMap::new(),
            }),
        })
    }

    /// Connection `conn` from `client` reached `server`: the three-way handshake.
    pub fn open(&self, conn: u64, client: SocketAddr, server: SocketAddr) {
        // Fixed, distinct initial sequence numbers per connection: a capture of the same
        // conversation has the same numbers.
        let isn_client = (conn as u32).wrapping_mul(0x9e37_79b9);
        let isn_server = isn_client ^ 0x5555_5555;
        let client = End {
            addr: client,
            mac: CLIENT_MAC,
        };
        let server = End {
            addr: server,
            mac: SERVER_MAC,
        };
        let syn = Flags {
            syn: true,
            ..Flags::default()
        };
        let mut state = self.lock();
        state
            .sink
            .write(&frame(client, server, Some((isn_client, syn)), &[]));
        let syn_ack = Flags {
            ack: Some(isn_client.wrapping_add(1)),
            ..syn
        };
        state
            .sink
            .write(&frame(server, client, Some((isn_server, syn_ack)), &[]));
        let flow = Flow {
            client,
            server,
            next: [isn_client.wrapping_add(1), isn_server.wrapping_add(1)],
            fin: [false; 2],
            reset: false,
        };
        let ack = flow.segment(Direction::ClientToServer, Flags::default(), &[]);
        state.sink.write(&ack);
        state.flows.insert(conn, flow);
    }

    /// Bytes forwarded on `conn` in `dir`: segments of at most [`SEGMENT`] bytes, then the
    /// receiver's ACK.
    pub fn data(&self, conn: u64, dir: Direction, bytes: &[u8]) {
        let mut state = self.lock();
        let TcpState { sink, flows } = &mut *state;
        let Some(flow) = flows.get_mut(&conn) else {
            return;
        };
        let me = Flow::side(dir);
        for piece in bytes.chunks(SEGMENT) {
            let psh = Flags {
                psh: true,
                ..Flags::default()
            };
            sink.write(&flow.segment(dir, psh, piece));
            flow.next[me] = flow.next[me].wrapping_add(piece.len() as u32);
        }
        sink.write(&flow.segment(dir.reverse(), Flags::default(), &[]));
    }

    /// The sender of `dir` half-closed: FIN, and the other side's ACK of it.
    pub fn eof(&self, conn: u64, dir: Direction) {
        let mut state = self.lock();
        let TcpState { sink, flows } = &mut *state;
        let Some(flow) = flows.get_mut(&conn) else {
            return;
        };
        let me = Flow::side(dir);
        if flow.fin[me] || flow.reset {
            return;
        }
        let fin = Flags {
            fin: true,
            ..Flags::default()
        };
        sink.write(&flow.segment(dir, fin, &[]));
        flow.next[me] = flow.next[me].wrapping_add(1);
        flow.fin[me] = true;
        sink.write(&flow.segment(dir.reverse(), Flags::default(), &[]));
    }

    /// Direction `dir` ended with an error: an RST from its sender.
    pub fn reset(&self, conn: u64, dir: Direction) {
        let mut state = self.lock();
        let TcpState { sink, flows } = &mut *state;
        if let Some(flow) = flows.get_mut(&conn)
            && !flow.reset
        {
            let rst = Flags {
                rst: true,
                ..Flags::default()
            };
            sink.write(&flow.segment(dir, rst, &[]));
            flow.reset = true;
        }
    }

    /// Connection `conn` is over. If it did not end with two FINs or a reset (the proxy
    /// dropped it: idle, a write deadline, shutdown), an RST from the server's side says so.
    pub fn close(&self, conn: u64) {
        let mut state = self.lock();
        let TcpState { sink, flows } = &mut *state;
        if let Some(flow) = flows.remove(&conn)
            && !flow.reset
            && !(flow.fin[0] && flow.fin[1])
        {
            let rst = Flags {
                rst: true,
                ..Flags::default()
            };
            sink.write(&flow.segment(Direction::ServerToClient, rst, &[]));
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, TcpState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The capture of a UDP proxy (`proxy udp --pcap FILE`): one packet per datagram sent on.
pub struct UdpPcap {
    server: SocketAddr,
    sink: Mutex<Sink>,
}

impl std::fmt::Debug for UdpPcap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UdpPcap")
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

impl UdpPcap {
    /// Creates (truncates) `path` for a proxy in front of `server`.
    ///
    /// # Errors
    /// If the file cannot be created or written.
    pub fn create(path: &Path, server: SocketAddr) -> io::Result<UdpPcap> {
        Ok(UdpPcap {
            server,
            sink: Mutex::new(Sink::create(path)?),
        })
    }

    /// One datagram of `client`'s session, sent on in `dir`.
    pub fn datagram(&self, client: SocketAddr, dir: Direction, bytes: &[u8]) {
        let client = End {
            addr: client,
            mac: CLIENT_MAC,
        };
        let server = End {
            addr: self.server,
            mac: SERVER_MAC,
        };
        let (from, to) = match dir {
            Direction::ClientToServer => (client, server),
            Direction::ServerToClient => (server, client),
        };
        let packet = frame(from, to, None, bytes);
        self.sink
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .write(&packet);
    }
}

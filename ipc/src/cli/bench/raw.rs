//! The plain loops: beside every mechanism, what a C programmer would write over the same
//! system call, measured between the same two processes, pinned the same way, in the same run.
//!
//! No framing beyond what the mechanism itself needs, no allocation per message, one system call
//! per message where the mechanism needs one: byte streams (pipe, FIFO, Unix stream, TCP) are
//! `write(2)`/`send(2)` of the size, and the reader `read(2)`s/`recv(2)`s into 64 KiB and counts
//! bytes until end of file; datagrams (Unix datagram, UDP) and queues (`mq_send(3)`) carry one
//! message each and end with an empty one (`mq_timedreceive(3)`: a deadline, as the `mq` link); shared memory is [`super::raw_ring`], no system call.
//! The reader reports what it counted, so lost UDP datagrams do not count here either.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use ipc::mq::Mailbox;
use ipc::shm::{Mapping, segment};
use ipc::uds::{datagram, stream};
use rustix::net::{RecvFlags, SendFlags, Shutdown};

use super::mechs::{self, Mech};
use super::raw_ring::RawRing;
use super::{BenchArgs, Rate};

/// Messages the plain loop's queue holds (the unprivileged `msg_max`, as for `mq`).
pub const MQ_DEPTH: i64 = 10;
/// How long a plain loop waits for its peer before the run is declared stuck.
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// The reader's buffer for byte streams.
pub const STREAM_BUFFER: usize = 64 * 1024;
/// How often the UDP sender repeats its end marker before giving up (each waits 20 ms).
const UDP_END_TRIES: u32 = 250;

/// The mechanism whose plain loop `mech` is compared with (every `shm` flavour uses `shm`'s).
pub fn baseline(mech: Mech) -> Mech {
    match mech {
        Mech::Pipe | Mech::Fifo | Mech::UdsStream | Mech::UdsDgram => mech,
        Mech::Tcp | Mech::Udp | Mech::Mq | Mech::Shm => mech,
        // Every other flavour of the shared-memory ring.
        _ => Mech::Shm,
    }
}

/// One end of a plain loop.
pub enum Plain {
    /// Pipe and FIFO: `write(2)` on one descriptor, `read(2)` on the other; closing ends.
    Files { tx: Option<OwnedFd>, rx: OwnedFd },
    /// Unix stream and TCP: `send(2)`/`recv(2)` on one socket; `shutdown(SHUT_WR)` ends.
    Stream(OwnedFd),
    /// Connected Unix datagram and UDP sockets; an empty datagram ends.
    Datagram { socket: OwnedFd, lossy: bool },
    /// Two message queues; an empty message ends.
    Queue { tx: Mailbox, rx: Mailbox },
    /// The plain ring (one direction) and the report coming back in the same segment.
    Ring(RawRing<Mapping>),
}

/// Throughput of `mech`'s plain loop at `size`: sends for the duration, then the end.
pub fn throughput(
    mech: Mech,
    size: usize,
    args: &BenchArgs,
    dir: &Path,
    cpu: Option<usize>,
) -> anyhow::Result<Rate> {
    super::check_fits(mech, size)?;
    let name = segment_name();
    let (mut child, mut plain) = open(mech, size, dir, &name, cpu)?;
    let result = send_for(&mut plain, size, args);
    if result.is_err() {
        let _ = child.kill();
    }
    child.wait()?;
    clean_up(mech, dir, &name);
    result
}

fn send_for(plain: &mut Plain, size: usize, args: &BenchArgs) -> anyhow::Result<Rate> {
    let duration = Duration::from_secs_f64(args.duration_s);
    let msg = vec![super::DATA; size];
    let start = Instant::now();
    let mut sent = 0u64;
    while sent < args.count && (!sent.is_multiple_of(64) || start.elapsed() < duration) {
        plain.send(&msg)?;
        sent += 1;
    }
    let received = plain.finish(size)?;
    Ok(super::rate(received, size, start.elapsed().as_secs_f64()))
}

impl Plain {
    /// Sends one message with one system call (a stream loops only over a short write).
    pub fn send(&self, msg: &[u8]) -> io::Result<()> {
        match self {
            Plain::Files { tx: Some(tx), .. } => write_all(msg, |b| rustix::io::write(tx, b)),
            Plain::Files { tx: None, .. } => Err(io::Error::other("already closed")),
            Plain::Stream(socket) => {
                write_all(msg, |b| rustix::net::send(socket, b, SendFlags::NOSIGNAL))
            }
            Plain::Datagram { socket, lossy } => send_datagram(socket, msg, *lossy),
            Plain::Queue { tx, .. } => tx.send(msg, 0).map_err(io::Error::other),
            Plain::Ring(ring) => ring.push(msg),
        }
    }

    /// Receives into `buf`: the bytes or the message's length, 0 at the end.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Plain::Files { rx, .. } => Ok(rustix::io::read(rx, buf)?),
            Plain::Stream(socket) | Plain::Datagram { socket, .. } => {
                Ok(rustix::net::recv(socket, buf, RecvFlags::empty())?.0)
            }
            // A deadline, so that a vanished sender never leaves the reader waiting.
            Plain::Queue { rx, .. } => {
                Ok(rx.receive_within(buf, TIMEOUT).map_err(io::Error::other)?.0)
            }
            Plain::Ring(ring) => Ok(if ring.pop(buf)? { buf.len() } else { 0 }),
        }
    }

    /// Whether the reader counts bytes (streams) rather than messages.
    pub fn counts_bytes(&self) -> bool {
        matches!(self, Plain::Files { .. } | Plain::Stream(_))
    }

    /// Ends the stream and returns how many messages of `size` the peer counted.
    fn finish(&mut self, size: usize) -> io::Result<u64> {
        let counted = match self {
            Plain::Files { tx, .. } => {
                drop(tx.take());
                self.read_report()?
            }
            Plain::Stream(socket) => {
                rustix::net::shutdown(&*socket, Shutdown::Write)?;
                self.read_report()?
            }
            Plain::Datagram { socket, lossy } if *lossy => end_lossy(socket)?,
            Plain::Ring(ring) => {
                ring.close();
                ring.wait_report()?
            }
            Plain::Datagram { .. } | Plain::Queue { .. } => {
                self.send(&[])?;
                self.read_report()?
            }
        };
        Ok(if self.counts_bytes() {
            counted / size as u64
        } else {
            counted
        })
    }

    /// The peer's count: 8 bytes, little-endian.
    fn read_report(&self) -> io::Result<u64> {
        let mut report = vec![0u8; STREAM_BUFFER];
        let mut got = 0;
        while got < 8 {
            match self.recv(&mut report[got..])? {
                0 => return Err(io::Error::other("the peer closed before its report")),
                n => got += n,
            }
        }
        Ok(u64::from_le_bytes([
            report[0], report[1], report[2], report[3], report[4], report[5], report[6], report[7],
        ]))
    }

    /// The reader's side: sends the count back (or leaves it in the ring).
    pub fn report(&self, count: u64) -> io::Result<()> {
        match self {
            Plain::Files { .. } | Plain::Stream(_) | Plain::Queue { .. } => {
                self.send(&count.to_le_bytes())
            }
            Plain::Datagram { socket, .. } => {
                rustix::net::send(socket, &count.to_le_bytes(), SendFlags::empty()).map(drop)?;
                Ok(())
            }
            Plain::Ring(ring) => {
                ring.report(count);
                Ok(())
            }
        }
    }
}

/// `write(2)`/`send(2)` until all of `msg` is out (blocking sockets and pipes rarely write less).
fn write_all(
    mut msg: &[u8],
    mut write: impl FnMut(&[u8]) -> rustix::io::Result<usize>,
) -> io::Result<()> {
    while !msg.is_empty() {
        let n = write(msg)?;
        msg = &msg[n..];
    }
    Ok(())
}

/// One `send(2)`; UDP drops on a full buffer or an earlier ICMP error, and so does its sender.
fn send_datagram(socket: &OwnedFd, msg: &[u8], lossy: bool) -> io::Result<()> {
    match rustix::net::send(socket, msg, SendFlags::empty()) {
        Ok(_) => Ok(()),
        Err(
            rustix::io::Errno::AGAIN | rustix::io::Errno::CONNREFUSED | rustix::io::Errno::NOBUFS,
        ) if lossy => Ok(()),
        Err(err) => Err(err.into()),
    }
}

/// UDP's end marker may be lost: repeat it until the count comes back.
fn end_lossy(socket: &OwnedFd) -> io::Result<u64> {
    rustix::net::sockopt::set_socket_timeout(
        socket,
        rustix::net::sockopt::Timeout::Recv,
        Some(Duration::from_millis(20)),
    )?;
    let mut report = [0u8; 8];
    for _ in 0..UDP_END_TRIES {
        send_datagram(socket, &[], true)?;
        if let Ok((8, _)) = rustix::net::recv(socket, &mut report, RecvFlags::empty()) {
            return Ok(u64::from_le_bytes(report));
        }
    }
    Err(io::Error::new(
        io::ErrorKind::TimedOut,
        "the udp peer never answered the end",
    ))
}

/// The parent's side: creates the resource, starts `ipc child bench-peer --role raw`, waits
/// until the child is attached (start-up is never timed).
fn open(
    mech: Mech,
    size: usize,
    dir: &Path,
    name: &str,
    cpu: Option<usize>,
) -> anyhow::Result<(Child, Plain)> {
    let mut cmd = mechs::peer_command(mech, size, "raw", cpu)?;
    if mech != Mech::Pipe {
        cmd.stdout(Stdio::null());
    }
    let (child, plain) = start(mech, size, dir, name, cmd)?;
    let ready = wait_ready(&plain);
    Ok((mechs::ready_or_kill(child, ready)?, plain))
}

fn start(
    mech: Mech,
    size: usize,
    dir: &Path,
    name: &str,
    mut cmd: std::process::Command,
) -> anyhow::Result<(Child, Plain)> {
    let resource = match mech {
        Mech::Mq | Mech::Shm => name.to_string(),
        _ => dir.to_string_lossy().into_owned(),
    };
    if !matches!(mech, Mech::Pipe | Mech::Tcp | Mech::Udp) {
        cmd.args(["--resource", &resource]);
    }
    Ok(match mech {
        Mech::Pipe => {
            let (child, tx, rx) = ipc::pipe::spawn_duplex(cmd)?;
            let (tx, rx) = (Some(tx.into()), rx.into());
            (child, Plain::Files { tx, rx })
        }
        Mech::Fifo => {
            let (a2b, b2a) = (dir.join("a2b"), dir.join("b2a"));
            ipc::fifo::create(&a2b)?;
            ipc::fifo::create(&b2a)?;
            let child = cmd.spawn()?;
            let tx = Some(ipc::fifo::open_writer(&a2b)?.into());
            let rx = ipc::fifo::open_reader(&b2a)?.into();
            (child, Plain::Files { tx, rx })
        }
        Mech::UdsStream => {
            let listener = stream::listen(&dir.join("s.sock"))?;
            let child = cmd.spawn()?;
            let (socket, _) = listener.accept()?;
            socket.set_read_timeout(Some(TIMEOUT))?;
            (child, Plain::Stream(socket.into()))
        }
        Mech::UdsDgram => {
            let socket = datagram::bind(&dir.join("p.sock"))?;
            socket.set_read_timeout(Some(TIMEOUT))?;
            let child = cmd.spawn()?;
            socket.recv(&mut [0u8; 8]).context("hello from the child")?;
            socket.connect(dir.join("c.sock"))?;
            let lossy = false;
            (
                child,
                Plain::Datagram {
                    socket: socket.into(),
                    lossy,
                },
            )
        }
        Mech::Tcp => {
            let (child, socket) = mechs::tcp_pair(cmd)?;
            (child, Plain::Stream(socket.into()))
        }
        Mech::Udp => {
            let (child, socket) = mechs::udp_pair(cmd)?;
            let lossy = true;
            (
                child,
                Plain::Datagram {
                    socket: socket.into(),
                    lossy,
                },
            )
        }
        Mech::Mq => {
            let tx = Mailbox::create(&format!("{name}-a2b"), MQ_DEPTH, size as i64)?;
            let rx = Mailbox::create(&format!("{name}-b2a"), MQ_DEPTH, size as i64)?;
            (cmd.spawn()?, Plain::Queue { tx, rx })
        }
        Mech::Shm => {
            // The same buffering as the mechanisms' rings (about a pipe buffer's 64 KiB).
            let geometry = mechs::ring_geometry(size)?;
            let ring = RawRing::new(segment::create(name, geometry)?, geometry.capacity, size)?;
            (cmd.spawn()?, Plain::Ring(ring))
        }
        other => anyhow::bail!("{} has no plain loop", other.key()),
    })
}

/// The child's first message: one byte (datagram sockets sent their hello already).
fn wait_ready(plain: &Plain) -> io::Result<()> {
    match plain {
        Plain::Datagram { .. } => Ok(()),
        Plain::Ring(ring) => ring.wait_ready(),
        Plain::Queue { .. } => plain.recv(&mut vec![0u8; STREAM_BUFFER]).map(drop),
        _ => match plain.recv(&mut [0u8; 1])? {
            1 => Ok(()),
            _ => Err(io::Error::other("the peer closed before it was ready")),
        },
    }
}

/// A per-process name for the plain loop's segment or queues.
fn segment_name() -> String {
    format!("ipc-bench-{}-raw", std::process::id())
}

fn clean_up(mech: Mech, dir: &Path, name: &str) {
    match mech {
        Mech::Mq => {
            let _ = ipc::mq::unlink(&format!("{name}-a2b"));
            let _ = ipc::mq::unlink(&format!("{name}-b2a"));
        }
        Mech::Shm => drop(segment::unlink(name)),
        _ => mechs::clean_up(mech, dir),
    }
}

/// fd 0 or 1 as a raw descriptor (std's `Stdout` is line-buffered and would add copies).
pub fn stdio(fd: i32) -> io::Result<OwnedFd> {
    if fd == 0 {
        std::io::stdin().as_fd().try_clone_to_owned()
    } else {
        std::io::stdout().as_fd().try_clone_to_owned()
    }
}

//! Setting up each mechanism: the parent creates the resource and starts `ipc child bench-peer`,
//! the child attaches to the same resource; both end up with a [`Link`].

use std::fs::File;
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsFd;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

use anyhow::Context;
use clap::ValueEnum;
use ipc::mq::Mailbox;
use ipc::shm::{self, Geometry, WaitMode};
use ipc::uds::{datagram, stream};

use super::link::{FileLink, Link, Mq, Shm, ShmBatch, Stream, Udp, UnixDgram, buffered};
use crate::cli::child_command;

/// Bytes each bench ring holds, about a pipe's buffer (64 KiB on Linux, `pipe(7)`), so a ring
/// lets the producer run as far ahead of the consumer as a pipe does.
const RING_BYTES: usize = 64 * 1024;
/// Fewest slots per direction (a 64 KiB message still gets some overlap: 512 KiB a ring).
const MIN_RING_SLOTS: u32 = 8;
/// Most slots per direction (what 64 B messages get: 64 KiB of payload).
const MAX_RING_SLOTS: u32 = 1024;
/// Messages a bench queue holds (the unprivileged `msg_max`).
const MQ_DEPTH: i64 = 10;
/// How long a bench socket waits for one message before the run is declared stuck.
const SOCKET_TIMEOUT: Duration = Duration::from_secs(5);

/// The mechanisms the bench compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mech {
    /// Two pipes (the child's stdin and stdout).
    Pipe,
    /// Two FIFOs.
    Fifo,
    /// A Unix stream socket.
    UdsStream,
    /// Connected Unix datagram sockets.
    UdsDgram,
    /// TCP over 127.0.0.1.
    Tcp,
    /// UDP over 127.0.0.1.
    Udp,
    /// Two POSIX message queues.
    Mq,
    /// Two shared-memory rings, futex waits at once (the plain version).
    ShmSleep,
    /// Two shared-memory rings, a short spin and then futex waits.
    Shm,
    /// Two shared-memory rings, spinning waits.
    ShmSpin,
    /// Two shared-memory rings through the batch calls: one CAS and one wakeup per batch.
    ShmBatch,
}

impl Mech {
    /// The key prefix in the final `key=value` line.
    pub fn key(self) -> &'static str {
        match self {
            Mech::Pipe => "pipe",
            Mech::Fifo => "fifo",
            Mech::UdsStream => "uds_stream",
            Mech::UdsDgram => "uds_dgram",
            Mech::Tcp => "tcp",
            Mech::Udp => "udp",
            Mech::Mq => "mq",
            Mech::ShmSleep => "shm_sleep",
            Mech::Shm => "shm",
            Mech::ShmSpin => "shm_spin",
            Mech::ShmBatch => "shm_batch",
        }
    }

    fn arg(self) -> String {
        self.to_possible_value()
            .map(|v| v.get_name().to_string())
            .unwrap_or_default()
    }
}

/// The parent's side: creates the resource, starts the child in `role`, waits until the child
/// says it is attached (so start-up is never timed), returns both.
pub fn open(
    mech: Mech,
    size: usize,
    role: &str,
    dir: &Path,
    cpu: Option<usize>,
) -> anyhow::Result<(Child, Box<dyn Link>)> {
    let (child, mut link) = start(mech, size, role, dir, cpu)?;
    let ready = link.recv(&mut vec![0u8; size]).map(drop);
    Ok((ready_or_kill(child, ready)?, link))
}

/// The child once it said it is attached; killed and reaped if it never did.
pub fn ready_or_kill(mut child: Child, ready: std::io::Result<()>) -> anyhow::Result<Child> {
    if let Err(err) = ready {
        let _ = child.kill();
        let _ = child.wait();
        return Err(err).context("waiting for the bench peer to attach");
    }
    Ok(child)
}

fn start(
    mech: Mech,
    size: usize,
    role: &str,
    dir: &Path,
    cpu: Option<usize>,
) -> anyhow::Result<(Child, Box<dyn Link>)> {
    let resource = resource_name(mech, dir);
    let mut cmd = peer_command(mech, size, role, cpu)?;
    cmd.stdout(Stdio::null());
    match mech {
        Mech::Pipe => {
            let (child, tx, rx) = ipc::pipe::spawn_duplex(cmd)?;
            Ok((
                child,
                Box::new(FileLink {
                    rx: buffered(rx),
                    tx,
                }),
            ))
        }
        Mech::Fifo => {
            let (a2b, b2a) = (dir.join("a2b"), dir.join("b2a"));
            ipc::fifo::create(&a2b)?;
            ipc::fifo::create(&b2a)?;
            let child = cmd.args(["--resource", &resource]).spawn()?;
            let tx = ipc::fifo::open_writer(&a2b)?;
            let rx = ipc::fifo::open_reader(&b2a)?;
            Ok((
                child,
                Box::new(FileLink {
                    rx: buffered(rx),
                    tx,
                }),
            ))
        }
        Mech::UdsStream => {
            let listener = stream::listen(&dir.join("s.sock"))?;
            let child = cmd.args(["--resource", &resource]).spawn()?;
            let (socket, _) = listener.accept()?;
            socket.set_read_timeout(Some(SOCKET_TIMEOUT))?;
            Ok((
                child,
                Box::new(Stream {
                    rx: buffered(socket.try_clone()?),
                    tx: socket,
                }),
            ))
        }
        Mech::UdsDgram => {
            let socket = datagram::bind(&dir.join("p.sock"))?;
            socket.set_read_timeout(Some(SOCKET_TIMEOUT))?;
            let child = cmd.args(["--resource", &resource]).spawn()?;
            socket.recv(&mut [0u8; 8]).context("hello from the child")?;
            socket.connect(dir.join("c.sock"))?;
            Ok((child, Box::new(UnixDgram(socket))))
        }
        Mech::Tcp => {
            let (child, socket) = tcp_pair(cmd)?;
            Ok((
                child,
                Box::new(Stream {
                    rx: buffered(socket.try_clone()?),
                    tx: socket,
                }),
            ))
        }
        Mech::Udp => {
            let (child, socket) = udp_pair(cmd)?;
            Ok((child, Box::new(Udp(socket))))
        }
        Mech::Mq => {
            let tx = Mailbox::create(&format!("{resource}-a2b"), MQ_DEPTH, size as i64)?;
            let rx = Mailbox::create(&format!("{resource}-b2a"), MQ_DEPTH, size as i64)?;
            let child = cmd.args(["--resource", &resource]).spawn()?;
            Ok((
                child,
                Box::new(Mq {
                    tx,
                    rx,
                    scratch: vec![0; size],
                }),
            ))
        }
        Mech::ShmSleep | Mech::Shm | Mech::ShmSpin | Mech::ShmBatch => {
            let geometry = ring_geometry(size)?;
            let tx = shm::create(&format!("{resource}-a2b"), geometry)?;
            let rx = shm::create(&format!("{resource}-b2a"), geometry)?;
            let child = cmd.args(["--resource", &resource]).spawn()?;
            Ok((child, shm_link(mech, tx, rx)))
        }
    }
}

/// The geometry of one bench ring for `size`-byte messages: the same buffering as a pipe,
/// at most [`RING_BYTES`] of slots, rounded down to a power of two (the ring needs one), within
/// [`MIN_RING_SLOTS`]..=[`MAX_RING_SLOTS`].
pub fn ring_geometry(size: usize) -> anyhow::Result<Geometry> {
    let slot_bytes = size.next_multiple_of(4).max(4);
    let fits = u32::try_from(RING_BYTES / slot_bytes).unwrap_or(u32::MAX);
    let slots = fits.clamp(MIN_RING_SLOTS, MAX_RING_SLOTS);
    let slots = 1 << slots.ilog2();
    Ok(Geometry::new(slots, slot_bytes as u32)?)
}

/// A TCP connection on 127.0.0.1 from the child, `TCP_NODELAY` as the mechanism uses it.
pub fn tcp_pair(mut cmd: std::process::Command) -> anyhow::Result<(Child, TcpStream)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let child = cmd
        .args(["--resource", &listener.local_addr()?.to_string()])
        .spawn()?;
    let (socket, _) = listener.accept()?;
    socket.set_nodelay(true)?;
    socket.set_read_timeout(Some(SOCKET_TIMEOUT))?;
    Ok((child, socket))
}

/// A UDP socket on 127.0.0.1, connected to the child once its hello arrived.
pub fn udp_pair(mut cmd: std::process::Command) -> anyhow::Result<(Child, UdpSocket)> {
    let socket = UdpSocket::bind("127.0.0.1:0")?;
    socket.set_read_timeout(Some(SOCKET_TIMEOUT))?;
    let child = cmd
        .args(["--resource", &socket.local_addr()?.to_string()])
        .spawn()?;
    let (_, peer) = socket
        .recv_from(&mut [0u8; 8])
        .context("hello from the child")?;
    socket.connect(peer)?;
    Ok((child, socket))
}

/// `ipc child bench-peer ...` for one measurement.
pub fn peer_command(
    mech: Mech,
    size: usize,
    role: &str,
    cpu: Option<usize>,
) -> anyhow::Result<std::process::Command> {
    let mut cmd = child_command(&[
        "bench-peer",
        "--mech",
        &mech.arg(),
        "--role",
        role,
        "--size",
        &size.to_string(),
    ])?;
    if let Some(cpu) = cpu {
        cmd.args(["--cpu", &cpu.to_string()]);
    }
    Ok(cmd)
}

/// The child's side: attaches to what the parent made (`resource` names it).
pub fn attach(mech: Mech, size: usize, resource: &str) -> anyhow::Result<Box<dyn Link>> {
    let dir = Path::new(resource);
    Ok(match mech {
        Mech::Pipe => Box::new(FileLink {
            rx: buffered(stdio(0)?),
            tx: stdio(1)?,
        }),
        Mech::Fifo => {
            let rx = ipc::fifo::open_reader(&dir.join("a2b"))?;
            let tx = ipc::fifo::open_writer(&dir.join("b2a"))?;
            Box::new(FileLink {
                rx: buffered(rx),
                tx,
            })
        }
        Mech::UdsStream => {
            let socket = stream::connect(&dir.join("s.sock"))?;
            socket.set_read_timeout(Some(SOCKET_TIMEOUT))?;
            Box::new(Stream {
                rx: buffered(socket.try_clone()?),
                tx: socket,
            })
        }
        Mech::UdsDgram => {
            let socket = datagram::bind(&dir.join("c.sock"))?;
            socket.set_read_timeout(Some(SOCKET_TIMEOUT))?;
            socket.connect(dir.join("p.sock"))?;
            socket.send(b"hello")?;
            Box::new(UnixDgram(socket))
        }
        Mech::Tcp => {
            let socket = TcpStream::connect(resource)?;
            socket.set_nodelay(true)?;
            socket.set_read_timeout(Some(SOCKET_TIMEOUT))?;
            Box::new(Stream {
                rx: buffered(socket.try_clone()?),
                tx: socket,
            })
        }
        Mech::Udp => {
            let socket = UdpSocket::bind("127.0.0.1:0")?;
            socket.set_read_timeout(Some(SOCKET_TIMEOUT))?;
            socket.connect(resource)?;
            socket.send(b"hello")?;
            Box::new(Udp(socket))
        }
        Mech::Mq => {
            let rx = Mailbox::open(&format!("{resource}-a2b"))?;
            Box::new(Mq {
                rx,
                tx: Mailbox::open(&format!("{resource}-b2a"))?,
                scratch: vec![0; size],
            })
        }
        Mech::ShmSleep | Mech::Shm | Mech::ShmSpin | Mech::ShmBatch => shm_link(
            mech,
            shm::open(&format!("{resource}-b2a"))?,
            shm::open(&format!("{resource}-a2b"))?,
        ),
    })
}

/// Removes the names a run created (the directory is removed by the caller).
pub fn clean_up(mech: Mech, dir: &Path) {
    let resource = resource_name(mech, dir);
    for dir_name in ["a2b", "b2a"] {
        let name = format!("{resource}-{dir_name}");
        match mech {
            Mech::Mq => drop(ipc::mq::unlink(&name)),
            Mech::ShmSleep | Mech::Shm | Mech::ShmSpin | Mech::ShmBatch => drop(shm::unlink(&name)),
            _ => {}
        }
    }
    for file in ["a2b", "b2a", "s.sock", "p.sock", "c.sock"] {
        let _ = std::fs::remove_file(dir.join(file));
    }
}

/// Paths for file-system mechanisms, a per-process name for shm and mq.
fn resource_name(mech: Mech, dir: &Path) -> String {
    match mech {
        Mech::Mq | Mech::ShmSleep | Mech::Shm | Mech::ShmSpin | Mech::ShmBatch => {
            format!("ipc-bench-{}", std::process::id())
        }
        _ => dir.to_string_lossy().into_owned(),
    }
}

/// The link over two rings: the batch calls for `shm-batch`, one message per call otherwise.
fn shm_link(mech: Mech, tx: shm::SharedRing, rx: shm::SharedRing) -> Box<dyn Link> {
    match mech {
        Mech::ShmBatch => Box::new(ShmBatch::new(tx, rx)),
        _ => Box::new(Shm {
            tx,
            rx,
            mode: wait_mode(mech),
        }),
    }
}

fn wait_mode(mech: Mech) -> WaitMode {
    match mech {
        Mech::ShmSpin => WaitMode::Spin,
        Mech::ShmSleep => WaitMode::Sleep,
        _ => WaitMode::Block,
    }
}

/// fd 0 or 1 as a raw `File` (std's `Stdout` is line-buffered and would add copies).
fn stdio(fd: i32) -> anyhow::Result<File> {
    let owned = if fd == 0 {
        std::io::stdin().as_fd().try_clone_to_owned()?
    } else {
        std::io::stdout().as_fd().try_clone_to_owned()?
    };
    Ok(File::from(owned))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bench_ring_buffers_about_what_a_pipe_does() {
        let slots = |size| ring_geometry(size).expect("valid geometry").capacity;
        assert_eq!(slots(64), 1024);
        assert_eq!(slots(1024), 64);
        assert_eq!(slots(100), 512);
        assert_eq!(slots(65536), MIN_RING_SLOTS);
        assert_eq!(slots(1), MAX_RING_SLOTS);
    }
}

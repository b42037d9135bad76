//! `ipc child bench-peer --role raw`: the reader of a plain loop. It attaches to what the parent
//! made, says it is ready, counts bytes (streams) or messages until the end, and reports the count.

use std::net::{TcpStream, UdpSocket};
use std::path::Path;

use ipc::mq::Mailbox;
use ipc::shm::segment;
use ipc::uds::{datagram, stream};

use super::mechs::Mech;
use super::mechs::ring_geometry;
use super::raw::{Plain, STREAM_BUFFER, TIMEOUT, stdio};
use super::raw_ring::RawRing;

/// Runs the reader until the parent's end, then reports.
pub fn run(mech: Mech, size: usize, resource: &str) -> anyhow::Result<()> {
    let plain = attach(mech, size, resource)?;
    say_ready(&plain)?;
    let mut buf = vec![0u8; size.max(STREAM_BUFFER)];
    if let Plain::Ring(_) = plain {
        buf.truncate(size);
    }
    let mut count = 0u64;
    loop {
        match plain.recv(&mut buf)? {
            0 => break,
            n if plain.counts_bytes() => count += n as u64,
            _ => count += 1,
        }
    }
    plain.report(count)?;
    Ok(())
}

fn say_ready(plain: &Plain) -> anyhow::Result<()> {
    match plain {
        // The hello datagram was the ready message.
        Plain::Datagram { .. } => {}
        Plain::Ring(ring) => ring.set_ready(),
        _ => plain.send(&[super::READY])?,
    }
    Ok(())
}

fn attach(mech: Mech, size: usize, resource: &str) -> anyhow::Result<Plain> {
    let dir = Path::new(resource);
    Ok(match mech {
        Mech::Pipe => Plain::Files {
            rx: stdio(0)?,
            tx: Some(stdio(1)?),
        },
        Mech::Fifo => {
            let rx = ipc::fifo::open_reader(&dir.join("a2b"))?.into();
            let tx = Some(ipc::fifo::open_writer(&dir.join("b2a"))?.into());
            Plain::Files { tx, rx }
        }
        Mech::UdsStream => {
            let socket = stream::connect(&dir.join("s.sock"))?;
            socket.set_read_timeout(Some(TIMEOUT))?;
            Plain::Stream(socket.into())
        }
        Mech::UdsDgram => {
            let socket = datagram::bind(&dir.join("c.sock"))?;
            socket.set_read_timeout(Some(TIMEOUT))?;
            socket.connect(dir.join("p.sock"))?;
            socket.send(b"hello")?;
            let lossy = false;
            Plain::Datagram {
                socket: socket.into(),
                lossy,
            }
        }
        Mech::Tcp => {
            let socket = TcpStream::connect(resource)?;
            socket.set_nodelay(true)?;
            socket.set_read_timeout(Some(TIMEOUT))?;
            Plain::Stream(socket.into())
        }
        Mech::Udp => {
            let socket = UdpSocket::bind("127.0.0.1:0")?;
            socket.set_read_timeout(Some(TIMEOUT))?;
            socket.connect(resource)?;
            socket.send(b"hello")?;
            let lossy = true;
            Plain::Datagram {
                socket: socket.into(),
                lossy,
            }
        }
        Mech::Mq => Plain::Queue {
            rx: Mailbox::open(&format!("{resource}-a2b"))?,
            tx: Mailbox::open(&format!("{resource}-b2a"))?,
        },
        Mech::Shm => {
            let slots = ring_geometry(size)?.capacity;
            Plain::Ring(RawRing::new(segment::open(resource)?, slots, size)?)
        }
        other => anyhow::bail!("{} has no plain loop", other.key()),
    })
}

//! One bidirectional message link per mechanism, the same two calls for all of them, so the
//! bench loop is written once.
//!
//! Messages have a fixed size per run. Byte streams (pipe, FIFO, Unix stream, TCP) need no
//! framing beyond that: `recv` reads exactly `buf.len()` bytes. Datagram links return one message.

use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::net::UdpSocket;
use std::os::unix::net::UnixDatagram;
use std::time::Duration;

use ipc::mq::Mailbox;
use ipc::shm::{FullPolicy, PopError, SharedRing, WaitMode};

/// Both directions of one mechanism.
pub trait Link {
    /// Sends one message.
    fn send(&mut self, msg: &[u8]) -> io::Result<()>;
    /// Sends `msg` `n` times (links with a batch call override this).
    fn send_many(&mut self, msg: &[u8], n: usize) -> io::Result<()> {
        (0..n).try_for_each(|_| self.send(msg))
    }
    /// Receives one message into `buf` (stream links fill it exactly).
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize>;
    /// The throughput sink's receive: takes at least one message (waiting for it), adds one to
    /// `count` per data message, ignores unknown ones, and returns `true` once the stop marker
    /// arrived (nothing follows it in a throughput run). Links that can take many messages per
    /// call override this; the default is one [`Link::recv`].
    fn recv_counting(&mut self, buf: &mut [u8], count: &mut u64) -> io::Result<bool> {
        self.recv(buf)?;
        Ok(tally(buf, count))
    }
    /// Sends `stop` and waits for the reply (lossy links override this to retry).
    fn finish(&mut self, stop: &[u8], reply: &mut [u8]) -> io::Result<usize> {
        self.send(stop)?;
        self.recv(reply)
    }
}

/// The sink's check of one message: counts a data message, `true` for the stop marker.
fn tally(message: &[u8], count: &mut u64) -> bool {
    match message.first() {
        Some(&super::DATA) => *count += 1,
        Some(&super::STOP) => return true,
        _ => {}
    }
    false
}

/// A byte stream in each direction (the same socket twice, or two pipes). Give `rx` through
/// [`buffered`]: fixed-size messages read one by one cost a `read(2)` each; from a 64 KiB buffer
/// one `read(2)` brings every message already waiting, as in the plain loop.
pub struct Stream<R, W> {
    pub rx: R,
    pub tx: W,
}

/// Bytes a stream link reads ahead (the plain loop's read size).
pub const READ_AHEAD: usize = 64 * 1024;

/// `rx` behind a [`READ_AHEAD`] buffer (a message at least that long bypasses it).
pub fn buffered<R: Read>(rx: R) -> BufReader<R> {
    BufReader::with_capacity(READ_AHEAD, rx)
}

impl<R: Read, W: Write> Link for Stream<R, W> {
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        self.tx.write_all(msg)
    }
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.rx.read_exact(buf)?;
        Ok(buf.len())
    }
}

/// Pipes or FIFOs: a (buffered) read end and a write end.
pub type FileLink = Stream<BufReader<File>, File>;

/// A connected Unix datagram socket.
pub struct UnixDgram(pub UnixDatagram);

impl Link for UnixDgram {
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        self.0.send(msg).map(|_| ())
    }
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.recv(buf)
    }
}

/// A connected UDP socket: datagrams may be lost, so the stop marker is repeated.
pub struct Udp(pub UdpSocket);

impl Link for Udp {
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        match self.0.send(msg) {
            // A full socket buffer or an ICMP error from an earlier datagram: UDP drops, so do we.
            Err(err)
                if err.kind() != io::ErrorKind::WouldBlock && err.raw_os_error() != Some(111) =>
            {
                Err(err)
            }
            _ => Ok(()),
        }
    }
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.recv(buf)
    }
    fn finish(&mut self, stop: &[u8], reply: &mut [u8]) -> io::Result<usize> {
        self.0.set_read_timeout(Some(Duration::from_millis(20)))?;
        for _ in 0..250 {
            self.send(stop)?;
            match self.0.recv(reply) {
                Ok(n) if reply[0] == super::REPLY => return Ok(n),
                _ => continue,
            }
        }
        Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "udp peer never answered the stop",
        ))
    }
}

/// Two POSIX message queues, one per direction.
pub struct Mq {
    pub tx: Mailbox,
    pub rx: Mailbox,
    pub scratch: Vec<u8>,
}

impl Link for Mq {
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        self.tx.send(msg, 0).map_err(io::Error::other)
    }
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // One mq_timedreceive per message: straight into `buf` when it holds a whole message,
        // through `scratch` (then copied) only when it is shorter.
        if buf.len() >= self.scratch.len() {
            return receive(&self.rx, buf);
        }
        let len = receive(&self.rx, &mut self.scratch)?;
        let n = len.min(buf.len());
        buf[..n].copy_from_slice(&self.scratch[..n]);
        Ok(n)
    }
}

fn receive(mailbox: &Mailbox, buf: &mut [u8]) -> io::Result<usize> {
    match mailbox.receive_within(buf, MQ_TIMEOUT) {
        Ok((len, _)) => Ok(len),
        Err(err) if ipc::mq::is_timed_out(&err) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "no message from the bench peer",
        )),
        Err(err) => Err(io::Error::other(err)),
    }
}

/// Longest a bench receive waits on a queue.
const MQ_TIMEOUT: Duration = Duration::from_secs(5);

/// Two shared-memory rings, one per direction, blocking (futex) or spinning.
pub struct Shm {
    pub tx: SharedRing,
    pub rx: SharedRing,
    pub mode: WaitMode,
}

/// Longest a bench message waits in a ring before the run is declared stuck.
const SHM_TIMEOUT: Duration = Duration::from_secs(10);

impl Link for Shm {
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        ipc::shm::wait::push(&self.tx, msg, FullPolicy::Block(SHM_TIMEOUT), self.mode)
            .map(|_| ())
            .map_err(io::Error::other)
    }
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        ipc::shm::wait::pop(&self.rx, buf, SHM_TIMEOUT, self.mode).map_err(io::Error::other)
    }
}

/// Two shared-memory rings used through the batch calls (the tuned variant): the sender hands
/// over up to [`SEND_BATCH`] messages per call, built on the stack; the throughput sink takes
/// everything published per call and checks each message as it leaves the ring
/// ([`Link::recv_counting`]); the one-message `recv` (ping-pong, start and stop) goes through an
/// inbox. One CAS and one wakeup check per batch.
pub struct ShmBatch {
    pub tx: SharedRing,
    pub rx: SharedRing,
    pub inbox: Inbox,
}

/// Messages taken from the ring by one batch, not yet handed out.
#[derive(Default)]
pub struct Inbox {
    bytes: Vec<u8>,
    lens: Vec<usize>,
    next: usize,
    at: usize,
    scratch: Vec<u8>,
}

impl Inbox {
    fn is_empty(&self) -> bool {
        self.next == self.lens.len()
    }
}

/// Most messages one `send_many` hands to one `push_batch` (the bench sends 64 per call).
pub const SEND_BATCH: usize = 64;

impl ShmBatch {
    /// The link over `tx` and `rx` (rings of the same geometry).
    pub fn new(tx: SharedRing, rx: SharedRing) -> Self {
        let slot = rx.geometry().slot_bytes as usize;
        let inbox = Inbox {
            scratch: vec![0; slot],
            ..Inbox::default()
        };
        ShmBatch { tx, rx, inbox }
    }

    /// Takes every published message (at least one, waiting for it) into the inbox.
    fn refill(&mut self) -> io::Result<()> {
        let inbox = &mut self.inbox;
        inbox.bytes.clear();
        inbox.lens.clear();
        (inbox.next, inbox.at) = (0, 0);
        let Inbox {
            bytes,
            lens,
            scratch,
            ..
        } = inbox;
        take_batch(&self.rx, scratch, |payload| {
            bytes.extend_from_slice(payload);
            lens.push(payload.len());
        })
    }
}

/// One `pop_batch` of everything published on `rx` (at least one message, waiting for it),
/// each message handed to `each` straight from `scratch`; a corrupt slot is an error once the
/// rest of the batch was delivered.
fn take_batch(rx: &SharedRing, scratch: &mut [u8], mut each: impl FnMut(&[u8])) -> io::Result<()> {
    let mut corrupt = None;
    let max = rx.geometry().capacity as usize;
    ipc::shm::wait::pop_batch(rx, max, scratch, SHM_TIMEOUT, BATCH_MODE, |got| match got {
        Ok(payload) => each(payload),
        Err(err) => corrupt = Some(err),
    })
    .map_err(io::Error::other)?;
    corrupt.map_or(Ok(()), |err: PopError| Err(io::Error::other(err)))
}

/// How the batch link waits: a short spin, then the futex.
const BATCH_MODE: WaitMode = WaitMode::Block;

impl Link for ShmBatch {
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        self.send_many(msg, 1)
    }
    fn send_many(&mut self, msg: &[u8], n: usize) -> io::Result<()> {
        // A fixed array of slices on the stack: no allocation per call.
        let batch = [msg; SEND_BATCH];
        let mut left = n;
        while left > 0 {
            let policy = FullPolicy::Block(SHM_TIMEOUT);
            let pushed = ipc::shm::wait::push_batch(
                &self.tx,
                &batch[..left.min(SEND_BATCH)],
                policy,
                BATCH_MODE,
            )
            .map_err(io::Error::other)?;
            left -= pushed.pushed;
        }
        Ok(())
    }
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.inbox.is_empty() {
            self.refill()?;
        }
        let inbox = &mut self.inbox;
        let len = inbox.lens[inbox.next];
        let n = len.min(buf.len());
        buf[..n].copy_from_slice(&inbox.bytes[inbox.at..inbox.at + n]);
        inbox.next += 1;
        inbox.at += len;
        Ok(n)
    }
    fn recv_counting(&mut self, buf: &mut [u8], count: &mut u64) -> io::Result<bool> {
        // Whatever a one-message `recv` left in the inbox comes first, in order.
        if !self.inbox.is_empty() {
            self.recv(buf)?;
            return Ok(tally(buf, count));
        }
        let mut stopped = false;
        take_batch(&self.rx, &mut self.inbox.scratch, |payload| {
            stopped |= tally(payload, count);
        })?;
        Ok(stopped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::bench::{DATA, READY, STOP};
    use ipc::shm::Geometry;

    /// A batch link whose sends come back to itself: one ring, created and opened.
    fn loopback(test: &str, slots: u32) -> (ShmBatch, String) {
        let name = format!("ipc-link-test-{}-{test}", std::process::id());
        let geometry = Geometry::new(slots, 64).expect("geometry");
        let tx = ipc::shm::create(&name, geometry).expect("create");
        let rx = ipc::shm::open(&name).expect("open");
        (ShmBatch::new(tx, rx), name)
    }

    fn count_until_stop(link: &mut ShmBatch) -> u64 {
        let (mut buf, mut count) = ([0u8; 64], 0);
        while !link.recv_counting(&mut buf, &mut count).expect("recv") {}
        count
    }

    #[test]
    fn the_batch_sink_counts_data_skips_unknown_messages_and_stops_at_the_marker() {
        let (mut link, name) = loopback("count", 1024);
        link.send_many(&[DATA; 64], 3 * SEND_BATCH + 5)
            .expect("data");
        link.send(&[0xee; 64]).expect("unknown");
        link.send(&[STOP; 64]).expect("stop");
        let count = count_until_stop(&mut link);
        let _ = ipc::shm::unlink(&name);
        assert_eq!(count, 3 * SEND_BATCH as u64 + 5);
    }

    #[test]
    fn messages_left_in_the_inbox_by_recv_are_counted_first() {
        let (mut link, name) = loopback("inbox", 16);
        link.send(&[READY; 64]).expect("ready");
        link.send_many(&[DATA; 64], 4).expect("data");
        link.send(&[STOP; 64]).expect("stop");
        let mut buf = [0u8; 64];
        link.recv(&mut buf).expect("the first message");
        let count = count_until_stop(&mut link);
        let _ = ipc::shm::unlink(&name);
        assert_eq!((buf[0], count), (READY, 4));
    }
}

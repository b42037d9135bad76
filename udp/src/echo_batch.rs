//! The batched echo loop: many datagrams per system call with `recvmmsg(2)` and `sendmmsg(2)`
//! (Linux), through the `nix` crate's safe wrappers.
//!
//! Same behaviour as [`crate::echo::serve_blocking`], which stays the readable version: what
//! changes is the cost per datagram. Each `recvmmsg` waits for the first datagram
//! (`MSG_WAITFORONE`) and then takes every other one already queued, up to [`BATCH`]; one
//! `sendmmsg` sends all the echoes back. Under load that is two system calls per batch instead of
//! two per datagram. With a single datagram in flight it behaves exactly like the simple loop.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use nix::sys::socket::{MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg, sendmmsg};

use crate::echo::{BLOCKING_POLL, EchoStats, PEER_WARNINGS};
use crate::error::{Result, UdpError, is_per_datagram_io};
use crate::socket::{DatagramSocket, MAX_DATAGRAM_BUFFER};

/// Most datagrams taken or sent by one system call. Memory: `BATCH` buffers of 64 KiB (2 MiB),
/// so that even the largest datagram is echoed whole.
pub const BATCH: usize = 32;

/// Threads the batched loop runs by default (`udp echo-server --mode batch` without
/// `--threads`): one, where the other loops run two ([`crate::echo::default_threads`]). Their
/// second thread takes the datagrams that queue while the first is off the CPU; a batch already
/// takes all of those at once when its thread runs again. A second thread on the socket then
/// only splits the datagrams of one sender between two threads that contend for the socket and
/// for the CPUs the client needs: with one sender it made 0.91x the peer's datagrams/s where
/// one thread made 1.14x (`udp/README.md`, "Why the batched loop runs one thread").
pub const DEFAULT_THREADS: u16 = 1;

/// One received datagram: its length and sender, its bytes in the matching buffer.
type Arrival = (usize, Option<SockaddrStorage>);

/// Buffers and headers reused for every batch.
struct Batcher {
    bufs: Vec<Vec<u8>>,
    recv_headers: MultiHeaders<SockaddrStorage>,
    send_headers: MultiHeaders<SockaddrStorage>,
    arrivals: Vec<Arrival>,
}

/// Echoes datagrams in batches until `shutdown` is set.
pub fn serve_batched(
    socket: &DatagramSocket,
    shutdown: &AtomicBool,
    stats: &EchoStats,
) -> Result<()> {
    socket.set_so_timeout(Some(BLOCKING_POLL))?;
    let fd = socket.as_socket2().as_raw_fd();
    let mut batcher = Batcher {
        bufs: vec![vec![0u8; MAX_DATAGRAM_BUFFER]; BATCH],
        recv_headers: MultiHeaders::preallocate(BATCH, None),
        send_headers: MultiHeaders::preallocate(BATCH, None),
        arrivals: Vec::with_capacity(BATCH),
    };
    while !shutdown.load(Ordering::Relaxed) {
        match batcher.receive(fd) {
            Ok(()) => {
                stats.batches.fetch_add(1, Ordering::Relaxed);
                batcher.echo(fd, stats);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) if is_per_datagram_io(&e) => count_error(&stats.errors, &e),
            Err(e) => return Err(UdpError::io("recvmmsg", e)),
        }
    }
    Ok(())
}

impl Batcher {
    /// `recvmmsg(2)`: blocks for one datagram, then takes the others already queued.
    fn receive(&mut self, fd: i32) -> std::io::Result<()> {
        self.arrivals.clear();
        let mut iovs: Vec<[IoSliceMut<'_>; 1]> =
            self.bufs.iter_mut().map(|b| [IoSliceMut::new(b)]).collect();
        let received = recvmmsg(
            fd,
            &mut self.recv_headers,
            iovs.iter_mut(),
            MsgFlags::MSG_WAITFORONE,
            None,
        )?;
        self.arrivals
            .extend(received.map(|msg| (msg.bytes, msg.address)));
        Ok(())
    }

    /// `sendmmsg(2)`: sends every arrival back to its sender. A datagram the kernel refuses is
    /// counted and skipped; the rest still go.
    fn echo(&mut self, fd: i32, stats: &EchoStats) {
        let slices: Vec<[IoSlice<'_>; 1]> = self
            .arrivals
            .iter()
            .zip(&self.bufs)
            .map(|((len, _), buf)| [IoSlice::new(&buf[..*len])])
            .collect();
        let addrs: Vec<Option<SockaddrStorage>> =
            self.arrivals.iter().map(|(_, addr)| *addr).collect();
        let mut next = 0;
        while next < slices.len() {
            let sent = sendmmsg(
                fd,
                &mut self.send_headers,
                &slices[next..],
                &addrs[next..],
                [],
                MsgFlags::empty(),
            );
            match sent {
                Ok(results) => {
                    let n = results.count();
                    stats.echoed.fetch_add(n as u64, Ordering::Relaxed);
                    next += n.max(1); // 0 sent cannot happen; never loop forever on it
                }
                Err(errno) => {
                    count_error(&stats.errors, &std::io::Error::from(errno));
                    next += 1; // skip the datagram that failed
                }
            }
        }
    }
}

fn count_error(errors: &AtomicU64, e: &std::io::Error) {
    errors.fetch_add(1, Ordering::Relaxed);
    support::warn_throttled!(PEER_WARNINGS, "batched echo: {e} (ignored, still serving)");
}

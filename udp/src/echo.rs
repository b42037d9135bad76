//! UDP echo (RFC 862): every datagram that arrives goes back, unchanged, to where it came from.
//!
//! Two servers with the same behaviour, to compare styles:
//! - [`EchoServer`], async (tokio): `recvfrom(2)` and `sendto(2)` on a non-blocking socket that
//!   `epoll(7)` watches; it also waits on the shutdown token (a `CancellationToken`).
//! - [`serve_blocking`], the loop a Java programmer writes with `DatagramSocket.receive` and
//!   `send`, on a blocking socket with a short `SO_RCVTIMEO` so it notices the shutdown flag.
//!
//! Several threads may receive on the one socket ([`serve_async_threads`]; the blocking and
//! batched loops take `--threads` too), two by default on two CPUs or more
//! ([`default_threads`]): a datagram queued while one thread waits for a CPU is taken by the
//! other instead of waiting for the first to be scheduled again, which on a busy machine is
//! what sets the tail latency. The batched loop runs one by default
//! ([`crate::echo_batch::DEFAULT_THREADS`]): its batch takes what queued meanwhile anyway.
//!
//! The async and blocking loops give their CPU away (`sched_yield(2)`) every few datagrams
//! ([`CpuShare`]): a loop that always finds a datagram waiting never blocks, so the scheduler
//! would let it run until its next tick while the clients that read the echoes wait for a CPU.
//!
//! A per-datagram error (an ICMP "port unreachable" left by an earlier reply, a send that fails
//! for one peer) is logged (at most [`WARNINGS_PER_SECOND`] lines a second, the rest counted) and the loop
//! goes on ([`crate::UdpError::is_per_datagram`]). Memory
//! is one 64 KiB buffer, whatever peers send.
//!
//! ```text
//! terminal 1: udp echo-server                  -> listening on 127.0.0.1:7007
//! terminal 2: udp echo-client 127.0.0.1:7007   (type lines; each comes back)
//! two machines: udp echo-server --bind 0.0.0.0:7007, then udp echo-client HOST:7007
//! ```

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::async_socket::AsyncDatagramSocket;
use crate::error::{Result, UdpError};
use crate::socket::{DatagramSocket, MAX_DATAGRAM_BUFFER};
use support::log::Throttle;

/// Default echo port (RFC 862 uses 7, which needs privileges; this suite uses 7007).
pub const DEFAULT_PORT: u16 = 7007;

/// Warning lines per second about per-datagram errors; the rest are counted and summarised.
pub const WARNINGS_PER_SECOND: u32 = 10;

pub(crate) static PEER_WARNINGS: Throttle = Throttle::per_second(WARNINGS_PER_SECOND);

/// Most threads receiving on one echo socket by default (`udp echo-server --threads`; see
/// [`default_threads`]). Two, so that while one waits for a CPU (preempted by other work on the
/// machine) the other takes the datagrams queued meanwhile; with one thread every datagram
/// queued meanwhile waits a whole scheduler slice.
pub const DEFAULT_THREADS: u16 = 2;

/// The default number of echo threads: one per CPU this process may run on
/// (`sched_getaffinity(2)`, through [`std::thread::available_parallelism`]), at most
/// [`DEFAULT_THREADS`]. On one CPU (`taskset -c 0`) a second thread cannot run while the first
/// is off the CPU, so it would only add wake-ups.
pub fn default_threads() -> u16 {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    cpus.min(usize::from(DEFAULT_THREADS)) as u16
}

/// Most threads on one echo socket (`--threads`).
pub const MAX_THREADS: u16 = 64;

/// Binds an echo server's socket; `recv_buffer` bytes of receive buffer
/// (`setsockopt(SO_RCVBUF)` before `bind(2)`) if given, else the system's default.
///
/// The receive queue is the one thing peers fill: the kernel bounds it (`net.core.rmem_default`,
/// 208 KiB on most Linux systems, where each small datagram counts about 1 KiB of buffer, not its
/// payload) and drops what does not fit. A bigger queue is not free: datagrams then wait in it
/// instead of being dropped, and the wait is the queue's length divided by the server's rate
/// (Little's law); `udp/README.md` has the measurement.
pub fn bind_echo_socket(addr: SocketAddr, recv_buffer: Option<usize>) -> Result<DatagramSocket> {
    let builder = DatagramSocket::builder();
    match recv_buffer {
        Some(bytes) => builder.recv_buffer_size(bytes),
        None => builder,
    }
    .bind(addr)
}

/// Datagrams the async loop sends back before it gives its CPU away ([`CpuShare`]).
/// Measured at 4, 8 and 16 (`udp/README.md`): at 4 the datagrams/s at 16 senders fell below
/// the peer's, at 16 more of the tail stayed.
pub const ASYNC_YIELD_EVERY: u64 = 8;

/// Datagrams the blocking loop sends back before it gives its CPU away ([`CpuShare`]). Its
/// datagrams cost less CPU each than the async loop's, and 8 left half of its tail in place
/// at 4 senders where 4 removed it.
pub const BLOCKING_YIELD_EVERY: u64 = 4;

/// Gives the thread's CPU away (`sched_yield(2)`, through [`std::thread::yield_now`]) once
/// `every` datagrams have been echoed since the last time.
///
/// Why: under load a loop always finds the next datagram already queued, so it never blocks,
/// and the scheduler lets it run until its next tick (4 ms with `CONFIG_HZ=250`). The threads
/// it keeps off the CPU meanwhile are, on a busy machine, the clients that would read the
/// echoes, or the other echo thread: their datagrams wait that tick, which becomes the p99
/// of a closed loop. `sched_yield` lets whatever else is runnable on this CPU go first; when
/// nothing is, it returns at once, so the price is one cheap system call per `every`
/// datagrams. On one CPU (`taskset -c 0`) there is no tick to cut short: the loop and its
/// client take turns anyway, and a yield only splits the burst the client sent, so the loops
/// yield only where the process may use two CPUs or more ([`CpuShare::on_this_machine`]).
/// `udp/README.md` has the measurement. The batched loop does not yield: a yield
/// between batches did not shorten its tail (measured with a yield every 1, 2, 4 and 8
/// datagrams, same section).
#[derive(Debug)]
pub struct CpuShare {
    every: u64,
    since_yield: u64,
}

impl CpuShare {
    /// Yields after each `every` datagrams (at least 1).
    pub fn every(every: u64) -> Self {
        Self {
            every: every.max(1),
            since_yield: 0,
        }
    }

    /// Never yields.
    pub fn never() -> Self {
        Self::every(u64::MAX)
    }

    /// [`CpuShare::every`] if this process may run on two CPUs or more
    /// (`sched_getaffinity(2)`, as [`default_threads`] asks), else [`CpuShare::never`]: pinned
    /// to one CPU a yield halved the datagrams/s of one sender.
    pub fn on_this_machine(every: u64) -> Self {
        match std::thread::available_parallelism() {
            Ok(cpus) if cpus.get() > 1 => Self::every(every),
            _ => Self::never(),
        }
    }

    /// Counts one datagram echoed; yields and counts the yield in `stats` when `every` have
    /// gone by. Returns whether it yielded.
    pub fn echoed(&mut self, stats: &EchoStats) -> bool {
        self.since_yield += 1;
        if self.since_yield < self.every {
            return false;
        }
        self.since_yield = 0;
        std::thread::yield_now();
        stats.yields.fetch_add(1, Ordering::Relaxed);
        true
    }
}

/// How often the blocking server wakes up to check for shutdown.
pub const BLOCKING_POLL: Duration = Duration::from_millis(100);

/// Counters of an echo server, readable while it runs.
#[derive(Debug, Default)]
pub struct EchoStats {
    /// Datagrams echoed.
    pub echoed: AtomicU64,
    /// Per-datagram errors logged and survived.
    pub errors: AtomicU64,
    /// Receive system calls that returned datagrams (the batched server takes several per call).
    pub batches: AtomicU64,
    /// Times an echo thread gave its CPU away ([`CpuShare`]).
    pub yields: AtomicU64,
}

impl EchoStats {
    /// (echoed, errors) right now.
    pub fn snapshot(&self) -> (u64, u64) {
        (
            self.echoed.load(Ordering::Relaxed),
            self.errors.load(Ordering::Relaxed),
        )
    }
}

/// The async echo server.
#[derive(Debug)]
pub struct EchoServer {
    socket: AsyncDatagramSocket,
    stats: Arc<EchoStats>,
}

impl EchoServer {
    /// Binds the server socket (the system's receive buffer); port 0 picks a free port.
    pub async fn bind(addr: SocketAddr) -> Result<Self> {
        let socket = bind_echo_socket(addr, None)?.into_async()?;
        Ok(Self::from_socket(socket, Arc::default()))
    }

    /// The address the server is bound to.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// Wraps a socket already bound; its counts go to `stats` (shared by several loops on one
    /// socket, see [`serve_async_threads`]).
    pub fn from_socket(socket: AsyncDatagramSocket, stats: Arc<EchoStats>) -> Self {
        Self { socket, stats }
    }

    /// Counters shared with the running server.
    pub fn stats(&self) -> Arc<EchoStats> {
        Arc::clone(&self.stats)
    }

    /// Echoes datagrams until `shutdown` is cancelled; returns only then or on a fatal socket
    /// error.
    pub async fn run(self, shutdown: CancellationToken) -> Result<()> {
        let mut buf = vec![0u8; MAX_DATAGRAM_BUFFER];
        let stop = shutdown.cancelled();
        tokio::pin!(stop);
        // The only task on its thread in `serve_async_threads`, so a yield to the OS costs
        // no other task a turn; on a shared runtime it is one short system call.
        let mut share = CpuShare::on_this_machine(ASYNC_YIELD_EVERY);
        loop {
            tokio::select! {
                biased;
                received = self.socket.recv_from(&mut buf) => {
                    let outcome = match received {
                        Ok(info) => self.socket.send_to(&buf[..info.len], info.peer).await.map(drop),
                        Err(e) => Err(e),
                    };
                    survive(outcome, &self.stats)?;
                    share.echoed(&self.stats);
                }
                _ = &mut stop => return Ok(()),
            }
        }
    }
}

/// Runs the async loop on `threads` threads, all receiving on the one `socket`: each thread has
/// its own single-threaded tokio runtime and its own `epoll(7)` registration of a duplicate of
/// the descriptor (`dup(2)`), so a thread that waits for a CPU while datagrams queue leaves
/// them to the other; no datagram is handed from one thread to another. Returns when
/// `shutdown` is cancelled and every loop has stopped, or with the first fatal error (which
/// also stops the other loops).
pub fn serve_async_threads(
    socket: &DatagramSocket,
    threads: usize,
    shutdown: &CancellationToken,
    stats: &Arc<EchoStats>,
) -> Result<()> {
    let workers = (0..threads.max(1))
        .map(|n| {
            let (copy, stop, stats) = (socket.try_clone()?, shutdown.clone(), Arc::clone(stats));
            std::thread::Builder::new()
                .name(format!("echo-{n}"))
                .spawn(move || run_on_own_runtime(copy, stop, stats))
                .map_err(|e| UdpError::io("spawn an echo thread", e))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut first_error = None;
    for worker in workers {
        let outcome = worker.join().unwrap_or_else(|_| {
            Err(UdpError::io(
                "echo thread",
                std::io::Error::other("an echo thread panicked"),
            ))
        });
        if let Err(e) = outcome {
            first_error.get_or_insert(e);
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// One thread of [`serve_async_threads`]: a single-threaded runtime that polls `epoll` and runs
/// the loop on the same thread. A fatal error cancels `shutdown` so the other threads stop too.
fn run_on_own_runtime(
    socket: DatagramSocket,
    shutdown: CancellationToken,
    stats: Arc<EchoStats>,
) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .map_err(|e| UdpError::io("start a tokio runtime", e))?;
    let outcome = runtime.block_on(async {
        let server = EchoServer::from_socket(socket.into_async()?, stats);
        server.run(shutdown.clone()).await
    });
    if outcome.is_err() {
        shutdown.cancel();
    }
    outcome
}

/// Counts an echo, or logs and counts a per-datagram error; passes a fatal error on.
fn survive(outcome: Result<()>, stats: &EchoStats) -> Result<()> {
    match outcome {
        Ok(()) => {
            stats.echoed.fetch_add(1, Ordering::Relaxed);
            Ok(())
        }
        Err(e) if e.is_per_datagram() => {
            stats.errors.fetch_add(1, Ordering::Relaxed);
            support::warn_throttled!(PEER_WARNINGS, "echo: {e} (ignored, still serving)");
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// The blocking echo loop: `receive`, `send` back, repeat, until `shutdown` is set (checked
/// at least every [`BLOCKING_POLL`]).
pub fn serve_blocking(
    socket: &DatagramSocket,
    shutdown: &AtomicBool,
    stats: &EchoStats,
) -> Result<()> {
    socket.set_so_timeout(Some(BLOCKING_POLL))?;
    let mut buf = vec![0u8; MAX_DATAGRAM_BUFFER];
    let mut share = CpuShare::on_this_machine(BLOCKING_YIELD_EVERY);
    while !shutdown.load(Ordering::Relaxed) {
        let outcome = match socket.recv_from(&mut buf) {
            Ok(info) => {
                stats.batches.fetch_add(1, Ordering::Relaxed);
                socket.send_to(&buf[..info.len], info.peer).map(drop)
            }
            Err(UdpError::Timeout) => continue,
            Err(e) => Err(e),
        };
        survive(outcome, stats)?;
        share.echoed(stats);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    #[test]
    fn per_datagram_errors_are_survived_and_counted() {
        let stats = EchoStats::default();
        let refused = UdpError::io(
            "recvfrom",
            io::Error::from(io::ErrorKind::ConnectionRefused),
        );
        assert!(survive(Err(refused), &stats).is_ok());
        let too_big = UdpError::TooLarge {
            len: 70_000,
            max: 65_507,
            family: "IPv4",
        };
        assert!(survive(Err(too_big), &stats).is_ok());
        assert!(survive(Ok(()), &stats).is_ok());
        assert_eq!(stats.snapshot(), (1, 2));
    }

    #[test]
    fn a_loop_gives_its_cpu_away_once_every_n_datagrams() {
        let stats = EchoStats::default();
        let mut share = CpuShare::every(4);
        let yielded: Vec<bool> = (0..10).map(|_| share.echoed(&stats)).collect();
        let expected = [
            false, false, false, true, false, false, false, true, false, false,
        ];
        assert_eq!(yielded, expected);
        assert_eq!(stats.yields.load(Ordering::Relaxed), 2);
        // Zero would mean "never count": it is taken as every datagram instead.
        assert!(CpuShare::every(0).echoed(&stats));
        let mut never = CpuShare::never();
        assert!((0..1000).all(|_| !never.echoed(&stats)));
    }

    /// Runs `f` in a thread of its own pinned to one CPU (what `taskset -c N` does), so that
    /// the other tests keep every CPU.
    fn on_one_cpu<T: Send + 'static>(f: fn() -> T) -> T {
        use nix::sched::{CpuSet, sched_getaffinity, sched_setaffinity};
        use nix::unistd::Pid;
        let all = sched_getaffinity(Pid::from_raw(0)).unwrap();
        let first = (0..CpuSet::count())
            .find(|&c| all.is_set(c).unwrap())
            .unwrap();
        std::thread::spawn(move || {
            let mut one = CpuSet::new();
            one.set(first).unwrap();
            sched_setaffinity(Pid::from_raw(0), &one).unwrap();
            f()
        })
        .join()
        .unwrap()
    }

    #[test]
    fn default_threads_follow_the_cpus_this_process_may_use() {
        let cpus = std::thread::available_parallelism().unwrap().get();
        assert_eq!(default_threads(), cpus.min(2) as u16);
        assert_eq!(on_one_cpu(default_threads), 1);
    }

    #[test]
    fn a_loop_on_one_cpu_never_gives_its_cpu_away() {
        let yields_on_this_cpu_set = || {
            let mut share = CpuShare::on_this_machine(1);
            share.echoed(&EchoStats::default())
        };
        let cpus = std::thread::available_parallelism().unwrap().get();
        assert_eq!(yields_on_this_cpu_set(), cpus > 1);
        assert!(!on_one_cpu(yields_on_this_cpu_set));
    }

    #[test]
    fn other_errors_end_the_loop() {
        let stats = EchoStats::default();
        let bad_fd = UdpError::io("recvfrom", io::Error::from_raw_os_error(9)); // EBADF
        assert!(survive(Err(bad_fd), &stats).is_err());
    }
}

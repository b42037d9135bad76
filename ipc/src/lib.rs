//! # ipc: processes talking on one machine
//!
//! The other half of interprocess communication, before sockets carry it across a network.
//! Processes exchange data in one of two ways:
//! - **shared memory**: the operating system maps one region into both, and the processes
//!   themselves agree on a layout and on who may write where (a bounded buffer between producers
//!   and consumers, with a policy for when it is full): [`shm`];
//! - **message passing**: the kernel carries every `send` and `receive`. Designs differ in
//!   *addressing* (direct to one peer: [`pipe`], [`fifo`], [`uds`]; or indirect through a mailbox:
//!   [`mq`]), *blocking* (wait or fail with `EAGAIN`) and *buffering* (zero, bounded, unbounded).
//!
//! Java analogues: `ProcessBuilder` streams and `PipedInputStream` (pipes), `FileInputStream` on
//! a FIFO path, `UnixDomainSocketAddress` with `SocketChannel` (JDK 16+), `MappedByteBuffer`
//! (shared memory), and for a mailbox JMS or, in one process, an `ArrayBlockingQueue`.
//!
//! System calls underneath: `pipe2(2)`, `mkfifo(3)`, `socket(AF_UNIX)`, `socketpair(2)`,
//! `sendmsg(2)`/`recvmsg(2)` with `SCM_RIGHTS`, `getsockopt(SO_PEERCRED)`, `shm_open(3)`,
//! `ftruncate(2)`, `mmap(2)`, `futex(2)`, `mq_open(3)` and friends. Linux only.
//!
//! # Layout
//! - [`pipe`]: ordinary pipes between a parent and a child: one way, two for duplex, EOF, `EPIPE`,
//!   and [`pipe::record`], the `PIPE_BUF` atomicity check.
//! - [`fifo`]: named pipes: meeting by path, open blocking until both ends, `O_NONBLOCK`.
//! - [`uds`]: Unix domain sockets: stream, datagram, an echo server, peer credentials, passing a
//!   file descriptor, the abstract namespace.
//! - [`shm`]: POSIX shared memory and the bounded MPMC ring in it: [`shm::layout`] (the bytes),
//!   [`shm::ring`] (the protocol), [`shm::wait`] (full/empty policies, futex or spin),
//!   [`shm::eventcount`] (futex sleeps without lost wakeups), [`shm::segment`] (names, 0600,
//!   stale segments), [`shm::map`] (the `mmap`), and the tuned [`shm::batch`] (many messages
//!   per compare-and-swap).
//! - [`mq`]: POSIX message queues as a mailbox: priorities, capacity, `EAGAIN`.
//! - [`error`]: [`IpcError`], one error type with the operation that failed.
//!
//! # Unsafe code
//! The suite forbids `unsafe`. Mapping shared memory cannot be done without it, so this crate
//! *denies* `unsafe_code` (a deny, unlike a forbid, can be lifted for one item) and lifts it for
//! exactly one module, [`shm::map`], whose every `unsafe` block carries a `// SAFETY:` comment and
//! which hands out only a safe `&[AtomicU32]`. Everything else, the ring included, is safe code,
//! tested over an ordinary heap buffer ([`shm::HeapRegion`]), and under loom with
//! `RUSTFLAGS="--cfg ipc_loom" cargo test -p ipc --lib loom` (only the ring is built then).
#![deny(unsafe_code)]

pub mod error;
#[cfg(not(ipc_loom))]
pub mod fifo;
#[cfg(not(ipc_loom))]
pub mod mq;
#[cfg(not(ipc_loom))]
pub mod pipe;
pub mod shm;
#[cfg(not(ipc_loom))]
pub mod uds;

pub use error::{IpcError, Result};

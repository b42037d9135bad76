//! Unix domain sockets: the socket API for two processes on one machine, the bridge from "pipe"
//! to "socket".
//!
//! A socket on a path works like a named pipe that is two-way, keeps one connection per client
//! (stream) or message boundaries (datagram), knows who the peer is ([`cred`]) and can carry open
//! file descriptors ([`fdpass`]). The same `socket`/`bind`/`listen`/`accept`/`connect` calls as
//! TCP, with `AF_UNIX` and a path instead of an IP address and port. Java has had it since JDK 16:
//! `UnixDomainSocketAddress.of(path)` with `SocketChannel`/`ServerSocketChannel` opened with
//! `StandardProtocolFamily.UNIX`.
//!
//! # Layout
//! - [`stream`]: `SOCK_STREAM` listener on a path, mode 0600, with stale-path detection.
//! - [`echo`]: an echo server on a path with bounded connections (try `socat - UNIX-CONNECT:PATH`).
//! - [`datagram`]: `SOCK_DGRAM` on paths: boundaries kept, truncation reported.
//! - [`cred`]: the peer's pid, uid and gid (`SO_PEERCRED`).
//! - [`fdpass`]: passing an open file descriptor (`SCM_RIGHTS`).
//! - [`abstract_ns`]: names that live in the kernel, not the file system (Linux only).
//!
//! `socketpair(2)` (`std::os::unix::net::UnixStream::pair`) gives two connected sockets without
//! any name, the socket twin of `pipe(2)`; a child gets one end as its stdin (see `ipc demo`).
//!
//! System calls: `socket(2)`, `bind(2)`, `listen(2)`, `accept4(2)`, `connect(2)`,
//! `socketpair(2)`, `sendmsg(2)`, `recvmsg(2)`, `getsockopt(2)`; see `unix(7)`.

pub mod abstract_ns;
pub mod cred;
pub mod datagram;
pub mod echo;
pub mod fdpass;
pub mod stream;

/// The longest socket path: `sun_path` holds 108 bytes including the terminating NUL.
pub const MAX_PATH_BYTES: usize = 107;

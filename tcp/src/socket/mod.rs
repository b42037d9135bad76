//! Java's `ServerSocket` and `Socket`, as thin Rust wrappers over `socket2` and `std::net`.
//!
//! A TCP server is four system calls: `socket(2)` makes an endpoint, `bind(2)` gives it an
//! address, `listen(2)` turns it into a listening socket with a backlog queue, and
//! `accept(2)` takes the next connection from that queue. A client is `socket(2)` and
//! `connect(2)`. Everything else is `setsockopt(2)`: options from `socket(7)` (`SO_*`),
//! `tcp(7)` (`TCP_*`) and `ipv6(7)` (`IPV6_V6ONLY`). Java hides the first three behind
//! `new ServerSocket(port)`; here [`ServerSocket::bind`] does the same, and
//! [`ServerSocketBuilder`] shows each step.
//!
//! ```
//! use std::io::{Read, Write};
//! use tcp::{ServerSocket, Socket};
//!
//! let server = ServerSocket::bind("127.0.0.1:0".parse()?)?; // socket, bind, listen
//! let addr = server.local_addr()?.to_string();
//! let mut client = Socket::connect(&addr, None)?; // socket, connect
//! let (mut conn, _peer) = server.accept()?; // accept
//! client.write_all(b"ping")?; // send
//! client.shutdown_output()?; // shutdown(SHUT_WR): FIN
//! let mut got = Vec::new();
//! conn.read_to_end(&mut got)?; // recv until end-of-stream
//! assert_eq!(got, b"ping");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Layout
//! - [`server_socket`]: `ServerSocket` and its builder.
//! - [`stream`]: `Socket`, a connected stream, with its options.
//! - [`mod@resolve`]: turning `host:port` into addresses (`getaddrinfo(3)`).
//! - [`error`]: `SocketError`, which says what failed and on which address.

pub mod error;
pub mod resolve;
pub mod server_socket;
pub mod stream;

pub use error::SocketError;
pub use resolve::resolve;
pub use server_socket::{DEFAULT_BACKLOG, ServerSocket, ServerSocketBuilder};
pub use stream::{KeepAlive, Socket};

//! Blocking echo: one OS thread per connection, plain `read` and `write`.
//!
//! Each connection is the loop you would write in Java with `getInputStream().read(buf)`
//! and `getOutputStream().write(buf, 0, n)`: `recv(2)` puts the thread to sleep until bytes
//! arrive, `send(2)` until the kernel has room. The read deadline is `SO_RCVTIMEO`, so a
//! silent peer wakes the thread with `EAGAIN` and is dropped.
//!
//! Run it: `tcp echo-server --mode blocking` in one terminal,
//! `printf 'hi\n' | tcp echo-client 127.0.0.1:7007` in another (prints `hi`).

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};

use tokio_util::sync::CancellationToken;

use crate::server::ServerLimits;
use crate::server::blocking::serve_blocking;
use crate::socket::ServerSocket;

/// Bytes per `recv(2)`/`send(2)`, held for the connection's whole life (on the heap; the
/// thread's stack stays small). 64 KiB, as in the classic blocking servers this mirrors.
pub const BUFFER_SIZE: usize = 64 * 1024;

/// Serves echo on `listener`, one thread per connection, until `shutdown` is cancelled.
///
/// # Errors
/// If the listener's address cannot be read.
pub fn serve(
    listener: ServerSocket,
    limits: ServerLimits,
    shutdown: CancellationToken,
) -> io::Result<()> {
    serve_blocking(listener.into_std(), limits, shutdown, handle)
}

/// Echoes one connection and logs how it ended.
fn handle(stream: TcpStream, peer: SocketAddr) {
    match echo(&stream) {
        Ok(bytes) => tracing::debug!(%peer, bytes, "echo connection finished"),
        Err(err) => tracing::warn!(%peer, error = %describe(&err), "echo connection dropped"),
    }
}

/// Sends every byte back until end-of-stream, then half-closes our side too.
///
/// # Errors
/// A read or write error, including the deadlines (`WouldBlock` from `SO_RCVTIMEO`).
pub fn echo(mut stream: &TcpStream) -> io::Result<u64> {
    // TCP_NODELAY: an echo goes out at once, not held back by Nagle's algorithm while an
    // earlier echo is still unacknowledged (which, with delayed ACKs, can cost 40 ms).
    stream.set_nodelay(true)?;
    let mut buf = vec![0u8; BUFFER_SIZE];
    let mut total = 0u64;
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) => break, // the peer half-closed: it will send nothing more
            Ok(n) => n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        stream.write_all(&buf[..n])?;
        total += n as u64;
    }
    // Everything owed is written (each chunk went back before the next read):
    // now send our FIN, so the client's read sees end-of-stream.
    stream.shutdown(Shutdown::Write)?;
    Ok(total)
}

/// Names a timed-out read as what it is: the read deadline (`SO_RCVTIMEO` gives `EAGAIN`).
fn describe(err: &io::Error) -> String {
    match err.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
            format!("deadline passed with no progress from the peer ({err})")
        }
        _ => err.to_string(),
    }
}

//! The echo client: send a stream, half-close, collect the echo.
//!
//! Two directions at once need two threads (or two tasks): one copies our input to the
//! socket, the other copies the socket to our output. When the input ends, the writer
//! half-closes (`shutdown(SHUT_WR)`, Java's `shutdownOutput`) so the server knows there
//! is nothing more; the reader keeps going until the server's own end-of-stream, so no
//! echoed byte is lost. This is why `printf 'hi\n' | tcp echo-client ADDR` prints `hi`.

use std::io::{self, Read, Write};

use crate::socket::Socket;

/// What one echo session moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transferred {
    /// Bytes sent to the server.
    pub sent: u64,
    /// Bytes received back.
    pub received: u64,
}

/// Copies `input` to the server and the server's bytes to `output`, half-closing when
/// `input` ends and returning when the server closes.
///
/// # Errors
/// Any read or write error on either side.
pub fn run<R: Read, W: Write + Send>(
    socket: &Socket,
    mut input: R,
    mut output: W,
) -> io::Result<Transferred> {
    std::thread::scope(|scope| {
        let reader = scope.spawn(move || -> io::Result<u64> {
            let received = copy_flushing(&mut &*socket, &mut output)?;
            output.flush()?;
            Ok(received)
        });
        let sent = io::copy(&mut input, &mut &*socket);
        let closed = socket.shutdown_output();
        let received = reader
            .join()
            .map_err(|_| io::Error::other("echo reader thread panicked"))?;
        let (sent, received) = (sent?, received?);
        closed?;
        Ok(Transferred { sent, received })
    })
}

/// Like `io::copy`, but flushes after each chunk so an interactive user sees each echo.
fn copy_flushing(from: &mut impl Read, to: &mut impl Write) -> io::Result<u64> {
    let mut buf = vec![0u8; super::blocking::BUFFER_SIZE];
    let mut total = 0u64;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        to.write_all(&buf[..n])?;
        to.flush()?;
        total += n as u64;
    }
}

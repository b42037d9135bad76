//! The smallest echo client: connect, send, half-close, read the echo to the end.
//!
//! ```text
//! cargo run -p tcp --example echo_client -- 127.0.0.1:7007 "hello"    # prints: hello
//! ```
//!
//! The half-close (`shutdown_output`, Java's `shutdownOutput`) is the point: it tells the
//! server "that was all" while we can still read, so we know when the echo is complete.
#![forbid(unsafe_code)]

use std::io::{Read, Write};
use std::time::Duration;

use tcp::Socket;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:7007".into());
    let message = args.next().unwrap_or_else(|| "hello".into());

    let mut socket = Socket::connect(&addr, Some(Duration::from_secs(5)))?; // connect(2)
    socket.set_so_timeout(Some(Duration::from_secs(5)))?; // SO_RCVTIMEO: don't wait forever
    socket.write_all(message.as_bytes())?; // send(2)
    socket.shutdown_output()?; // shutdown(SHUT_WR): send FIN, keep reading
    let mut echo = String::new();
    socket.read_to_string(&mut echo)?; // recv(2) until the server's FIN
    println!("{echo}");
    Ok(())
}

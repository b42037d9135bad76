//! The smallest blocking echo server: Java's `ServerSocket` loop, one thread per client.
//!
//! ```text
//! terminal 1: cargo run -p tcp --example echo_server            # listening on 127.0.0.1:7007
//! terminal 2: cargo run -p tcp --example echo_client -- 127.0.0.1:7007 "hello"
//! two machines: pass 0.0.0.0:7007 here, and the server's IP to the client
//! ```
//!
//! What it leaves out (and `tcp echo-server` adds): a cap on threads, read deadlines,
//! accept backoff, graceful shutdown. See `src/echo/blocking.rs`.
#![forbid(unsafe_code)]

use std::io::{Read, Write};

use tcp::{ServerSocket, Socket};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let bind = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7007".into());
    let server = ServerSocket::bind_host(&bind)?; // socket(2), bind(2), listen(2)
    println!("listening on {}", server.local_addr()?);
    loop {
        let (client, peer) = server.accept()?; // accept(2): blocks until a client connects
        std::thread::spawn(move || match echo(client) {
            Ok(bytes) => eprintln!("{peer}: echoed {bytes} bytes"),
            Err(err) => eprintln!("{peer}: {err}"),
        });
    }
}

/// Sends every byte back until the client half-closes, then closes our side.
pub fn echo(mut client: Socket) -> std::io::Result<u64> {
    let mut buf = [0u8; 8192];
    let mut total = 0;
    loop {
        let n = client.read(&mut buf)?; // recv(2); 0 means the client sent FIN
        if n == 0 {
            client.shutdown_output()?; // shutdown(SHUT_WR): our FIN, after all owed bytes
            return Ok(total);
        }
        client.write_all(&buf[..n])?; // send(2), repeated until all n bytes are queued
        total += n as u64;
    }
}

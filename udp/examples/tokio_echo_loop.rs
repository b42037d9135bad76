//! The textbook tokio UDP echo: one task, `recv_from` then `send_to`, a 64 KiB buffer, on
//! tokio's default multi-threaded runtime (as in tokio's own `examples/echo-udp.rs`). It is
//! the baseline `scripts/cpu-per-datagram.sh` measures `udp echo-server` against.
//!
//! Run: `cargo run --release -p udp --example tokio_echo_loop -- --bind 127.0.0.1:0`, then
//! `udp bench echo --addr IP:PORT` (or `udp echo-client IP:PORT`) in a second terminal.
//! Output: `listening on 127.0.0.1:PORT`, then nothing: it echoes until killed.
//!
//! The difference from `udp echo-server --mode async`: that one runs on a single-threaded
//! runtime, so the thread that waits in `epoll_wait(2)` also runs the loop; here every
//! wake-up crosses from tokio's I/O driver to a worker thread.

use std::io::Write;

use tokio::net::UdpSocket;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let bind = match args.iter().position(|a| a == "--bind") {
        Some(i) => args.get(i + 1).cloned().unwrap_or_default(),
        None => "127.0.0.1:0".to_string(),
    };
    let socket = UdpSocket::bind(&bind).await?;
    println!("listening on {}", socket.local_addr()?);
    std::io::stdout().flush()?;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let (n, peer) = match socket.recv_from(&mut buf).await {
            Ok(received) => received,
            // An ICMP "port unreachable" left by an earlier send: keep serving.
            Err(_) => continue,
        };
        let _ = socket.send_to(&buf[..n], peer).await;
    }
}

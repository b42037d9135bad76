//! Graceful shutdown on SIGINT/SIGTERM, and the `listening on` line.
//!
//! SIGINT is Ctrl-C in a terminal; SIGTERM is what `kill PID`, systemd and container
//! runtimes send. Both mean "finish up": stop accepting, let open connections end within
//! a grace period, exit 0 (`signal(7)`). Java's nearest equivalent is
//! `Runtime.addShutdownHook`.

use std::io::{self, Write};
use std::net::SocketAddr;

/// Resolves when the process receives SIGINT or SIGTERM.
///
/// # Errors
/// If the signal handlers cannot be installed (`sigaction(2)` failed).
pub async fn shutdown_signal() -> io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    tokio::select! {
        _ = interrupt.recv() => tracing::info!("SIGINT received; shutting down"),
        _ = terminate.recv() => tracing::info!("SIGTERM received; shutting down"),
    }
    Ok(())
}

/// Blocks the calling thread until SIGINT or SIGTERM, for servers without a runtime.
///
/// # Errors
/// If the signal handlers cannot be installed.
pub fn wait_for_shutdown_signal() -> io::Result<()> {
    tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?
        .block_on(shutdown_signal())
}

/// Prints `listening on IP:PORT` (IPv6 as `[::1]:PORT`) to stdout and flushes it.
///
/// This is the first stdout line of every server: scripts and tests read it to learn the
/// port when the server was started on port 0.
///
/// # Errors
/// If stdout is closed.
pub fn print_listening(addr: SocketAddr) -> io::Result<()> {
    let mut out = io::stdout().lock();
    writeln!(out, "{}", listening_line(addr))?;
    out.flush()
}

/// The text of the `listening on` line for `addr`.
pub fn listening_line(addr: SocketAddr) -> String {
    format!("listening on {addr}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_addresses_are_bracketed() {
        let v6: SocketAddr = "[::1]:7007".parse().unwrap();
        let v4: SocketAddr = "127.0.0.1:7007".parse().unwrap();
        assert_eq!(listening_line(v6), "listening on [::1]:7007");
        assert_eq!(listening_line(v4), "listening on 127.0.0.1:7007");
    }
}

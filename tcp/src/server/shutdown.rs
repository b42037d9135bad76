//! Graceful shutdown on SIGINT/SIGTERM, and the `listening on` line.
//!
//! SIGINT is Ctrl-C in a terminal; SIGTERM is what `kill PID`, systemd and container
//! runtimes send. Both mean "finish up": stop accepting, let open connections end within
//! a grace period, exit 0 (`signal(7)`). Java's nearest equivalent is
//! `Runtime.addShutdownHook`. The `tcp` binary itself uses the suite's shared
//! `support::shutdown` (a second signal during the grace period stops at once); these
//! tokio-signal helpers stay for library users that want the same with tokio alone.

use std::io::{self, Write};
use std::net::SocketAddr;

/// SIGINT and SIGTERM handlers, installed and waiting to be awaited.
///
/// Install them BEFORE printing the `listening on` line: a script that reads that line
/// and sends SIGTERM at once must find the handler in place, or the default action kills
/// the process with a non-zero status. Installing early also grabs the descriptors tokio
/// needs for signal delivery before peers can use up the descriptor limit.
#[derive(Debug)]
pub struct ShutdownSignal {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl ShutdownSignal {
    /// Installs the handlers (`sigaction(2)`). Call it inside a tokio runtime.
    ///
    /// # Errors
    /// If the handlers cannot be installed.
    pub fn install() -> io::Result<ShutdownSignal> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(ShutdownSignal {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    /// Resolves when the process receives SIGINT or SIGTERM.
    pub async fn recv(mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => tracing::info!("SIGINT received; shutting down"),
            _ = self.terminate.recv() => tracing::info!("SIGTERM received; shutting down"),
        }
    }
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

//! Graceful shutdown on SIGINT/SIGTERM, and the `listening on` line.
//!
//! SIGINT is Ctrl-C in a terminal; SIGTERM is what `kill PID`, systemd and container
//! runtimes send. Both mean "finish up": stop accepting, let open connections end within
//! a grace period, exit 0 (`signal(7)`). Java's nearest equivalent is
//! `Runtime.addShutdownHook`.

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

/// Installs the handlers and resolves on SIGINT or SIGTERM.
///
/// The handlers exist only once this future is first polled; prefer
/// [`ShutdownSignal::install`] before printing the `listening on` line.
///
/// # Errors
/// If the signal handlers cannot be installed (`sigaction(2)` failed).
pub async fn shutdown_signal() -> io::Result<()> {
    ShutdownSignal::install()?.recv().await;
    Ok(())
}

/// Shutdown signal handling for a server whose own threads need no runtime (the blocking
/// echo server): a small current-thread runtime that only watches for signals.
#[derive(Debug)]
pub struct BlockingShutdownSignal {
    runtime: tokio::runtime::Runtime,
    signal: ShutdownSignal,
}

impl BlockingShutdownSignal {
    /// Installs the SIGINT and SIGTERM handlers.
    ///
    /// # Errors
    /// If the runtime or the handlers cannot be set up.
    pub fn install() -> io::Result<BlockingShutdownSignal> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()?;
        let signal = {
            let _inside = runtime.enter();
            ShutdownSignal::install()?
        };
        Ok(BlockingShutdownSignal { runtime, signal })
    }

    /// Blocks the calling thread until SIGINT or SIGTERM.
    pub fn wait(self) {
        self.runtime.block_on(self.signal.recv());
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

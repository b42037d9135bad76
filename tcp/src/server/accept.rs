//! Accepting connections without crashing or spinning: `accept(2)` with a backoff.
//!
//! `accept(2)` fails for two kinds of reasons. Some concern only the connection being
//! accepted (`ECONNABORTED`: the client gave up while it waited in the backlog); the next
//! call will likely succeed, so we retry at once. Others concern the whole process:
//! `EMFILE`/`ENFILE` (no file descriptors left), `ENOBUFS`/`ENOMEM`. Retrying those at once
//! is a busy loop that burns a CPU while nothing improves; crashing drops every client.
//! The answer is to pause briefly, doubling the pause while errors repeat, and carry on
//! once a connection closes and frees a descriptor.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

/// First pause after a resource error in `accept(2)`.
pub const ACCEPT_BACKOFF_START: Duration = Duration::from_millis(5);
/// Longest pause between failing `accept(2)` calls.
pub const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// A doubling pause for repeated `accept(2)` failures, reset by a success.
#[derive(Debug, Clone)]
pub struct AcceptBackoff {
    next: Duration,
}

impl Default for AcceptBackoff {
    fn default() -> Self {
        AcceptBackoff {
            next: ACCEPT_BACKOFF_START,
        }
    }
}

impl AcceptBackoff {
    /// How long to wait after `err`: zero for errors that concern only one connection,
    /// a doubling pause (capped at [`ACCEPT_BACKOFF_MAX`]) for resource errors.
    pub fn pause_after(&mut self, err: &io::Error) -> Duration {
        if support::net::only_this_connection(err) {
            tracing::debug!(error = %err, "accept failed for one connection; retrying");
            return Duration::ZERO;
        }
        let pause = self.next;
        self.next = (self.next * 2).min(ACCEPT_BACKOFF_MAX);
        tracing::warn!(error = %err, pause_ms = pause.as_millis() as u64, "accept failed; backing off");
        pause
    }

    /// Forgets earlier failures after a successful accept.
    pub fn reset(&mut self) {
        self.next = ACCEPT_BACKOFF_START;
    }
}

/// Accepts the next connection on a tokio listener, backing off on errors; never fails.
pub async fn accept_async(
    listener: &tokio::net::TcpListener,
    backoff: &mut AcceptBackoff,
) -> (tokio::net::TcpStream, SocketAddr) {
    loop {
        match listener.accept().await {
            Ok(accepted) => {
                backoff.reset();
                return accepted;
            }
            Err(err) => tokio::time::sleep(backoff.pause_after(&err)).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_errors_back_off_doubling_up_to_the_cap() {
        let mut backoff = AcceptBackoff::default();
        let emfile = io::Error::from_raw_os_error(24); // EMFILE on Linux
        assert_eq!(backoff.pause_after(&emfile), ACCEPT_BACKOFF_START);
        assert_eq!(backoff.pause_after(&emfile), ACCEPT_BACKOFF_START * 2);
        for _ in 0..20 {
            backoff.pause_after(&emfile);
        }
        assert_eq!(backoff.pause_after(&emfile), ACCEPT_BACKOFF_MAX);
        backoff.reset();
        assert_eq!(backoff.pause_after(&emfile), ACCEPT_BACKOFF_START);
    }

    #[test]
    fn an_aborted_connection_is_retried_at_once() {
        let mut backoff = AcceptBackoff::default();
        let aborted = io::Error::from(io::ErrorKind::ConnectionAborted);
        assert_eq!(backoff.pause_after(&aborted), Duration::ZERO);
    }
}

//! The bounds a server puts on what its peers can use.
//!
//! Each bound is a documented constant and a command-line flag (`--max-conns`,
//! `--read-timeout-ms`, `--min-read-rate`, `--write-timeout-ms`, `--grace-ms`).

use std::time::Duration;

/// Default cap on connections served at once (`--max-conns`). A connection over the cap is
/// accepted and closed at once, so its client sees end-of-stream instead of hanging.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

/// Default read deadline (`--read-timeout-ms`): a peer that sends nothing for this long
/// (a slowloris that sends half a line and stalls, or an idle one) is disconnected. It is
/// also the most credit a peer can bank under the progress rule (see
/// [`super::progress`]).
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(60);

/// Default least average input rate in bytes per second (`--min-read-rate`), the progress
/// rule of [`super::progress`]: each byte a peer sends moves its deadline 1/128 s later.
/// A peer dribbling one byte per second is dropped after about 60.5 s however long it
/// keeps dribbling; anything typed or sent by a program passes easily. 0 turns the rule
/// off (the deadline restarts on every byte).
pub const DEFAULT_MIN_READ_RATE: u64 = 128;

/// Default write deadline (`--write-timeout-ms`): a peer that stops reading, so that the
/// server cannot hand the kernel its bytes for this long, is disconnected.
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(60);

/// Default grace period on shutdown (`--grace-ms`): how long open connections get to
/// finish after SIGINT/SIGTERM before the server exits anyway.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The bounds one server applies to all its peers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    /// Most connections served at once; more are accepted and closed.
    pub max_connections: usize,
    /// Longest a read may wait for the peer's next bytes; also the most credit the
    /// progress rule ([`super::progress`]) lets a peer bank.
    pub read_timeout: Duration,
    /// Longest a write may wait for the peer to make room.
    pub write_timeout: Duration,
    /// Longest open connections may take to finish after shutdown begins.
    pub shutdown_grace: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            read_timeout: DEFAULT_READ_TIMEOUT,
            write_timeout: DEFAULT_WRITE_TIMEOUT,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
        }
    }
}

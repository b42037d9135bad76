//! The chat server's bounds: every resource a member controls has a limit here.
//!
//! Each constant is the default of a `tcp chat-server` flag. Together with the per-server
//! bounds in [`crate::server::ServerLimits`] they cap what one peer can make the server hold:
//! its read buffer (about [`DEFAULT_MAX_LINE`] + 8 KiB), its outgoing queue
//! ([`DEFAULT_QUEUE_BYTES`]) and the kernel's send buffer ([`DEFAULT_SEND_BUFFER`]), so the
//! whole server stays under `max members x (queue + buffers)` however the peers behave.

use crate::server::ServerLimits;

/// Default port of `tcp chat-server` (`--bind 127.0.0.1:7070`).
pub const DEFAULT_PORT: u16 = 7070;

/// Default longest line in bytes, without `\r\n` (`--max-line`). Longer lines are
/// answered with `! line too long (max 1024 bytes)` and discarded; the member stays.
pub const DEFAULT_MAX_LINE: usize = 1024;

/// Default most members in the room at once (`--max-members`). One more gets
/// `! server full (256 members)` and is disconnected.
pub const DEFAULT_MAX_MEMBERS: usize = 256;

/// Default outgoing queue per member in bytes (`--queue-bytes`). A member whose unsent
/// lines would exceed it has stopped reading: it is evicted so nobody else waits.
/// 256 KiB holds about 8 000 typical chat lines, far more than a reading client lags.
pub const DEFAULT_QUEUE_BYTES: usize = 256 * 1024;

/// Default kernel send buffer per member in bytes (`--send-buffer`, `SO_SNDBUF`,
/// `socket(7)`). The kernel's buffer is part of a member's backlog too: left to
/// autotuning it can grow to megabytes for a client that never reads, hiding the backlog
/// from the outbox budget. 64 KiB is plenty for chat lines on any network.
pub const DEFAULT_SEND_BUFFER: usize = 64 * 1024;

/// Default input rate per member in bytes per second (`--max-input-rate`), with bursts of
/// one second's worth. A member sending faster is simply read more slowly (TCP flow
/// control pushes back on it), so one flooder cannot fill everybody's queue. 1 MiB/s is
/// far beyond anything typed.
pub const DEFAULT_MAX_INPUT_RATE: u64 = 1024 * 1024;

/// Everything a chat server needs to know about its bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChatConfig {
    /// Longest accepted line in bytes.
    pub max_line: usize,
    /// Most members at once.
    pub max_members: usize,
    /// Outgoing queue budget per member in bytes.
    pub queue_bytes: usize,
    /// Kernel send buffer (`SO_SNDBUF`) per member in bytes.
    pub send_buffer: usize,
    /// Bytes per second one member may send (bursts of one second's worth).
    pub max_input_rate: u64,
    /// Connection cap, deadlines and shutdown grace shared with the other servers. In the
    /// chat, the read deadline applies to the name line and to half-received lines only:
    /// a member who reads without typing is never timed out.
    pub limits: ServerLimits,
}

impl Default for ChatConfig {
    fn default() -> Self {
        ChatConfig {
            max_line: DEFAULT_MAX_LINE,
            max_members: DEFAULT_MAX_MEMBERS,
            queue_bytes: DEFAULT_QUEUE_BYTES,
            send_buffer: DEFAULT_SEND_BUFFER,
            max_input_rate: DEFAULT_MAX_INPUT_RATE,
            limits: ServerLimits::default(),
        }
    }
}

impl ChatConfig {
    /// Largest line the server itself sends for a member's message: name, `": "`, text,
    /// `\n`.
    pub fn longest_outgoing_line(&self) -> usize {
        crate::chat::protocol::MAX_NAME_CHARS * 4 + 2 + self.max_line + 1
    }

    /// Checks that the bounds fit together: an outgoing queue must hold several of the
    /// longest lines, or one long message would evict every member at once.
    ///
    /// # Errors
    /// A sentence naming the flags to change.
    pub fn check(&self) -> Result<(), String> {
        let least = 4 * self.longest_outgoing_line();
        if self.queue_bytes < least {
            return Err(format!(
                "--queue-bytes {} is too small for --max-line {}: it must hold at least 4 of \
                 the longest lines ({least} bytes)",
                self.queue_bytes, self.max_line
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_fit_together_and_a_tiny_queue_does_not() {
        assert_eq!(ChatConfig::default().check(), Ok(()));
        let tiny = ChatConfig {
            queue_bytes: 4096,
            ..ChatConfig::default()
        };
        assert!(
            tiny.check()
                .unwrap_err()
                .starts_with("--queue-bytes 4096 is too small")
        );
    }
}

//! The chat server's bounds: every resource a member controls has a limit here.
//!
//! Each constant is the default of a `tcp chat-server` flag. Together with the per-server
//! bounds in [`crate::server::ServerLimits`] they cap what one peer can make the server hold:
//! its read buffer (about [`DEFAULT_MAX_LINE`] + 8 KiB), its outgoing queue
//! ([`DEFAULT_QUEUE_BYTES`]) and the kernel's send buffer ([`DEFAULT_SEND_BUFFER`]), so the
//! whole server stays under `max members x (queue + buffers)` however the peers behave.

use super::lines::READ_CHUNK;
use super::outbox::ENTRY_BYTES;
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

/// Default input rate per member in bytes per second (`--max-input-rate`). A member
/// sending faster is simply read more slowly (TCP flow control pushes back on it), so one
/// flooder cannot fill everybody's queue. Every byte read is charged, those of an
/// over-long line that is thrown away too, and each message also its `NAME: ` prefix,
/// so the rate bounds what the member makes the server send to each other member.
/// 1 MiB/s is far beyond anything typed.
pub const DEFAULT_MAX_INPUT_RATE: u64 = 1024 * 1024;

/// Default burst per member in bytes (`--input-burst`): what a member may send at once
/// before the input rate applies. It must fit in every other member's outgoing queue
/// with room to spare (see [`ChatConfig::check`]): a member sending within its limits
/// must never evict a reader that keeps up with it.
pub const DEFAULT_INPUT_BURST: usize = 64 * 1024;

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
    /// Bytes per second one member may send.
    pub max_input_rate: u64,
    /// Bytes one member may send at once before the rate applies.
    pub input_burst: usize,
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
            input_burst: DEFAULT_INPUT_BURST,
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

    /// The most one member sending within its limits can put in another member's queue
    /// before that member's writer has sent any of it: the burst, plus one read that
    /// overdraws the rate ([`READ_CHUNK`]), plus one outgoing line whose prefix and queue
    /// handle ([`ENTRY_BYTES`]) overdraw it.
    ///
    /// The arithmetic behind "a sender within its limits never evicts a reader who keeps
    /// up": the sender's bytes reach each other member's queue at most at the input rate
    /// after the first [`Self::most_one_sender_queues`] bytes; a reader that reads at least
    /// the input rate drains them as fast, so its queue never holds more than this. The
    /// queue budget must therefore be at least this (with the defaults: 64 KiB + 8 KiB +
    /// 1.2 KiB = 73.2 KiB of a 256 KiB queue). Several senders at once add up.
    pub fn most_one_sender_queues(&self) -> usize {
        self.input_burst + READ_CHUNK + self.longest_outgoing_line() + ENTRY_BYTES
    }

    /// Checks that the bounds fit together: an outgoing queue must hold several of the
    /// longest lines, or one long message would evict every member at once, and one
    /// sender's whole burst, or a sender within its limits would evict readers who keep up.
    ///
    /// # Errors
    /// A sentence naming the flags to change.
    pub fn check(&self) -> Result<(), String> {
        let least = 4 * (self.longest_outgoing_line() + ENTRY_BYTES);
        if self.queue_bytes < least {
            return Err(format!(
                "--queue-bytes {} is too small for --max-line {}: it must hold at least 4 of \
                 the longest lines ({least} bytes)",
                self.queue_bytes, self.max_line
            ));
        }
        if self.max_members > self.limits.max_connections {
            // The connection cap is met first: one member over it would be closed without
            // the `! server full` line, which looks like a broken server.
            return Err(format!(
                "--max-members {} is more than --max-conns {}: raise --max-conns to at \
                 least {}",
                self.max_members, self.limits.max_connections, self.max_members
            ));
        }
        let burst = self.most_one_sender_queues();
        if self.queue_bytes < burst {
            return Err(format!(
                "--queue-bytes {} is too small for --input-burst {}: it must hold one \
                 member's burst plus one read and one line ({burst} bytes)",
                self.queue_bytes, self.input_burst
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
        // One member's burst larger than the queue: it would evict readers who keep up.
        let burst_over_queue = ChatConfig {
            input_burst: 1024 * 1024,
            ..ChatConfig::default()
        };
        assert!(
            burst_over_queue
                .check()
                .unwrap_err()
                .contains("too small for --input-burst 1048576")
        );
    }

    #[test]
    fn a_room_larger_than_the_connection_cap_is_refused() {
        let mut big = ChatConfig {
            max_members: 5000,
            ..ChatConfig::default()
        };
        assert_eq!(
            big.check().unwrap_err(),
            "--max-members 5000 is more than --max-conns 1024: raise --max-conns to at least 5000"
        );
        big.limits.max_connections = 5000;
        assert_eq!(big.check(), Ok(()));
    }
}

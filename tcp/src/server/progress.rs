//! The progress rule: how much a peer must send to keep its connection (slowloris).
//!
//! A read deadline that restarts with every byte protects nothing: a peer that sends one
//! byte a second never reaches it, and 1,024 such peers hold every connection slot for
//! the price of 1 KB/s. So the deadline here is a budget of time that the peer's bytes buy,
//! the minimum-rate rule of Apache's `mod_reqtimeout` (`MinRate`):
//!
//! - a new connection gets the read deadline (`--read-timeout-ms`, 60 s) of credit;
//! - each byte it sends moves its deadline `1 / min_read_rate` seconds later
//!   (`--min-read-rate`, 128 bytes/s: 1/128 s per byte);
//! - the deadline is never more than the read deadline ahead of now, so credit cannot be
//!   banked for later.
//!
//! So a silent peer is dropped after the read deadline, as before; a peer sending at least
//! `min_read_rate` bytes per second on average is never dropped; and a peer sending `r`
//! bytes per second below it is dropped after `read_timeout / (1 - r / min_read_rate)`
//! (one byte a second: 60.5 s, however long it goes on).
//!
//! That alone still lets dribblers hold the slots for a minute each and reconnect, so the
//! connection table ([`super::conn_limit`]) adds the second half: when every slot is taken,
//! a newcomer gets the slot of the connection furthest behind the rule (the nearest
//! deadline), if that connection has lost at least [`EVICTABLE_LOSS`] of its credit. A peer
//! that keeps up keeps its full credit and is never the one to go.

use std::time::Duration;

use tokio::time::Instant;

/// Share of its credit a connection must have lost before a newcomer may take its slot
/// when the table is full: one eighth of the read deadline (7.5 s by default).
pub const EVICTABLE_LOSS: u32 = 8;

/// One connection's deadline under the progress rule, kept by its handler.
///
/// Times are whole nanoseconds after one epoch, the connection table's, so the deadline
/// goes to the table ([`super::Slot::set_progress`]) as it is: a burst costs one clock read
/// and one subtraction of `Instant`s. With `Instant`s throughout it cost two more
/// conversions (28 of the tuned echo's user-space instructions per message).
#[derive(Debug, Clone)]
pub struct ReadProgress {
    epoch: Instant,
    /// Nanoseconds after `epoch`.
    deadline: u64,
    read_timeout: u64,
    min_read_rate: u64,
}

impl ReadProgress {
    /// A connection accepted `now`: `read_timeout` of credit, each byte buying
    /// `1 / min_read_rate` seconds (0: no rule, any byte restarts the read deadline).
    /// `epoch` is where its times count from: the connection table's ([`super::Slot::epoch`]).
    pub fn start(epoch: Instant, now: Instant, read_timeout: Duration, min_read_rate: u64) -> Self {
        let read_timeout = nanos(read_timeout);
        ReadProgress {
            epoch,
            deadline: nanos(now.saturating_duration_since(epoch)).saturating_add(read_timeout),
            read_timeout,
            min_read_rate,
        }
    }

    /// The peer sent `bytes` by `now`: each byte buys `1 / min_read_rate` seconds, up to a
    /// full read deadline from now.
    pub fn record(&mut self, bytes: u64, now: Instant) {
        let full =
            nanos(now.saturating_duration_since(self.epoch)).saturating_add(self.read_timeout);
        if self.min_read_rate == 0 {
            self.deadline = full; // no rule: any byte restarts the deadline
            return;
        }
        // Saturates only past 18 GB in one call, where the cap below applies anyway.
        let earned = bytes.saturating_mul(1_000_000_000) / self.min_read_rate;
        self.deadline = self.deadline.saturating_add(earned).min(full);
    }

    /// When the connection is dropped unless the peer sends more.
    pub fn deadline(&self) -> Instant {
        self.epoch + Duration::from_nanos(self.deadline)
    }

    /// [`Self::deadline`] in milliseconds after the epoch, rounded down.
    pub fn deadline_ms(&self) -> u64 {
        self.deadline / 1_000_000
    }

    /// The epoch the times count from.
    pub fn epoch(&self) -> Instant {
        self.epoch
    }
}

/// `d` in whole nanoseconds; 584 years and more saturate.
fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    #[tokio::test(start_paused = true)]
    async fn a_dribbler_runs_out_of_credit_and_a_fast_peer_never_does() {
        let start = Instant::now();
        let mut dribbler = ReadProgress::start(start, start, MINUTE, 128);
        let mut fast = ReadProgress::start(start, start, MINUTE, 128);
        // One byte a second for ten minutes, against 128 bytes a second.
        let mut dropped_at = None;
        for second in 1..=600u64 {
            let now = start + Duration::from_secs(second);
            if dropped_at.is_none() && now >= dribbler.deadline() {
                dropped_at = Some(second);
            }
            dribbler.record(1, now);
            fast.record(128, now);
            assert_eq!(fast.deadline(), now + Duration::from_secs(60));
        }
        // 60 s of credit plus 1/128 s per byte: gone in the 61st second.
        assert_eq!(dropped_at, Some(61));
    }

    #[tokio::test(start_paused = true)]
    async fn times_count_from_the_epoch_the_table_reports_in() {
        let epoch = Instant::now();
        let accepted = epoch + Duration::from_secs(10);
        let mut rule = ReadProgress::start(epoch, accepted, MINUTE, 128);
        assert_eq!(rule.deadline(), accepted + MINUTE);
        assert_eq!(rule.deadline_ms(), 70_000);
        rule.record(64, accepted); // half a second of credit, past the cap: capped
        assert_eq!(rule.deadline_ms(), 70_000);
        let later = accepted + Duration::from_millis(30_500);
        rule.record(64, later);
        assert_eq!(
            rule.deadline(),
            accepted + MINUTE + Duration::from_millis(500)
        );
        assert_eq!(rule.deadline_ms(), 70_500);
    }

    #[tokio::test(start_paused = true)]
    async fn credit_is_capped_at_one_read_deadline_and_zero_turns_the_rule_off() {
        let start = Instant::now();
        let mut burst = ReadProgress::start(start, start, MINUTE, 128);
        burst.record(1 << 30, start);
        assert_eq!(burst.deadline(), start + Duration::from_secs(60));
        let mut off = ReadProgress::start(start, start, MINUTE, 0);
        let later = start + Duration::from_secs(59);
        off.record(1, later);
        assert_eq!(off.deadline(), later + Duration::from_secs(60));
    }
}

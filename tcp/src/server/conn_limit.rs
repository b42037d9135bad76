//! The connection cap: a table of open connections, and who gives up a slot when it is full.
//!
//! mini-redis waits on a semaphore when full, so a newcomer hangs in the backlog. This
//! crate accepts the newcomer and decides at once. If a slot is free, it takes it. If not,
//! the open connection furthest behind the progress rule ([`super::progress`]) gives up
//! its slot, provided it has lost at least an eighth of its credit: its stop token is
//! cancelled (async) or its socket shut down (blocking), and the newcomer is served.
//! Otherwise the newcomer is closed at once, so its client learns right away.
//!
//! The table is one mutex-guarded map, touched once when a connection opens and once when
//! it closes; a full table is scanned (1,024 entries by default) only when it is full.
//!
//! The table can also keep the read deadline itself ([`ConnectionTable::sweep`], run by a
//! thread of its own, [`ConnectionTable::spawn_sweeper`]): a connection that asked for it
//! ([`Slot::enforce_deadline`]) is stopped once the deadline it recorded has passed, so its
//! handler needs no timer. A timer in the runtime costs every wait on every connection (the
//! runtime's `epoll_wait(2)` then carries a timeout, which the kernel arms and cancels on
//! each call); one sweep of the table every so often costs one lock.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::progress::{EVICTABLE_LOSS, ReadProgress};

/// At most ten "connection cap reached" warnings a second, then one summary: a flood of
/// connections must not turn into a flood of log lines.
pub(crate) static REFUSED: support::log::Throttle = support::log::Throttle::per_second(10);

/// The sweeper thread's name, as `ps -L` and `/proc/PID/task/*/comm` show it (at most 15
/// bytes: Linux cuts longer names).
pub const SWEEPER_THREAD: &str = "deadline-sweep";

/// Stored in place of a deadline for a connection that may stay idle (a chat member).
const NO_DEADLINE: u64 = u64::MAX;

/// One connection's entry: its id, its stop token and its deadline, shared between the
/// handler (which records progress) and the accept loop (which may evict it).
#[derive(Debug)]
pub struct Slot {
    id: u64,
    epoch: Instant,
    /// Milliseconds after `epoch`, or [`NO_DEADLINE`].
    deadline_ms: AtomicU64,
    stop: CancellationToken,
    /// The handler asked the table to keep its deadline ([`Slot::enforce_deadline`]).
    swept: AtomicBool,
    /// The table stopped this connection because its deadline passed.
    timed_out: AtomicBool,
    /// The table's sweeper clock ([`Slot::sweeper_time`]).
    clock: Arc<SweeperClock>,
}

/// The time as the sweeper last saw it, in milliseconds after the table's epoch, plus one
/// sweep: until the next sweep, no earlier than the real time. [`UNSET`] while no sweeper
/// runs.
#[derive(Debug)]
struct SweeperClock(AtomicU64);

const UNSET: u64 = u64::MAX;

impl SweeperClock {
    fn publish(&self, ms: u64) {
        self.0.store(ms, Ordering::Relaxed);
    }
}

impl Slot {
    /// Unique for the server's lifetime.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Cancelled when the server shuts down or the slot is given to a newcomer: the handler
    /// should then finish what it owes and return.
    pub fn stop(&self) -> &CancellationToken {
        &self.stop
    }

    /// Records the connection's deadline under the progress rule; `None` for a connection
    /// that may idle forever and is never evicted for a newcomer.
    pub fn set_deadline(&self, deadline: Option<Instant>) {
        let ms = deadline.map_or(NO_DEADLINE, |d| self.millis(d));
        self.deadline_ms.store(ms, Ordering::Relaxed);
    }

    /// Records the deadline `progress` has reached (cheaper than [`Self::set_deadline`]:
    /// both count from this slot's epoch, so nothing is converted).
    pub fn set_progress(&self, progress: &ReadProgress) {
        debug_assert_eq!(
            progress.epoch(),
            self.epoch,
            "a rule started from Slot::epoch"
        );
        self.deadline_ms
            .store(progress.deadline_ms(), Ordering::Relaxed);
    }

    /// Asks the table to stop this connection (cancel [`Self::stop`], with
    /// [`Self::timed_out`] set) once the deadline last recorded here has passed; the
    /// handler then keeps no read timer of its own. It must record its progress
    /// ([`Self::set_progress`]) as bytes arrive, and the deadline is kept to within one
    /// sweep ([`sweep_every`]).
    pub fn enforce_deadline(&self) {
        self.swept.store(true, Ordering::Relaxed);
    }

    /// Whether the table stopped this connection because its read deadline passed (and not
    /// for shutdown or a newcomer).
    pub fn timed_out(&self) -> bool {
        self.timed_out.load(Ordering::Acquire)
    }

    /// Where the table's deadlines count from: the start of a connection's
    /// [`ReadProgress`].
    pub fn epoch(&self) -> Instant {
        self.epoch
    }

    /// A time no earlier than now, read from the sweeper's last round instead of the
    /// system clock (one load of a value written once per sweep); `None` while no sweeper
    /// runs. It is up to one sweep ahead of the real time, and behind it only if the
    /// sweeper oversleeps. A deadline counted from it is therefore never early and at most
    /// one sweep late, the precision the sweeper keeps anyway.
    ///
    /// Why not `Instant::now()`: it is cheap in a loop (about 28 ns here), but a blocking
    /// echo thread reads it right after a context switch, when the vDSO's pages and data
    /// are cold; on one pinned connection that read cost 3% of the round trips.
    pub fn sweeper_time(&self) -> Option<Instant> {
        match self.clock.0.load(Ordering::Relaxed) {
            UNSET => None,
            ms => Some(self.epoch + Duration::from_millis(ms)),
        }
    }

    fn millis(&self, at: Instant) -> u64 {
        millis_since(self.epoch, at)
    }
}

/// Whole milliseconds from `epoch` to `at` (0 if `at` is earlier).
fn millis_since(epoch: Instant, at: Instant) -> u64 {
    at.saturating_duration_since(epoch).as_millis() as u64
}

/// How often the sweeper looks at the table for a read deadline of `read_timeout`: a
/// sixteenth of it (a deadline is kept to within about 6%), between 1 ms and 500 ms.
pub fn sweep_every(read_timeout: Duration) -> Duration {
    (read_timeout / 16).clamp(Duration::from_millis(1), Duration::from_millis(500))
}

/// What [`ConnectionTable::admit`] decided.
#[derive(Debug)]
pub struct Admitted {
    /// The newcomer's slot; dropping it frees the slot.
    pub slot: SlotGuard,
    /// The connection that gave up its slot for the newcomer, already told to stop.
    pub evicted: Option<u64>,
}

/// Open connections against a maximum.
#[derive(Debug)]
pub struct ConnectionTable {
    max: usize,
    /// A fresh connection's credit: the read deadline.
    read_timeout: Duration,
    epoch: Instant,
    next_id: AtomicU64,
    open: Mutex<HashMap<u64, Arc<Slot>>>,
    clock: Arc<SweeperClock>,
}

/// A taken slot; dropping it gives the slot back (unless it was already given away).
#[derive(Debug)]
pub struct SlotGuard {
    table: Arc<ConnectionTable>,
    slot: Arc<Slot>,
}

impl SlotGuard {
    /// The slot itself.
    pub fn slot(&self) -> &Arc<Slot> {
        &self.slot
    }
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        self.table.lock().remove(&self.slot.id);
    }
}

impl ConnectionTable {
    /// A table of at most `max` connections, each starting with `read_timeout` of credit.
    pub fn new(max: usize, read_timeout: Duration) -> Arc<Self> {
        Arc::new(ConnectionTable {
            max,
            read_timeout,
            epoch: Instant::now(),
            next_id: AtomicU64::new(0),
            open: Mutex::new(HashMap::new()),
            clock: Arc::new(SweeperClock(AtomicU64::new(UNSET))),
        })
    }

    /// Finds a slot for a connection accepted now, whose stop token is `stop`: a free one,
    /// or the one of the connection furthest behind; `None` if every connection keeps up.
    pub fn admit(self: &Arc<Self>, stop: CancellationToken) -> Option<Admitted> {
        let now = Instant::now();
        let slot = Arc::new(Slot {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            epoch: self.epoch,
            deadline_ms: AtomicU64::new(0),
            stop,
            swept: AtomicBool::new(false),
            timed_out: AtomicBool::new(false),
            clock: Arc::clone(&self.clock),
        });
        slot.set_deadline(Some(now + self.read_timeout));
        let mut open = self.lock();
        let evicted = if open.len() < self.max {
            None
        } else {
            let behind = self.furthest_behind(&open, now)?;
            let gone = open.remove(&behind).expect("id found under the same lock");
            gone.stop.cancel();
            Some(behind)
        };
        open.insert(slot.id, Arc::clone(&slot));
        drop(open);
        Some(Admitted {
            slot: SlotGuard {
                table: Arc::clone(self),
                slot,
            },
            evicted,
        })
    }

    /// The connection with the nearest deadline, if it has lost at least
    /// 1/[`EVICTABLE_LOSS`] of its credit.
    fn furthest_behind(&self, open: &HashMap<u64, Arc<Slot>>, now: Instant) -> Option<u64> {
        let limit = now + self.read_timeout - self.read_timeout / EVICTABLE_LOSS;
        let limit_ms = self.millis(limit);
        open.values()
            .map(|slot| (slot.deadline_ms.load(Ordering::Relaxed), slot.id))
            .filter(|&(deadline, _)| deadline != NO_DEADLINE && deadline <= limit_ms)
            .min()
            .map(|(_, id)| id)
    }

    /// Stops every connection that asked for it ([`Slot::enforce_deadline`]) and whose
    /// recorded deadline is before `now`: marks it timed out, then cancels its stop token,
    /// which wakes its handler. Returns how many it stopped.
    pub fn sweep(&self, now: Instant) -> usize {
        let now_ms = self.millis(now);
        let open = self.lock();
        let mut stopped = 0;
        for slot in open.values() {
            let deadline = slot.deadline_ms.load(Ordering::Relaxed);
            if slot.swept.load(Ordering::Relaxed)
                && deadline < now_ms
                && !slot.timed_out.swap(true, Ordering::AcqRel)
            {
                slot.stop.cancel(); // after the flag: the woken handler sees why
                stopped += 1;
            }
        }
        stopped
    }

    /// Starts the thread that sweeps this table every `every` ([`Self::sweep`]) until
    /// `shutdown` is cancelled or the table is gone, and after each sweep publishes the
    /// time its slots' [`Slot::sweeper_time`] reads. It reads the clock of the tokio
    /// runtime it is started from, if any (so tests with paused time see their own
    /// clock).
    ///
    /// # Errors
    /// The thread could not be started.
    pub fn spawn_sweeper(
        self: &Arc<Self>,
        every: Duration,
        shutdown: CancellationToken,
    ) -> std::io::Result<std::thread::JoinHandle<()>> {
        let table: Weak<Self> = Arc::downgrade(self);
        let runtime = tokio::runtime::Handle::try_current().ok();
        std::thread::Builder::new()
            .name(SWEEPER_THREAD.into())
            .spawn(move || {
                let _clock = runtime.as_ref().map(tokio::runtime::Handle::enter);
                let ahead = every.as_millis() as u64 + 1; // +1: millis round down
                if let Some(table) = table.upgrade() {
                    table.clock.publish(table.millis(Instant::now()) + ahead);
                }
                loop {
                    std::thread::sleep(every);
                    let Some(table) = table.upgrade() else { return };
                    if shutdown.is_cancelled() {
                        return;
                    }
                    let now = Instant::now();
                    table.sweep(now);
                    table.clock.publish(table.millis(now) + ahead);
                }
            })
    }

    /// How many connections are open now.
    pub fn active(&self) -> usize {
        self.lock().len()
    }

    /// The maximum this table allows.
    pub fn max(&self) -> usize {
        self.max
    }

    fn millis(&self, at: Instant) -> u64 {
        millis_since(self.epoch, at)
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<u64, Arc<Slot>>> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn slots_run_out_and_come_back() {
        let table = ConnectionTable::new(2, Duration::from_secs(8));
        let a = table.admit(CancellationToken::new()).expect("first slot");
        let _b = table.admit(CancellationToken::new()).expect("second slot");
        assert!(table.admit(CancellationToken::new()).is_none());
        drop(a);
        assert_eq!(table.active(), 1);
        assert!(table.admit(CancellationToken::new()).is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn when_full_the_connection_furthest_behind_gives_up_its_slot() {
        let table = ConnectionTable::new(2, Duration::from_secs(8));
        let keeps_up = table.admit(CancellationToken::new()).unwrap().slot;
        let behind = table.admit(CancellationToken::new()).unwrap().slot;
        let idle_ok = table.admit(CancellationToken::new());
        assert!(
            idle_ok.is_none(),
            "nobody has lost an eighth of its credit yet"
        );

        tokio::time::advance(Duration::from_secs(2)).await;
        keeps_up
            .slot()
            .set_deadline(Some(Instant::now() + Duration::from_secs(8)));
        let newcomer = table
            .admit(CancellationToken::new())
            .expect("a slot for the newcomer");
        assert_eq!(newcomer.evicted, Some(behind.slot().id()));
        assert!(behind.slot().stop().is_cancelled());
        assert!(!keeps_up.slot().stop().is_cancelled());
        drop(behind); // its handler ends later; the newcomer's slot stays taken
        assert_eq!(table.active(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_sweep_stops_only_connections_that_asked_and_are_past_their_deadline() {
        let table = ConnectionTable::new(4, Duration::from_secs(8));
        let silent = table.admit(CancellationToken::new()).unwrap().slot;
        let busy = table.admit(CancellationToken::new()).unwrap().slot;
        let own_timer = table.admit(CancellationToken::new()).unwrap().slot;
        let member = table.admit(CancellationToken::new()).unwrap().slot;
        for asked in [&silent, &busy, &member] {
            asked.slot().enforce_deadline();
        }
        member.slot().set_deadline(None);
        assert_eq!(table.sweep(Instant::now()), 0, "everyone has credit left");

        tokio::time::advance(Duration::from_secs(5)).await;
        busy.slot()
            .set_deadline(Some(Instant::now() + Duration::from_secs(8)));
        tokio::time::advance(Duration::from_secs(4)).await;
        assert_eq!(table.sweep(Instant::now()), 1);
        assert!(silent.slot().timed_out() && silent.slot().stop().is_cancelled());
        for kept in [&busy, &own_timer, &member] {
            assert!(!kept.slot().timed_out() && !kept.slot().stop().is_cancelled());
        }
        assert_eq!(table.sweep(Instant::now()), 0, "stopped once");
    }

    #[test]
    fn the_sweeper_keeps_deadlines_and_ends_with_the_table() {
        let table = ConnectionTable::new(1, Duration::from_millis(20));
        let sweeper = table
            .spawn_sweeper(Duration::from_millis(5), CancellationToken::new())
            .unwrap();
        let silent = table.admit(CancellationToken::new()).unwrap().slot;
        silent.slot().enforce_deadline();
        let waited = std::time::Instant::now();
        while !silent.slot().timed_out() {
            assert!(waited.elapsed() < Duration::from_secs(5), "never swept");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(silent.slot().stop().is_cancelled());
        drop((silent, table));
        sweeper.join().unwrap(); // returns once the table is gone
    }

    #[test]
    fn the_sweeper_time_is_never_behind_the_clock_and_at_most_one_sweep_ahead() {
        let table = ConnectionTable::new(4, Duration::from_secs(16));
        let admitted = table.admit(CancellationToken::new()).expect("a free slot");
        let slot = admitted.slot.slot();
        assert_eq!(
            slot.sweeper_time(),
            None,
            "no sweeper: callers read the clock"
        );
        let every = Duration::from_secs(1);
        let stop = CancellationToken::new();
        let sweeper = table.spawn_sweeper(every, stop.clone()).expect("sweeper");
        let waited = Instant::now();
        let seen = loop {
            if let Some(time) = slot.sweeper_time() {
                break time;
            }
            assert!(waited.elapsed() < Duration::from_secs(5), "never published");
            std::thread::sleep(Duration::from_millis(1));
        };
        let now = Instant::now();
        assert!(seen >= now, "{:?} behind the clock", now - seen);
        let most = every + Duration::from_millis(1);
        assert!(seen <= now + most, "{:?} ahead", seen - now);
        stop.cancel();
        sweeper.join().expect("the sweeper ends");
    }

    #[test]
    fn sweeps_come_a_sixteenth_of_the_read_deadline_apart_within_bounds() {
        assert_eq!(
            sweep_every(Duration::from_millis(160)),
            Duration::from_millis(10)
        );
        assert_eq!(
            sweep_every(Duration::from_secs(60)),
            Duration::from_millis(500)
        );
        assert_eq!(
            sweep_every(Duration::from_millis(1)),
            Duration::from_millis(1)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_without_a_deadline_is_never_evicted() {
        let table = ConnectionTable::new(1, Duration::from_secs(8));
        let member = table.admit(CancellationToken::new()).unwrap().slot;
        member.slot().set_deadline(None);
        tokio::time::advance(Duration::from_secs(3600)).await;
        assert!(table.admit(CancellationToken::new()).is_none());
    }
}

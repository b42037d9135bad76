//! The calls of one TCP connection: the in-flight bound, the answer-on-the-spot fast
//! path, and the hand-off of every reply to the writer task.
//!
//! - **In-flight bound.** Each call takes a permit of a per-connection semaphore
//!   ([`super::DEFAULT_MAX_IN_FLIGHT`]) before it starts; when none is left the
//!   connection loop waits, so it stops *reading*: TCP's window then slows the peer
//!   down (back-pressure, not an unbounded queue).
//! - **Fast path.** Most procedures (add, echo, a map lookup) finish without ever
//!   waiting. [`poll_once`] runs the call once right here; only a call that really
//!   waits (`sleep`, I/O) is spawned as a task, under its deadline. A call answered
//!   on the spot costs no task spawn and no cross-task wake-up.
//! - **Replies** go to the writer task through a channel the moment they are ready, so
//!   they leave in completion order, and the writer batches whatever is queued into one
//!   `write(2)`.
//!
//! When the connection ends, every call still running is abandoned with it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use framing::FrameFormat;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::JoinHandle;
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::deadline;
use crate::message::Message;
use crate::registry::{Registry, ServerStats, Started, poll_once, reply_message};
use crate::tcp_transport::server::TcpServerConfig;
use crate::tcp_transport::writer::write_messages;

/// What a connection's loop shares with the calls it starts.
pub struct Calls {
    /// Cancelled when the connection ends (a write failed, or the loop stopped).
    closed: CancellationToken,
    registry: Arc<Registry>,
    replies: mpsc::Sender<Message>,
    permits: Arc<Semaphore>,
    max_frame: usize,
    more_requests: Arc<AtomicBool>,
    writer: JoinHandle<()>,
    /// However the connection ends, even aborted at the end of the shutdown grace
    /// period, the writer and every call still running stop with it.
    _stop_everything: DropGuard,
}

impl Calls {
    /// Starts the writer task on `write` and returns the calls' shared state.
    pub fn open(
        write: OwnedWriteHalf,
        format: FrameFormat,
        registry: Arc<Registry>,
        config: &TcpServerConfig,
    ) -> Calls {
        let (replies, queue) = mpsc::channel(config.max_in_flight.max(1) * 2);
        let closed = CancellationToken::new();
        let more_requests = Arc::new(AtomicBool::new(false));
        let more = more_requests.clone();
        let writer = tokio::spawn(write_messages(
            write,
            queue,
            format,
            config.limits.write_timeout,
            closed.clone(),
            move || more.load(Ordering::Relaxed),
        ));
        Calls {
            _stop_everything: closed.clone().drop_guard(),
            closed,
            registry,
            replies,
            permits: Arc::new(Semaphore::new(config.max_in_flight.max(1))),
            max_frame: config.max_frame,
            more_requests,
            writer,
        }
    }

    /// Resolves when the connection broke (the writer gave up).
    pub async fn broken(&self) {
        self.closed.cancelled().await
    }

    /// Tells the writer whether more requests are already read (more replies coming).
    pub fn more_requests(&self, more: bool) {
        self.more_requests.store(more, Ordering::Relaxed);
    }

    /// Queues a message for the writer.
    pub async fn reply(&self, message: Message) {
        let _ = self.replies.send(message).await;
    }

    /// Takes an in-flight permit (waiting, and so not reading, while none is free), then
    /// starts the call. False if shutdown came first.
    pub async fn dispatch(&self, call: Message, shutdown: &CancellationToken) -> bool {
        let arrived = tokio::time::Instant::now().into_std();
        let permit = tokio::select! {
            permit = self.permits.clone().acquire_owned() => permit,
            _ = shutdown.cancelled() => return false,
        };
        let Ok(permit) = permit else { return false };
        self.run(call, arrived, permit).await;
        true
    }

    /// Starts one call: dropped if already expired, answered at once if it finishes
    /// without waiting, otherwise spawned under its deadline.
    async fn run(&self, call: Message, arrived: Instant, permit: OwnedSemaphorePermit) {
        let header = call.header;
        let deadline = deadline::from_wire(header.deadline_ms, arrived);
        let stats = self.registry.stats().clone();
        if deadline::expired(deadline) {
            tracing::debug!(
                call_id = header.call_id,
                "deadline passed while queued; dropped"
            );
            return ServerStats::bump(&stats.expired);
        }
        let running = match self.registry.start(call) {
            Started::Now(outcome) => Ok(outcome),
            Started::Running(running) => poll_once(running),
        };
        let running = match running {
            Ok(outcome) => {
                return self
                    .reply(reply_message(&header, outcome, self.max_frame))
                    .await;
            }
            Err(running) => running,
        };
        let (replies, max_frame, closed) =
            (self.replies.clone(), self.max_frame, self.closed.clone());
        tokio::spawn(async move {
            let finished = async {
                match deadline {
                    None => Some(running.await),
                    Some(at) => tokio::time::timeout_at(at.into(), running).await.ok(),
                }
            };
            // The connection may end first (peer gone, grace period over): then this
            // call's work is abandoned with it.
            let outcome = tokio::select! {
                outcome = finished => outcome,
                _ = closed.cancelled() => return,
            };
            let Some(outcome) = outcome else {
                tracing::debug!(
                    call_id = header.call_id,
                    "deadline passed while running; dropped"
                );
                return ServerStats::bump(&stats.expired);
            };
            let _ = replies
                .send(reply_message(&header, outcome, max_frame))
                .await;
            drop(permit);
        });
    }

    /// No more calls: waits for the writer to send what the running calls still reply.
    pub async fn finish(self) {
        let Calls {
            writer,
            replies,
            _stop_everything,
            ..
        } = self;
        drop(replies);
        let _ = writer.await;
        drop(_stop_everything);
    }
}

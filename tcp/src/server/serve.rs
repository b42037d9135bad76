//! The async accept loop: one tokio task per connection, capped, stoppable.
//!
//! This is the shape of mini-redis's `server.rs`: accept, find a slot, spawn a task for
//! the connection, and on shutdown stop accepting, tell the connections, and wait for them
//! for a bounded grace period. Each task is cheap (a few hundred bytes plus what the
//! handler keeps across `.await`), which is why one process can hold many thousands of
//! idle connections, unlike one thread per connection.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::conn_limit::{ConnectionTable, REFUSED, Slot, sweep_every};
use super::{AcceptBackoff, ServerLimits, accept_async};

/// Serves `listener` until `shutdown` is cancelled, running `handler` for each connection.
///
/// The handler gets the stream, the peer address and a token that is cancelled when the
/// server shuts down: it should then finish what it owes the peer and return. Connections
/// over `limits.max_connections` are accepted and closed at once (the client sees
/// end-of-stream). After shutdown, connections get `limits.shutdown_grace` to finish;
/// the rest are aborted. Read and write deadlines are the handler's job, and these
/// connections never give up their slot to a newcomer (see [`serve_slots`] for that).
pub async fn serve<H, F>(
    listener: TcpListener,
    limits: ServerLimits,
    shutdown: CancellationToken,
    mut handler: H,
) where
    H: FnMut(TcpStream, SocketAddr, CancellationToken) -> F,
    F: Future<Output = ()> + Send + 'static,
{
    let handler = move |stream, peer, slot: Arc<Slot>| {
        slot.set_deadline(None);
        handler(stream, peer, slot.stop().clone())
    };
    // No handler here asks the table to keep its deadline: no sweeper thread.
    accept_loop(listener, limits, shutdown, Sweeper::Skip, handler).await;
}

/// Like [`serve`], but the handler gets the connection's [`Slot`]: it records its peer's
/// deadline there (the progress rule, [`super::progress`]), and when every slot is taken
/// the connection furthest behind is stopped (`slot.stop()` is cancelled) so that a
/// newcomer can be served. A new slot starts with a full read deadline. A handler that
/// calls [`Slot::enforce_deadline`] is stopped when its deadline passes, by a sweeper
/// thread ([`ConnectionTable::spawn_sweeper`]) that ends with the server.
pub async fn serve_slots<H, F>(
    listener: TcpListener,
    limits: ServerLimits,
    shutdown: CancellationToken,
    handler: H,
) where
    H: FnMut(TcpStream, SocketAddr, Arc<Slot>) -> F,
    F: Future<Output = ()> + Send + 'static,
{
    accept_loop(listener, limits, shutdown, Sweeper::Run, handler).await;
}

/// Whether the connection table gets a sweeper thread ([`ConnectionTable::spawn_sweeper`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sweeper {
    /// Handlers may call [`Slot::enforce_deadline`]: the table keeps their deadlines.
    Run,
    /// No handler does: a thread waking every sweep would be work for nothing.
    Skip,
}

/// The accept loop of [`serve`] and [`serve_slots`].
async fn accept_loop<H, F>(
    listener: TcpListener,
    limits: ServerLimits,
    shutdown: CancellationToken,
    sweeper: Sweeper,
    mut handler: H,
) where
    H: FnMut(TcpStream, SocketAddr, Arc<Slot>) -> F,
    F: Future<Output = ()> + Send + 'static,
{
    let table = ConnectionTable::new(limits.max_connections, limits.read_timeout);
    if sweeper == Sweeper::Run {
        let every = sweep_every(limits.read_timeout);
        if let Err(err) = table.spawn_sweeper(every, shutdown.clone()) {
            // Without it a handler that relies on the table would never time out.
            tracing::error!(error = %err, "cannot start the read-deadline sweeper; not serving");
            return;
        }
    }
    let mut tasks = JoinSet::new();
    let mut backoff = AcceptBackoff::default();
    loop {
        let (stream, peer) = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = accept_async(&listener, &mut backoff) => accepted,
        };
        reap_finished(&mut tasks);
        let Some(admitted) = table.admit(shutdown.child_token()) else {
            support::warn_throttled!(REFUSED, %peer, max = table.max(), "connection cap reached; closing new connection");
            continue;
        };
        if let Some(evicted) = admitted.evicted {
            tracing::info!(%peer, evicted, "cap reached; the connection furthest behind made room");
        }
        let slot = admitted.slot;
        let connection = handler(stream, peer, Arc::clone(slot.slot()));
        tasks.spawn(async move {
            connection.await;
            drop(slot);
        });
    }
    drop(listener); // stop accepting: new connections are refused by the kernel
    drain(tasks, limits.shutdown_grace).await;
}

/// Collects finished tasks so the set does not grow with every past connection.
fn reap_finished(tasks: &mut JoinSet<()>) {
    while let Some(result) = tasks.try_join_next() {
        if let Err(err) = result {
            tracing::error!(error = %err, "connection task failed");
        }
    }
}

/// Waits up to `grace` for the connection tasks, then aborts the ones left.
async fn drain(mut tasks: JoinSet<()>, grace: Duration) {
    tracing::info!(
        open = tasks.len(),
        "stopped accepting; waiting for open connections"
    );
    let finished =
        tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
    if finished.is_err() {
        tracing::warn!(left = tasks.len(), "grace period over; closing the rest");
        tasks.shutdown().await;
    }
}

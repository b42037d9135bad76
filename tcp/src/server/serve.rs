//! The async accept loop: one tokio task per connection, capped, stoppable.
//!
//! This is the shape of mini-redis's `server.rs`: accept, check the cap, spawn a task for
//! the connection, and on shutdown stop accepting, tell the connections, and wait for them
//! for a bounded grace period. Each task is cheap (a few hundred bytes plus what the
//! handler keeps across `.await`), which is why one process can hold many thousands of
//! idle connections, unlike one thread per connection.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::{AcceptBackoff, ConnectionLimit, ServerLimits, accept_async};

/// Serves `listener` until `shutdown` is cancelled, running `handler` for each connection.
///
/// The handler gets the stream, the peer address and a token that is cancelled when the
/// server shuts down: it should then finish what it owes the peer and return. Connections
/// over `limits.max_connections` are accepted and closed at once (the client sees
/// end-of-stream). After shutdown, connections get `limits.shutdown_grace` to finish;
/// the rest are aborted. Read and write deadlines are the handler's job.
pub async fn serve<H, F>(
    listener: TcpListener,
    limits: ServerLimits,
    shutdown: CancellationToken,
    mut handler: H,
) where
    H: FnMut(TcpStream, SocketAddr, CancellationToken) -> F,
    F: Future<Output = ()> + Send + 'static,
{
    let cap = ConnectionLimit::new(limits.max_connections);
    let mut tasks = JoinSet::new();
    let mut backoff = AcceptBackoff::default();
    loop {
        let (stream, peer) = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = accept_async(&listener, &mut backoff) => accepted,
        };
        reap_finished(&mut tasks);
        let Some(permit) = cap.try_acquire() else {
            tracing::warn!(%peer, max = cap.max(), "connection cap reached; closing new connection");
            continue;
        };
        let connection = handler(stream, peer, shutdown.child_token());
        tasks.spawn(async move {
            connection.await;
            drop(permit);
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

//! The proxy's accept loop: one tokio task per client, a cap on how many at once, a pause
//! when `accept(2)` runs out of resources, and a bounded grace period on shutdown.
//!
//! Every client costs the proxy two sockets and two buffers, so the number of clients is a
//! resource a peer controls: it is capped ([`Limits::max_connections`]). A client over the
//! cap is accepted and closed at once, so it learns right away instead of hanging in the
//! backlog. `accept(2)` failing with `EMFILE`/`ENFILE`/`ENOBUFS` is answered with a short,
//! doubling pause, not a busy loop; `ECONNABORTED` (the client gave up) is retried at once.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Default most clients at once (`--max-conns`).
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// Default idle deadline: nothing moved either way for this long (`--read-timeout-ms`).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Default write deadline: one forwarded chunk must be written whole within this long
/// (`--write-timeout-ms`).
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(60);
/// Default time open connections get to finish after SIGINT/SIGTERM (`--grace-ms`).
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// First pause after a resource error in `accept(2)`; it doubles up to [`ACCEPT_PAUSE_MAX`].
pub const ACCEPT_PAUSE_START: Duration = Duration::from_millis(5);
/// Longest pause between failing `accept(2)` calls.
pub const ACCEPT_PAUSE_MAX: Duration = Duration::from_secs(1);

/// The bounds on what clients and servers behind the proxy can make it hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most clients proxied at once; more are accepted and closed at once.
    pub max_connections: usize,
    /// A connection where nothing moved either way for this long is dropped.
    pub read_timeout: Duration,
    /// A peer that has not taken one whole forwarded chunk within this long is dropped.
    pub write_timeout: Duration,
    /// After shutdown, open connections get this long to finish.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            read_timeout: DEFAULT_IDLE_TIMEOUT,
            write_timeout: DEFAULT_WRITE_TIMEOUT,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
        }
    }
}

/// Serves `listener` until `shutdown` is cancelled, running `handler` for each client.
/// After shutdown, connections get `limits.shutdown_grace` to finish; the rest are aborted.
pub async fn serve<H, F>(
    listener: TcpListener,
    limits: Limits,
    shutdown: CancellationToken,
    mut handler: H,
) where
    H: FnMut(TcpStream, SocketAddr) -> F,
    F: Future<Output = ()> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut tasks = JoinSet::new();
    let mut pause = ACCEPT_PAUSE_START;
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (client, peer) = match accepted {
            Ok(accepted) => {
                pause = ACCEPT_PAUSE_START;
                accepted
            }
            Err(err) if support::net::only_this_connection(&err) => continue,
            Err(err) => {
                tracing::warn!(error = %err, pause_ms = pause.as_millis() as u64, "accept failed; backing off");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(ACCEPT_PAUSE_MAX);
                continue;
            }
        };
        while tasks.try_join_next().is_some() {}
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            tracing::warn!(%peer, max = limits.max_connections, "connection cap reached; closing new connection");
            continue;
        };
        let connection = handler(client, peer);
        tasks.spawn(async move {
            connection.await;
            drop(slot);
        });
    }
    drop(listener); // stop accepting: new connections are refused by the kernel
    let all_done = async { while tasks.join_next().await.is_some() {} };
    if tokio::time::timeout(limits.shutdown_grace, all_done)
        .await
        .is_err()
    {
        tracing::warn!(left = tasks.len(), "grace period over; closing the rest");
        tasks.shutdown().await;
    }
}

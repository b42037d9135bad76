//! [`ServerHandle`]: a server running in a background task, for tests, examples and the demo.

use std::net::SocketAddr;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A server running in a background task; dropping the handle stops it.
#[derive(Debug)]
pub struct ServerHandle {
    addr: SocketAddr,
    shutdown: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl ServerHandle {
    /// Wraps a running server task.
    pub fn new(addr: SocketAddr, shutdown: CancellationToken, task: JoinHandle<()>) -> Self {
        ServerHandle {
            addr,
            shutdown,
            task: Some(task),
        }
    }

    /// The address the server is bound to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, lets running calls finish (within the grace period), waits.
    pub async fn shutdown(mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

//! The chat server: the shared accept loop plus one session per connection.
//!
//! Everything generic (connection cap, accept backoff, graceful shutdown) comes from
//! [`crate::server::serve_slots()`]; this file only wires a [`Registry`] to it. A
//! connection that has not joined yet holds its slot only until its joining deadline:
//! when every slot is taken, the one nearest to that deadline makes room for a newcomer.
//! Members never do (a member may read for hours without typing).

use super::config::ChatConfig;
use super::registry::Registry;
use super::session;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// A chat room and its bounds, ready to serve a listener.
#[derive(Debug, Clone)]
pub struct ChatServer {
    registry: Arc<Registry>,
    config: ChatConfig,
}

impl ChatServer {
    /// An empty room with the given bounds.
    pub fn new(config: ChatConfig) -> Self {
        let registry = Arc::new(Registry::new(config.max_members, config.queue_bytes));
        ChatServer { registry, config }
    }

    /// The room (members, peak queue size): tests and the demo look inside through it.
    pub fn registry(&self) -> Arc<Registry> {
        Arc::clone(&self.registry)
    }

    /// Serves `listener` until `shutdown` is cancelled; members then get
    /// `* server shutting down` and the connections close within the grace period.
    pub async fn serve(self, listener: TcpListener, shutdown: CancellationToken) {
        let ChatServer { registry, config } = self;
        crate::server::serve_slots(
            listener,
            config.limits,
            shutdown,
            move |stream, peer, slot| {
                session::run(stream, peer, Arc::clone(&registry), config, slot)
            },
        )
        .await;
    }
}

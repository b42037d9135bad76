//! Moving one datagram through the proxy: reading a session's replies, applying its [`Fate`]
//! (drop, duplicate, hold back, delay), sending it on, recording it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::net::UdpSocket;

use super::error::survivable;
use super::{Counters, Ctx, Fate, MAX_DATAGRAM_BUFFER, bump};
use crate::transcript::Direction;

/// Server -> client: reads the session's upstream socket, sends each reply to the client
/// through the listen socket.
pub(super) async fn relay_replies(
    ctx: Arc<Ctx>,
    upstream: Arc<UdpSocket>,
    listen: Arc<UdpSocket>,
    client: SocketAddr,
    number: u64,
    last_active: Arc<AtomicU64>,
) {
    let mut buf = vec![0u8; MAX_DATAGRAM_BUFFER];
    let mut index = 0;
    loop {
        match upstream.recv(&mut buf).await {
            Ok(len) => {
                last_active.store(ctx.now_ms(), Ordering::Relaxed);
                let fate = ctx.faults.fate(number, Direction::ServerToClient, index);
                index += 1;
                let outlet = Outlet::Client(Arc::clone(&listen), client);
                deliver(
                    &ctx,
                    outlet,
                    number,
                    Direction::ServerToClient,
                    &buf[..len],
                    fate,
                )
                .await;
            }
            // ECONNREFUSED: the server is not (yet) there; the client will retry.
            Err(e) if survivable(&e) => {
                tracing::debug!(session = number, "proxy: upstream: {e}")
            }
            Err(e) => {
                tracing::warn!(session = number, "proxy: upstream socket failed: {e}");
                return;
            }
        }
    }
}

/// Where a datagram goes next.
pub(super) enum Outlet {
    /// To the server, on the session's connected socket (for the client at that address).
    Upstream(Arc<UdpSocket>, SocketAddr),
    /// To a client, through the listen socket.
    Client(Arc<UdpSocket>, SocketAddr),
}

impl Outlet {
    /// The client whose session this datagram belongs to.
    fn client(&self) -> SocketAddr {
        match self {
            Outlet::Upstream(_, client) | Outlet::Client(_, client) => *client,
        }
    }

    async fn send(&self, bytes: &[u8]) -> std::io::Result<usize> {
        match self {
            Outlet::Upstream(socket, _) => socket.send(bytes).await,
            Outlet::Client(socket, client) => socket.send_to(bytes, client).await,
        }
    }
}

/// Applies `fate` to one datagram: drop it, or send it (twice if duplicated), now or after a wait.
pub(super) async fn deliver(
    ctx: &Arc<Ctx>,
    outlet: Outlet,
    conn: u64,
    dir: Direction,
    bytes: &[u8],
    fate: Fate,
) {
    if fate.dropped {
        bump(&ctx.counters.dropped);
        if let Some(r) = &ctx.recorder {
            r.dropped(conn, dir, bytes.len());
        }
        return;
    }
    count_fate(&ctx.counters, fate);
    let copies = if fate.duplicated { 2 } else { 1 };
    if fate.wait.is_zero() {
        send_copies(ctx, &outlet, conn, dir, bytes, copies).await;
        return;
    }
    let Ok(permit) = Arc::clone(&ctx.delayed).try_acquire_owned() else {
        bump(&ctx.counters.dropped);
        tracing::warn!(
            "proxy: {} datagrams already delayed; dropped one",
            ctx.max_delayed
        );
        return;
    };
    bump(&ctx.counters.delayed);
    let (ctx, data) = (Arc::clone(ctx), bytes.to_vec());
    tokio::spawn(async move {
        tokio::time::sleep(fate.wait).await;
        send_copies(&ctx, &outlet, conn, dir, &data, copies).await;
        drop(permit);
    });
}

fn count_fate(counters: &Counters, fate: Fate) {
    bump(&counters.forwarded);
    if fate.duplicated {
        bump(&counters.duplicated);
    }
    if fate.reordered {
        bump(&counters.reordered);
    }
}

async fn send_copies(
    ctx: &Ctx,
    outlet: &Outlet,
    conn: u64,
    dir: Direction,
    bytes: &[u8],
    copies: usize,
) {
    for _ in 0..copies {
        // Recorded before the send: once the receiver has the datagram, the record exists.
        if let Some(r) = &ctx.recorder {
            r.datagram(conn, dir, bytes);
        }
        if let Some(pcap) = &ctx.pcap {
            pcap.datagram(outlet.client(), dir, bytes);
        }
        if let Err(e) = outlet.send(bytes).await {
            tracing::debug!(session = conn, %dir, "proxy: send failed: {e}");
            if let Some(r) = &ctx.recorder {
                r.note(
                    conn,
                    dir,
                    &format!("send of the datagram above failed: {e}"),
                );
            }
        }
    }
}

//! One proxied connection: reach the server, then run both pumps until both ends are done.
//!
//! ```text
//!   client --read--> [pump client>server] --write--> server
//!   client <-write-- [pump server>client] <--read--- server
//! ```
//! Each direction ends on its own (a FIN is passed on as a FIN); the connection is over
//! when both have ended. If either direction fails (a reset, a write to a closed peer),
//! the whole connection is dropped, which closes both sockets. If nothing moves either way
//! for the read deadline, the connection is dropped too (an idle or stalled peer).

use super::ProxyConfig;
use super::pump::{PumpSettings, pump};
use super::recorder::Recorder;
use crate::pcap::write::TcpPcap;
use crate::transcript::Direction;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Where a connection is written down: a transcript, a pcap file, both or neither.
#[derive(Debug, Clone, Default)]
pub struct Recording {
    /// `--record FILE`.
    pub transcript: Option<Arc<Recorder>>,
    /// `--pcap FILE`.
    pub pcap: Option<Arc<TcpPcap>>,
}

/// Serves one accepted client as connection number `conn`.
pub async fn run(
    client: TcpStream,
    peer: SocketAddr,
    conn: u64,
    config: Arc<ProxyConfig>,
    recording: Recording,
) {
    let server =
        match tokio::time::timeout(config.connect_timeout, TcpStream::connect(config.to)).await {
            Ok(Ok(server)) => server,
            Ok(Err(err)) => {
                tracing::warn!(
                    "upstream {} {}; resetting client {peer}",
                    config.to,
                    unreachable_because(&err)
                );
                reset(&client);
                return;
            }
            Err(_) => {
                tracing::warn!(
                    "upstream {} did not answer within {} ms; resetting client {peer}",
                    config.to,
                    config.connect_timeout.as_millis()
                );
                reset(&client);
                return;
            }
        };
    // Forward small writes at once: the proxy should not add Nagle delays of its own.
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    if let Some(recorder) = &recording.transcript {
        recorder.open(conn);
    }
    if let Some(pcap) = &recording.pcap {
        pcap.open(conn, peer, config.to);
    }
    tracing::info!(conn, %peer, to = %config.to, "proxying");
    let ended = forward(client, server, conn, &config, &recording).await;
    if let Some(recorder) = &recording.transcript {
        recorder.close(conn);
    }
    if let Some(pcap) = &recording.pcap {
        pcap.close(conn);
    }
    tracing::info!(conn, %peer, how = ended, "connection closed");
}

/// Runs both pumps; returns how the connection ended (for the log).
async fn forward(
    client: TcpStream,
    server: TcpStream,
    conn: u64,
    config: &ProxyConfig,
    recording: &Recording,
) -> &'static str {
    let epoch = Instant::now();
    let activity = Arc::new(AtomicU64::new(0));
    let settings = |dir| PumpSettings {
        conn,
        dir,
        delay: config.delay,
        throttle_kbps: config.throttle_kbps,
        write_timeout: config.limits.write_timeout,
        recorder: recording.transcript.clone(),
        pcap: recording.pcap.clone(),
        activity: Arc::clone(&activity),
        epoch,
    };
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let both = async {
        tokio::try_join!(
            pump(
                client_read,
                server_write,
                settings(Direction::ClientToServer)
            ),
            pump(
                server_read,
                client_write,
                settings(Direction::ServerToClient)
            ),
        )
    };
    tokio::select! {
        result = both => match result {
            Ok(_) => "both sides finished",
            Err(err) => {
                tracing::info!(conn, error = %err, "dropping the connection");
                "one side failed"
            }
        },
        () = idle(&activity, epoch, config.limits.read_timeout) => "idle past the read deadline",
    }
}

/// Why `connect(2)` to the upstream failed, in words a user acts on.
fn unreachable_because(err: &std::io::Error) -> String {
    match err.kind() {
        std::io::ErrorKind::ConnectionRefused => {
            "refused the connection (is the server running on that port?)".to_string()
        }
        _ => format!("cannot be reached: {err}"),
    }
}

/// Closes the client with a reset (`SO_LINGER` 0, then `close(2)` sends RST): the client's
/// next read or write fails with `ECONNRESET`, instead of the clean end of stream a FIN
/// would give, which a client could take for an empty but successful answer.
fn reset(client: &TcpStream) {
    let _ = socket2::SockRef::from(client).set_linger(Some(Duration::ZERO));
}

/// Resolves once nothing has moved either way for `deadline`.
async fn idle(activity: &AtomicU64, epoch: Instant, deadline: Duration) {
    loop {
        let last = epoch + Duration::from_millis(activity.load(Ordering::Relaxed));
        if last.elapsed() >= deadline {
            return;
        }
        tokio::time::sleep_until(last + deadline).await;
    }
}

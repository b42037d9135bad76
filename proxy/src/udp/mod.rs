//! [`FaultProxy`]: a UDP proxy that loses, duplicates, reorders and delays datagrams on purpose,
//! so that clients can be tested against the network UDP really promises. (The kernel's own
//! tool for this, `tc qdisc ... netem`, is not available everywhere; this needs nothing.)
//!
//! ```text
//!  client A ──┐                     ┌── session 1: own socket, connect(2)ed to the server ──┐
//!  client B ──┼─> listen socket ────┤                                                       ├─> server
//!             │   (one, shared)     └── session 2: own socket ──────────────────────────────┘
//!             └<── replies go back through the listen socket, to the client of that session
//! ```
//!
//! Each client address gets a session with its own upstream socket, so the server sees one peer
//! per client and replies find their way back. A session unused for `idle` is closed; at most
//! `max_sessions` exist at once (more clients are refused: their datagrams dropped and counted).
//! Every fault is decided by [`faults::Faults::fate`] from the seed, so a run repeats exactly.
//!
//! ```text
//! terminal 1: udp echo-server --bind 127.0.0.1:7007
//! terminal 2: proxy udp --listen 127.0.0.1:7100 --to 127.0.0.1:7007 --loss 0.3 --seed 1
//! terminal 3: udp echo-client 127.0.0.1:7100 --retries 5   (lines come back, some after retries)
//! ```

pub mod error;
pub mod faults;
pub mod record;
mod relay;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use error::ProxyError;
use error::survivable;
pub use faults::{Fate, Faults};
use record::Recorder;
use relay::{Outlet, deliver, relay_replies};

use crate::pcap::write::UdpPcap;
use crate::transcript::Direction;

/// Receive buffer per socket: the largest UDP payload (65,507 bytes over IPv4) fits.
pub const MAX_DATAGRAM_BUFFER: usize = 65_536;

/// A session with no datagram in either direction for this long is closed.
pub const DEFAULT_IDLE: Duration = Duration::from_secs(30);

/// Most client sessions at once (each holds a socket and a task).
pub const DEFAULT_MAX_SESSIONS: usize = 256;

/// Most delayed datagrams waiting at once by default (`--max-delayed`); beyond this, datagrams
/// are dropped (and counted).
pub const MAX_DELAYED_IN_FLIGHT: usize = 4096;

/// On shutdown, datagrams already waiting on a delay still go out, for at most this long.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// What to proxy and how badly.
#[derive(Clone, Debug, PartialEq)]
pub struct ProxyConfig {
    /// Where clients send (port 0: any free port; see [`ProxyHandle::local_addr`]).
    pub listen: SocketAddr,
    /// The server behind the proxy.
    pub target: SocketAddr,
    /// Loss, duplication, reordering, delay and the seed.
    pub faults: Faults,
    /// Idle time after which a session closes.
    pub idle: Duration,
    /// Most sessions at once.
    pub max_sessions: usize,
    /// Most datagrams waiting on a delay at once.
    pub max_delayed: usize,
    /// Transcript file (`--record`), in the transcript format ([`crate::transcript`]).
    pub record: Option<PathBuf>,
    /// Capture file (`--pcap`): every datagram sent on, as a pcap packet ([`crate::pcap`]).
    pub pcap: Option<PathBuf>,
}

impl ProxyConfig {
    /// A faultless proxy from `listen` to `target` with default limits.
    pub fn new(listen: SocketAddr, target: SocketAddr) -> Self {
        Self {
            listen,
            target,
            faults: Faults::default(),
            idle: DEFAULT_IDLE,
            max_sessions: DEFAULT_MAX_SESSIONS,
            max_delayed: MAX_DELAYED_IN_FLIGHT,
            record: None,
            pcap: None,
        }
    }
}

/// Counters since the proxy started (both directions together).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProxyStats {
    /// Datagrams sent on (a duplicated one counts once here).
    pub forwarded: u64,
    /// Datagrams dropped on purpose (loss, or too many delayed at once).
    pub dropped: u64,
    /// Extra copies sent.
    pub duplicated: u64,
    /// Datagrams held back so later ones overtake them.
    pub reordered: u64,
    /// Datagrams sent after a wait (delay or reorder hold).
    pub delayed: u64,
    /// Sessions created.
    pub sessions_opened: u64,
    /// Sessions closed for idleness.
    pub sessions_expired: u64,
    /// Datagrams from new clients refused because `max_sessions` were open.
    pub refused: u64,
}

#[derive(Debug, Default)]
struct Counters {
    forwarded: AtomicU64,
    dropped: AtomicU64,
    duplicated: AtomicU64,
    reordered: AtomicU64,
    delayed: AtomicU64,
    sessions_opened: AtomicU64,
    sessions_expired: AtomicU64,
    refused: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> ProxyStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        ProxyStats {
            forwarded: get(&self.forwarded),
            dropped: get(&self.dropped),
            duplicated: get(&self.duplicated),
            reordered: get(&self.reordered),
            delayed: get(&self.delayed),
            sessions_opened: get(&self.sessions_opened),
            sessions_expired: get(&self.sessions_expired),
            refused: get(&self.refused),
        }
    }
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// What every task of one proxy shares.
struct Ctx {
    faults: Faults,
    counters: Counters,
    recorder: Option<Recorder>,
    pcap: Option<UdpPcap>,
    delayed: Arc<Semaphore>,
    max_delayed: usize,
    started: Instant,
}

impl Ctx {
    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }
}

/// The fault-injecting proxy; start one with [`FaultProxy::spawn`].
#[derive(Debug)]
pub struct FaultProxy;

impl FaultProxy {
    /// Binds the listen socket and runs the proxy in a tokio task until the handle shuts it
    /// down (or is dropped).
    ///
    /// # Errors
    /// [`ProxyError::BadFaults`] for a probability outside `[0, 1]`; [`ProxyError::Io`] if
    /// the listen address cannot be bound or the transcript or pcap file cannot be created.
    pub async fn spawn(config: ProxyConfig) -> Result<ProxyHandle, ProxyError> {
        config.faults.validate().map_err(ProxyError::BadFaults)?;
        let bind = |e| ProxyError::io(format!("bind {}", config.listen), e);
        let listen = UdpSocket::bind(config.listen).await.map_err(bind)?;
        let local_addr = listen.local_addr().map_err(bind)?;
        let recorder = match &config.record {
            Some(path) => Some(
                Recorder::create(path)
                    .map_err(|e| ProxyError::io(format!("create {}", path.display()), e))?,
            ),
            None => None,
        };
        let pcap = match &config.pcap {
            Some(path) => Some(
                UdpPcap::create(path, config.target)
                    .map_err(|e| ProxyError::io(format!("create {}", path.display()), e))?,
            ),
            None => None,
        };
        // Any count the user gives is accepted; beyond u32::MAX it makes no difference.
        let max_delayed = config.max_delayed.min(u32::MAX as usize);
        let ctx = Arc::new(Ctx {
            faults: config.faults.clone(),
            counters: Counters::default(),
            recorder,
            pcap,
            delayed: Arc::new(Semaphore::new(max_delayed)),
            max_delayed,
            started: Instant::now(),
        });
        let trigger = CancellationToken::new();
        let shutdown = trigger.clone();
        let proxy = Proxy {
            listen: Arc::new(listen),
            config,
            ctx: Arc::clone(&ctx),
            sessions: HashMap::new(),
            next_session: 1,
        };
        let task = tokio::spawn(proxy.run(shutdown));
        Ok(ProxyHandle {
            local_addr,
            ctx,
            trigger,
            task: Some(task),
        })
    }
}

/// A running proxy: its address, its counters, and the way to stop it.
pub struct ProxyHandle {
    local_addr: SocketAddr,
    ctx: Arc<Ctx>,
    trigger: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for ProxyHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyHandle")
            .field("local_addr", &self.local_addr)
            .field("stats", &self.stats())
            .finish()
    }
}

impl ProxyHandle {
    /// Where clients should send.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The counters right now.
    pub fn stats(&self) -> ProxyStats {
        self.ctx.counters.snapshot()
    }

    /// Stops the proxy: stops reading, lets delayed datagrams go out (at most
    /// [`SHUTDOWN_GRACE`]), closes every session, flushes the transcript, waits for the task.
    /// Returns the final counters.
    pub async fn shutdown(mut self) -> ProxyStats {
        self.trigger.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        self.stats()
    }
}

impl Drop for ProxyHandle {
    fn drop(&mut self) {
        self.trigger.cancel();
    }
}

/// One client's session.
struct Session {
    number: u64,
    upstream: Arc<UdpSocket>,
    sent_upstream: u64,
    last_active: Arc<AtomicU64>,
    reader: JoinHandle<()>,
}

/// The proxy's main task state: the listen socket and the session table.
struct Proxy {
    listen: Arc<UdpSocket>,
    config: ProxyConfig,
    ctx: Arc<Ctx>,
    sessions: HashMap<SocketAddr, Session>,
    next_session: u64,
}

impl Proxy {
    async fn run(mut self, shutdown: CancellationToken) {
        let mut buf = vec![0u8; MAX_DATAGRAM_BUFFER];
        let mut sweep = tokio::time::interval(
            (self.config.idle / 4).clamp(Duration::from_millis(10), Duration::from_secs(1)),
        );
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                _ = sweep.tick() => self.expire_idle(),
                received = self.listen.recv_from(&mut buf) => match received {
                    Ok((len, client)) => self.on_client_datagram(client, &buf[..len]).await,
                    Err(e) if survivable(&e) => tracing::warn!("proxy: receive: {e} (ignored)"),
                    Err(e) => {
                        tracing::error!("proxy: listen socket failed: {e}");
                        break;
                    }
                },
            }
        }
        self.drain_delayed().await;
        self.close_all();
    }

    /// Waits (at most [`SHUTDOWN_GRACE`]) until every delayed datagram has been sent.
    async fn drain_delayed(&self) {
        let all = u32::try_from(self.ctx.max_delayed).unwrap_or(u32::MAX); // clamped at spawn
        let _ = tokio::time::timeout(SHUTDOWN_GRACE, self.ctx.delayed.acquire_many(all)).await;
    }

    async fn on_client_datagram(&mut self, client: SocketAddr, bytes: &[u8]) {
        let now = self.ctx.now_ms();
        let Some(session) = self.session_for(client).await else {
            return;
        };
        session.last_active.store(now, Ordering::Relaxed);
        let index = session.sent_upstream;
        session.sent_upstream += 1;
        let (number, outlet) = (
            session.number,
            Outlet::Upstream(Arc::clone(&session.upstream), client),
        );
        let fate = self
            .ctx
            .faults
            .fate(number, Direction::ClientToServer, index);
        deliver(
            &self.ctx,
            outlet,
            number,
            Direction::ClientToServer,
            bytes,
            fate,
        )
        .await;
    }

    /// The client's session, created on its first datagram; `None` if refused or on error.
    async fn session_for(&mut self, client: SocketAddr) -> Option<&mut Session> {
        if !self.sessions.contains_key(&client) {
            if self.sessions.len() >= self.config.max_sessions {
                bump(&self.ctx.counters.refused);
                tracing::warn!(%client, "proxy: {} sessions open (limit); datagram dropped", self.sessions.len());
                return None;
            }
            let session = match self.open_session(client).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(%client, "proxy: cannot open session: {e}");
                    return None;
                }
            };
            self.sessions.insert(client, session);
        }
        self.sessions.get_mut(&client)
    }

    async fn open_session(&mut self, client: SocketAddr) -> std::io::Result<Session> {
        let any: IpAddr = match self.config.target {
            SocketAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
            SocketAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
        };
        // A connected UDP socket (`connect(2)`): the kernel then delivers only the server's
        // datagrams to it, and `send` needs no address.
        let upstream = UdpSocket::bind(SocketAddr::new(any, 0)).await?;
        upstream.connect(self.config.target).await?;
        let upstream = Arc::new(upstream);
        let number = self.next_session;
        self.next_session += 1;
        bump(&self.ctx.counters.sessions_opened);
        if let Some(r) = &self.ctx.recorder {
            r.open(number);
        }
        tracing::info!(%client, session = number, "proxy: new session");
        let last_active = Arc::new(AtomicU64::new(self.ctx.now_ms()));
        let reader = tokio::spawn(relay_replies(
            Arc::clone(&self.ctx),
            Arc::clone(&upstream),
            Arc::clone(&self.listen),
            client,
            number,
            Arc::clone(&last_active),
        ));
        Ok(Session {
            number,
            upstream,
            sent_upstream: 0,
            last_active,
            reader,
        })
    }

    fn expire_idle(&mut self) {
        let now = self.ctx.now_ms();
        let idle_ms = self.config.idle.as_millis() as u64;
        let expired: Vec<SocketAddr> = self
            .sessions
            .iter()
            .filter(|(_, s)| now.saturating_sub(s.last_active.load(Ordering::Relaxed)) >= idle_ms)
            .map(|(addr, _)| *addr)
            .collect();
        for client in expired {
            if let Some(session) = self.sessions.remove(&client) {
                tracing::info!(%client, session = session.number, "proxy: session idle, closed");
                bump(&self.ctx.counters.sessions_expired);
                self.close(session);
            }
        }
    }

    fn close(&self, session: Session) {
        session.reader.abort();
        if let Some(r) = &self.ctx.recorder {
            r.close(session.number);
        }
    }

    fn close_all(&mut self) {
        let mut sessions: Vec<Session> = self.sessions.drain().map(|(_, s)| s).collect();
        sessions.sort_by_key(|s| s.number);
        for session in sessions {
            self.close(session);
        }
        if let Some(r) = &self.ctx.recorder {
            r.flush();
        }
    }
}

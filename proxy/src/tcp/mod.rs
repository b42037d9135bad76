//! A TCP proxy: accept a client, connect to the real server, copy bytes both ways.
//!
//! A proxy is the smallest program that is a server and a client at once. This one can
//! also make the network worse on purpose (`--delay-ms`, `--throttle-kbps`) and write down
//! everything that went through it (`--record FILE`, a transcript in the format of
//! [`crate::transcript`], specified in the crate's `PROTOCOL.md`). It keeps TCP's half-close: when
//! one side shuts down its sending direction, the proxy passes the FIN on and keeps the
//! other direction open.
//!
//! System calls underneath: `accept(2)`, `connect(2)`, `read(2)`, `write(2)`,
//! `shutdown(2)` with `SHUT_WR` (half-close), `setsockopt(TCP_NODELAY)`.
//!
//! ```text
//! $ tcp echo-server --bind 127.0.0.1:7007 &
//! $ proxy tcp --listen 127.0.0.1:7100 --to 127.0.0.1:7007 --delay-ms 50 --record talk.txt
//! $ printf 'hi\n' | tcp echo-client 127.0.0.1:7100      # prints hi, 100 ms later
//! ```
//!
//! # Layout
//! - [`connection`]: one proxied connection, both directions, the idle deadline.
//! - [`pump`]: one direction: read, record, delay, throttle, write, pass on the FIN.
//! - [`shaping`]: the delay line and the throttle.
//! - [`recorder`]: joining read pieces into transcript records.
//! - [`serve`](mod@serve): the accept loop, the connection cap and the default limits.

pub mod connection;
pub mod pump;
pub mod recorder;
pub mod serve;
pub mod shaping;

use crate::pcap::write::TcpPcap;
use recorder::Recorder;
pub use serve::Limits;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Default time allowed to connect to the server (`--connect-timeout-ms`).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Largest accepted `--delay-ms` (one minute): more is surely a typo.
pub const MAX_DELAY: Duration = Duration::from_secs(60);

/// What the proxy forwards to and how it shapes the traffic.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// The server every client is forwarded to.
    pub to: SocketAddr,
    /// Latency added to every chunk in both directions.
    pub delay: Duration,
    /// Bandwidth cap per direction in kilobits per second (`None`: no cap).
    pub throttle_kbps: Option<u64>,
    /// How long connecting to the server may take.
    pub connect_timeout: Duration,
    /// Connection cap, the idle deadline (`read_timeout`: nothing moved either way), grace.
    pub limits: Limits,
}

impl ProxyConfig {
    /// A plain proxy to `to`: no delay, no throttle, default limits.
    pub fn new(to: SocketAddr) -> Self {
        ProxyConfig {
            to,
            delay: Duration::ZERO,
            throttle_kbps: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            limits: Limits::default(),
        }
    }
}

/// A proxy ready to serve a listener.
#[derive(Debug)]
pub struct Proxy {
    config: Arc<ProxyConfig>,
    recorder: Option<Arc<Recorder>>,
    pcap: Option<Arc<TcpPcap>>,
}

impl Proxy {
    /// A proxy with `config`, recording to `recorder` if given.
    pub fn new(config: ProxyConfig, recorder: Option<Recorder>) -> Self {
        Proxy {
            config: Arc::new(config),
            recorder: recorder.map(Arc::new),
            pcap: None,
        }
    }

    /// Also writes every connection to `pcap` (`--pcap FILE`).
    pub fn with_pcap(mut self, pcap: TcpPcap) -> Self {
        self.pcap = Some(Arc::new(pcap));
        self
    }

    /// Serves `listener` until `shutdown` is cancelled; open connections then get the grace
    /// period to finish, and the transcript is flushed.
    pub async fn serve(self, listener: TcpListener, shutdown: CancellationToken) {
        let next_conn = AtomicU64::new(1);
        let Proxy {
            config,
            recorder,
            pcap,
        } = self;
        let limits = config.limits;
        let for_tasks = recorder.clone();
        serve::serve(listener, limits, shutdown, move |client, peer| {
            // Connections are numbered in the order they were accepted.
            let conn = next_conn.fetch_add(1, Ordering::Relaxed);
            let recording = connection::Recording {
                transcript: for_tasks.clone(),
                pcap: pcap.clone(),
            };
            connection::run(client, peer, conn, Arc::clone(&config), recording)
        })
        .await;
        if let Some(recorder) = recorder {
            recorder.flush();
        }
    }
}

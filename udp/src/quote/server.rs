//! [`QuoteServer`]: answers each request with the next quote; a retried request (same peer, same
//! id) gets the same quote again from a bounded reply cache, so retries are harmless.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio_util::sync::CancellationToken;

use super::book::QuoteBook;
use super::wire::{MAX_REQUEST_LEN, Message, REQUEST_LEN, cut};
use crate::async_socket::AsyncDatagramSocket;
use crate::error::Result;
use support::log::Throttle;

/// Answers remembered for retried requests by default (oldest forgotten first); change with
/// [`QuoteServer::with_cache_entries`] (`--cache-entries`).
pub const REPLY_CACHE_ENTRIES: usize = 1024;

/// Receive buffer: the longest request. `MSG_TRUNC` reports anything longer with its true
/// length, and it is dropped.
pub const MAX_REQUEST_READ: usize = MAX_REQUEST_LEN;

/// Warning lines per second about peers' datagrams (dropped garbage, failed sends); the rest
/// are counted and summarised, so a flood cannot fill the disk or slow the answers.
pub const WARNINGS_PER_SECOND: u32 = 10;

static PEER_WARNINGS: Throttle = Throttle::per_second(WARNINGS_PER_SECOND);

/// Counters of a quote server.
#[derive(Debug, Default)]
pub struct QuoteStats {
    /// Quotes sent for new requests.
    pub served: AtomicU64,
    /// Requests answered again from the cache (retries and duplicates).
    pub repeated: AtomicU64,
    /// Requests too short for their quote, answered with a (short) "pad the request" error.
    pub too_short: AtomicU64,
    /// Datagrams that were not requests (garbage, empty, replies, too long): no reply.
    pub dropped: AtomicU64,
}

/// Remembers which quote number went to which (peer, request id).
#[derive(Debug)]
struct ReplyCache {
    capacity: usize,
    map: HashMap<(SocketAddr, u32), u32>,
    order: VecDeque<(SocketAddr, u32)>,
}

impl ReplyCache {
    fn new(capacity: usize) -> Self {
        Self {
            capacity,
            map: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    fn get(&self, key: &(SocketAddr, u32)) -> Option<u32> {
        self.map.get(key).copied()
    }

    fn insert(&mut self, key: (SocketAddr, u32), number: u32) {
        if self.capacity == 0 {
            return;
        }
        if self.order.len() >= self.capacity
            && let Some(old) = self.order.pop_front()
        {
            self.map.remove(&old);
        }
        self.order.push_back(key);
        self.map.insert(key, number);
    }
}

/// The quote server.
#[derive(Debug)]
pub struct QuoteServer {
    socket: AsyncDatagramSocket,
    book: QuoteBook,
    next: u32,
    cache: ReplyCache,
    stats: Arc<QuoteStats>,
}

impl QuoteServer {
    /// Binds the server socket.
    pub async fn bind(addr: SocketAddr, book: QuoteBook) -> Result<Self> {
        Ok(Self {
            socket: AsyncDatagramSocket::bind(addr).await?,
            book,
            next: 0,
            cache: ReplyCache::new(REPLY_CACHE_ENTRIES),
            stats: Arc::default(),
        })
    }

    /// Remembers at most `entries` answers for retried requests (0: none, every retry gets
    /// a new quote).
    pub fn with_cache_entries(mut self, entries: usize) -> Self {
        self.cache = ReplyCache::new(entries);
        self
    }

    /// The bound address.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// Counters shared with the running server.
    pub fn stats(&self) -> Arc<QuoteStats> {
        Arc::clone(&self.stats)
    }

    /// Serves until `shutdown` is cancelled or a fatal socket error.
    pub async fn run(mut self, shutdown: CancellationToken) -> Result<()> {
        let mut buf = [0u8; MAX_REQUEST_READ];
        loop {
            let info = tokio::select! {
                received = self.socket.recv_from(&mut buf) => received,
                _ = shutdown.cancelled() => return Ok(()),
            };
            let outcome = match info {
                Ok(info) => match self.answer(&buf[..info.len], info.datagram_len, info.peer) {
                    Some(reply) => self.socket.send_to(&reply, info.peer).await.map(drop),
                    None => Ok(()),
                },
                Err(e) => Err(e),
            };
            match outcome {
                Err(e) if e.is_per_datagram() => {
                    support::warn_throttled!(PEER_WARNINGS, "quote: {e} (ignored)");
                }
                other => other?,
            }
        }
    }

    /// The reply to one datagram from `peer`, never longer than the datagram: a quote, a
    /// "pad the request" error cut to the request's length, or nothing for anything that is
    /// not a request (garbage earns no reply; answering replies could start an endless
    /// ping-pong between two servers).
    fn answer(&mut self, bytes: &[u8], datagram_len: usize, peer: SocketAddr) -> Option<Vec<u8>> {
        if datagram_len > bytes.len() {
            return self.drop_datagram(
                peer,
                format_args!("{datagram_len} bytes, longer than any request"),
            );
        }
        let id = match Message::decode(bytes) {
            Ok(Message::Request { id }) => id,
            Ok(reply) => return self.drop_datagram(peer, format_args!("a reply: {reply:?}")),
            Err(e) => return self.drop_datagram(peer, format_args!("{e}")),
        };
        let cached = self.cache.get(&(peer, id));
        let number = cached.unwrap_or(self.next);
        let text = self.book.get(number).to_string();
        let reply = Message::Quote { id, number, text }.encode();
        if reply.len() > bytes.len() {
            return Some(self.ask_for_padding(id, reply.len(), bytes.len()));
        }
        if cached.is_some() {
            self.stats.repeated.fetch_add(1, Ordering::Relaxed);
        } else {
            self.commit_next(peer, id);
        }
        Some(reply)
    }

    /// Counts and (rate-limited) logs a datagram that gets no reply.
    fn drop_datagram(&self, peer: SocketAddr, what: std::fmt::Arguments<'_>) -> Option<Vec<u8>> {
        self.stats.dropped.fetch_add(1, Ordering::Relaxed);
        support::warn_throttled!(PEER_WARNINGS, %peer, "quote: dropped datagram, no reply: {what}");
        None
    }

    /// Hands out the next quote number to `(peer, id)` and remembers it for retries.
    fn commit_next(&mut self, peer: SocketAddr, id: u32) {
        let number = self.next;
        self.next = (self.next + 1) % self.book.len() as u32;
        self.cache.insert((peer, id), number);
        self.stats.served.fetch_add(1, Ordering::Relaxed);
    }

    /// An error saying how long the request must be, cut so it is no longer than the request
    /// (for a bare 5-byte request: just `'E'` and the id).
    fn ask_for_padding(&self, id: u32, needed: usize, got: usize) -> Vec<u8> {
        self.stats.too_short.fetch_add(1, Ordering::Relaxed);
        let why = format!("pad the request to {needed} bytes");
        let message = cut(&why, got - REQUEST_LEN).to_string();
        Message::Error { id, message }.encode()
    }
}

//! [`QuoteServer`]: answers each request with the next quote; a retried request (same peer, same
//! id) gets the same quote again from a bounded reply cache, so retries are harmless.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::book::QuoteBook;
use super::wire::{Message, REQUEST_LEN};
use crate::async_socket::AsyncDatagramSocket;
use crate::error::Result;
use crate::shutdown::Shutdown;

/// Answers remembered for retried requests by default (oldest forgotten first); change with
/// [`QuoteServer::with_cache_entries`] (`--cache-entries`).
pub const REPLY_CACHE_ENTRIES: usize = 1024;

/// Longest request datagram read; anything longer is truncated and refused.
pub const MAX_REQUEST_READ: usize = 512;

/// Counters of a quote server.
#[derive(Debug, Default)]
pub struct QuoteStats {
    /// Quotes sent for new requests.
    pub served: AtomicU64,
    /// Requests answered again from the cache (retries and duplicates).
    pub repeated: AtomicU64,
    /// Datagrams refused with an error reply.
    pub refused: AtomicU64,
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

    /// Serves until `shutdown` fires or a fatal socket error.
    pub async fn run(mut self, mut shutdown: Shutdown) -> Result<()> {
        let mut buf = [0u8; MAX_REQUEST_READ];
        loop {
            let info = tokio::select! {
                received = self.socket.recv_from(&mut buf) => received,
                _ = shutdown.fired() => return Ok(()),
            };
            let outcome = match info {
                Ok(info) => match self.answer(&buf[..info.len], info.datagram_len, info.peer) {
                    Some(reply) => self.socket.send_to(&reply, info.peer).await.map(drop),
                    None => Ok(()),
                },
                Err(e) => Err(e),
            };
            match outcome {
                Err(e) if e.is_per_datagram() => tracing::warn!("quote: {e} (ignored)"),
                other => other?,
            }
        }
    }

    /// The reply to one datagram from `peer`: a quote, an error for garbage, or nothing for a
    /// datagram that is itself a reply (answering it could start an endless ping-pong between
    /// two servers).
    fn answer(&mut self, bytes: &[u8], datagram_len: usize, peer: SocketAddr) -> Option<Vec<u8>> {
        if datagram_len > bytes.len() {
            let why = format!("request of {datagram_len} bytes; expected exactly {REQUEST_LEN}");
            return Some(self.refuse(bytes, why, peer));
        }
        let id = match Message::decode(bytes) {
            Ok(Message::Request { id }) => id,
            Ok(reply) => {
                tracing::warn!(%peer, "quote: ignored a reply sent to the server: {reply:?}");
                return None;
            }
            Err(e) => return Some(self.refuse(bytes, e.to_string(), peer)),
        };
        let number = match self.cache.get(&(peer, id)) {
            Some(number) => {
                self.stats.repeated.fetch_add(1, Ordering::Relaxed);
                number
            }
            None => self.next_number(peer, id),
        };
        let text = self.book.get(number).to_string();
        Some(Message::Quote { id, number, text }.encode())
    }

    fn next_number(&mut self, peer: SocketAddr, id: u32) -> u32 {
        let number = self.next;
        self.next = (self.next + 1) % self.book.len() as u32;
        self.cache.insert((peer, id), number);
        self.stats.served.fetch_add(1, Ordering::Relaxed);
        number
    }

    fn refuse(&self, bytes: &[u8], why: String, peer: SocketAddr) -> Vec<u8> {
        self.stats.refused.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(%peer, "quote: refused datagram: {why}");
        let id = super::wire::reply_id_of_request(bytes).unwrap_or(0);
        Message::Error { id, message: why }.encode()
    }
}

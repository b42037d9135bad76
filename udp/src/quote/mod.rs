//! The quote service: the Java tutorial's `QuoteServer` / `QuoteClient`, done properly.
//!
//! The tutorial's client sends an empty 256-byte packet and the server answers with the next
//! line of a file. Done properly means: requests carry an id so a client can match replies and
//! retry safely; a retried request gets the *same* quote back (the server remembers recent
//! answers: an idempotent reply cache); a reply always fits in one small datagram and is never
//! longer than the request (the client pads it, so a forged sender address cannot amplify
//! traffic); garbage gets no reply. The wire format is in `PROTOCOL.md`, encoded in [`wire`].
//!
//! ```text
//! terminal 1: udp quote-server                  -> listening on 127.0.0.1:7017
//! terminal 2: udp quote-client 127.0.0.1:7017   -> #0 Simplicity is prerequisite for reliability. ...
//! ```

pub mod book;
pub mod server;
pub mod wire;

pub use book::QuoteBook;
pub use server::QuoteServer;
pub use wire::{Message, WireError};

use crate::client::RetryClient;
use crate::error::Result;

/// Default quote port (QOTD, RFC 865, is 17 and needs privileges; this suite uses 7017).
pub const DEFAULT_PORT: u16 = 7017;

/// A quote as the client sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QuoteReply {
    /// The server's quote number and text.
    Quote {
        /// Position of the quote in the server's book.
        number: u32,
        /// The quote.
        text: String,
    },
    /// The server refused the request and said why.
    Refused(String),
}

/// Asks for one quote with request id `id` (padded to earn any reply), retrying through
/// `client`'s policy.
pub fn fetch_quote(client: &mut RetryClient, id: u32) -> Result<QuoteReply> {
    let request = wire::padded_request(id);
    let reply = client.request(&request, |bytes| wire::reply_id(bytes) == Some(id))?;
    Ok(match Message::decode(&reply) {
        Ok(Message::Quote { number, text, .. }) => QuoteReply::Quote { number, text },
        Ok(Message::Error { message, .. }) => QuoteReply::Refused(message),
        Ok(Message::Request { .. }) => QuoteReply::Refused("server sent a request".into()),
        Err(e) => QuoteReply::Refused(format!("malformed reply: {e}")),
    })
}

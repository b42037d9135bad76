//! # rpc-lite: a remote procedure call you can read in an afternoon
//!
//! A remote procedure call hides the network behind a function call: the client calls
//! a method on a **stub**, the stub **marshals** the arguments into bytes, the server's
//! **skeleton** unmarshals them, calls the real function, and sends the result back.
//! This crate makes each step visible and small:
//!
//! - [`service!`] declares a service with numbered procedures and generates the server
//!   trait, the skeleton ([`Dispatch`]) and the client stub;
//! - [`message`] is the wire format: a 36-byte header (magic, the sender's data
//!   representation label, kind, **call id**, program, version, procedure, **deadline**)
//!   and a body marshalled with `framing`'s [`framing::Wire`]; receivers decode callers
//!   of either byte order and word size and reply in the caller's representation;
//! - [`tcp_transport`] carries many calls at once over one connection (frames from
//!   `framing`, server plumbing from the `tcp` crate); [`udp_transport`] sends one
//!   datagram per message, retransmits, and executes each call **at most once** with a
//!   reply cache (sockets from the `udp` crate).
//!
//! Underneath: `socket(2)`, `connect(2)`, `send(2)`/`recv(2)` on TCP (`tcp(7)`),
//! `sendto(2)`/`recvfrom(2)` on UDP (`udp(7)`). Related designs: ONC RPC (RFC 5531,
//! with XDR, RFC 4506), DCE/RPC's NDR ("receiver makes right"), Java RMI, gRPC.
//! The wire format is specified in `PROTOCOL.md`.
//!
//! # Layout
//! - [`message`]: header layout, kinds, encode/decode (marshalling of the envelope).
//! - [`error`]: [`Fault`] and [`ErrorCode`] on the wire; [`RpcError`], [`CallError`] for callers.
//! - [`service`](mod@service): the [`service!`] macro and the [`Dispatch`] (skeleton) trait.
//! - [`registry`]: the server's program table, version checks, introspection.
//! - [`stub`]: [`Stub`], the generic half of every client stub.
//! - [`channel`]: [`Channel`], TCP or UDP, as the stub sees it.
//! - [`pending`]: the call id table that matches replies to calls.
//! - [`deadline`]: deadlines as relative durations.
//! - [`tcp_transport`]: multiplexed calls over one TCP connection.
//! - [`udp_transport`]: retransmission and the at-most-once reply cache.
//! - [`handle`]: [`ServerHandle`] for servers running in the background.
//! - [`dump`]: annotated hex dumps of messages.
#![forbid(unsafe_code)]

pub mod channel;
pub mod deadline;
pub mod dump;
pub mod error;
pub mod handle;
pub mod message;
pub mod pending;
pub mod registry;
pub mod service;
pub mod stub;
pub mod tcp_transport;
pub mod udp_transport;

/// Re-exported for the code [`service!`] generates.
pub use bytes;
/// Re-exported for the code [`service!`] generates.
pub use framing;

pub use channel::{Channel, Transport};
pub use error::{CallError, ErrorCode, Fault, RpcError};
pub use handle::ServerHandle;
pub use message::{Header, Kind, Message};
pub use registry::{Description, Registry, ServerStats};
pub use service::{Dispatch, Outcome, ProcedureInfo, ReplyFuture, decode_args, encode_outcome};
pub use stub::Stub;

//! What does an RPC stub do? Here one is written by hand, beside what `service!`
//! generates for the same declaration.
//!
//! - The **skeleton** (server side) is a [`Dispatch`]: given a procedure number and the
//!   argument bytes, it unmarshals the arguments, calls the real function and marshals
//!   the result (or the application error) in the caller's representation.
//! - The **stub** (client side) is one method per procedure over [`Stub::call`], which
//!   marshals the arguments, sends the call, waits for the reply and unmarshals it.
//!
//! `tests/stub_by_hand.rs` checks that the hand-written pair and the generated pair put
//! the same bytes on the wire, both ways.
//!
//! ```text
//! cargo run -p rpc-lite --example stub_by_hand
//! hand-written stub -> hand-written skeleton: 2 + 3 = 5
//! generated stub    -> hand-written skeleton: 2 + 3 = 5
//! hand-written stub -> hand-written skeleton: 9223372036854775807 + 1 -> overflow
//! ```
#![forbid(unsafe_code)]

use std::fmt;

use bytes::{Bytes, BytesMut};
use framing::{Profile, Wire, WireError};
use rpc_lite::{CallError, Channel, Registry};

/// The program number both versions of the calculator use.
pub const PROGRAM: u32 = 0x2000_0043;
/// Procedure 1.
pub const ADD: u32 = 1;

/// The calculator's own error, carried back as a value (no fields: its tag says it all).
#[derive(Debug, PartialEq, Eq)]
pub struct Overflow;

impl fmt::Display for Overflow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("overflow")
    }
}

impl Wire for Overflow {
    fn encode(&self, _: &mut BytesMut, _: Profile) -> Result<(), WireError> {
        Ok(())
    }
    fn decode(_: &mut Bytes, _: Profile) -> Result<Self, WireError> {
        Ok(Overflow)
    }
}

/// The real function: no networking in sight.
pub fn add(a: i64, b: i64) -> Result<i64, Overflow> {
    a.checked_add(b).ok_or(Overflow)
}

/// Written by hand: what `service!` would generate, spelled out.
pub mod by_hand {
    use rpc_lite::{
        CallError, Dispatch, ProcedureInfo, ReplyFuture, Stub, decode_args, encode_outcome,
    };

    use super::*;

    /// The skeleton: procedure number and argument bytes in, result bytes out.
    pub struct CalcSkeleton;

    impl Dispatch for CalcSkeleton {
        fn name(&self) -> &'static str {
            "calc"
        }
        fn program(&self) -> u32 {
            PROGRAM
        }
        fn version(&self) -> u32 {
            1
        }
        fn procedures(&self) -> Vec<ProcedureInfo> {
            vec![ProcedureInfo {
                number: ADD,
                name: "add".into(),
                signature: "add(a: i64, b: i64) -> i64".into(),
            }]
        }
        fn dispatch(&self, procedure: u32, args: Bytes, profile: Profile) -> Option<ReplyFuture> {
            match procedure {
                ADD => Some(Box::pin(async move {
                    // Unmarshal (garbage arguments become BAD_REQUEST), call, marshal.
                    let (a, b): (i64, i64) = decode_args(args, profile)?;
                    encode_outcome(add(a, b), profile)
                })),
                _ => None, // the registry answers UNKNOWN_PROCEDURE
            }
        }
    }

    /// The stub: one method per procedure, each a call of [`Stub::call`] with the
    /// procedure number and the argument tuple.
    #[derive(Clone)]
    pub struct CalcClient {
        /// The generic half every stub shares (channel, timeout, representation).
        pub stub: Stub,
    }

    impl CalcClient {
        /// A stub for the calculator's version 1 over `channel`.
        pub fn new(channel: Channel) -> CalcClient {
            CalcClient {
                stub: Stub::new(channel, PROGRAM, 1),
            }
        }

        /// `add(a, b)`, run on the server.
        pub async fn add(&self, a: i64, b: i64) -> Result<i64, CallError<Overflow>> {
            self.stub.call(ADD, &(a, b)).await
        }
    }
}

/// Generated: the same declaration through `service!`.
pub mod generated {
    use super::*;

    rpc_lite::service! {
        /// A calculator with one procedure.
        pub mod calc(program = 0x2000_0043, version = 1, error = Overflow) {
            /// `a + b`, or Overflow.
            fn add(a: i64, b: i64) -> i64 = 1;
        }
    }

    /// The implementation the generated skeleton calls.
    pub struct Calc;

    impl calc::Service for Calc {
        async fn add(&self, a: i64, b: i64) -> Result<i64, Overflow> {
            super::add(a, b)
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let registry = Registry::new().with(by_hand::CalcSkeleton);
    let (channel, server) = Channel::in_process(registry).await?;
    let hand = by_hand::CalcClient::new(channel.clone());
    let generated = generated::calc::Client::new(channel);
    println!(
        "hand-written stub -> hand-written skeleton: 2 + 3 = {}",
        hand.add(2, 3).await?
    );
    println!(
        "generated stub    -> hand-written skeleton: 2 + 3 = {}",
        generated.add(2, 3).await?
    );
    match hand.add(i64::MAX, 1).await {
        Err(CallError::App(e)) => println!(
            "hand-written stub -> hand-written skeleton: {} + 1 -> {e}",
            i64::MAX
        ),
        other => println!("unexpected: {other:?}"),
    }
    server.shutdown().await;
    Ok(())
}

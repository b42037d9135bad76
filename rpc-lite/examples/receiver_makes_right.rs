//! "Receiver makes right": the same call from a big-endian 32-bit machine and from a
//! little-endian 64-bit one, byte by byte, and the server's answers in each caller's
//! own representation.
//!
//! ```text
//! cargo run -p rpc-lite --example receiver_makes_right
//! ```
//! Prints two annotated call/reply pairs: the label at offset 4 (`4c 01 00 04` vs
//! `4c 01 01 08`) says how every later number is written; `Long` arguments take 4 bytes
//! from the 32-bit caller and 8 from the 64-bit one.

#![forbid(unsafe_code)]

/// The demo service, shared with the binary (it is not part of the library).
#[allow(dead_code)]
#[path = "../src/cli/demo_service.rs"]
mod demo_service;

use demo_service::{DEMO_PROGRAM, DemoService, demo};
use framing::{Long, Profile, to_bytes};
use rpc_lite::dump::annotated;
use rpc_lite::registry::{Started, poll_once, reply_message};
use rpc_lite::{Header, Kind, Message, Registry};

fn main() -> anyhow::Result<()> {
    let registry = Registry::new().with(demo::Server::new(DemoService::default()));
    for profile in [Profile::BE32, Profile::LE64] {
        let header = Header {
            profile,
            kind: Kind::Call,
            call_id: 1,
            program: DEMO_PROGRAM,
            version: 1,
            procedure: demo::procedure::add,
            deadline_ms: 5000,
        };
        let call = Message::new(header, to_bytes(&(Long(2), Long(3)), profile)?);
        println!(
            "== add(2, 3) from a {profile} caller ==\n{}",
            annotated(&call)
        );
        let outcome = match registry.start(call) {
            Started::Now(outcome) => outcome,
            Started::Running(running) => match poll_once(running) {
                Ok(outcome) => outcome,
                Err(_) => anyhow::bail!("add does not wait"),
            },
        };
        let reply = reply_message(&header, outcome, usize::MAX);
        println!(
            "== the server's reply, in {profile} ==\n{}",
            annotated(&reply)
        );
    }
    Ok(())
}

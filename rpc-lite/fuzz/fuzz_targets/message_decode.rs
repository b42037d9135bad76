//! Fuzzes message decoding as a server meets it: arbitrary bytes as one message (a
//! frame's payload or a datagram). Invariants: nothing panics; whatever decodes
//! re-encodes to the same bytes; a decoded call, dispatched to the demo service (every
//! procedure's argument decoder), yields an answer that itself decodes, answers the
//! same call id, and is written in the caller's representation; fault bodies and
//! the demo's error values decode without panicking.
#![no_main]

use std::sync::OnceLock;

use bytes::Bytes;
use framing::Wire;
use libfuzzer_sys::fuzz_target;
use demo_service::{DemoError, DemoService, demo};

/// The demo service, shared with the binary (it is not part of the library).
#[allow(dead_code)]
#[path = "../../src/cli/demo_service.rs"]
mod demo_service;
use rpc_lite::registry::{Started, poll_once, reply_message};
use rpc_lite::{Description, Fault, Kind, Message, Registry};

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
    })
}

fn registry() -> &'static Registry {
    static REG: OnceLock<Registry> = OnceLock::new();
    REG.get_or_init(|| Registry::new().with(demo::Server::new(DemoService::new(64))))
}

fuzz_target!(|data: &[u8]| {
    let _guard = runtime().enter();
    let bytes = Bytes::copy_from_slice(data);
    let Ok(message) = Message::decode(bytes.clone()) else {
        return;
    };
    assert_eq!(
        message.to_bytes(),
        bytes,
        "decode then encode is the identity"
    );
    let p = message.header.profile;
    let _ = Fault::decode(message.body.clone(), p);
    let _ = DemoError::decode(&mut message.body.clone(), p);
    let _ = Description::decode(&mut message.body.clone(), p);
    if message.header.kind != Kind::Call {
        return;
    }
    let call = message.header;
    let outcome = match registry().start(message) {
        Started::Now(outcome) => outcome,
        Started::Running(running) => match poll_once(running) {
            Ok(outcome) => outcome,
            Err(_still_running) => return, // sleep: dropped, as a server drops at a deadline
        },
    };
    let answer = reply_message(&call, outcome, 1 << 20);
    let back = Message::decode(answer.to_bytes()).expect("our own answers decode");
    assert_eq!(back.header.call_id, call.call_id);
    assert_eq!(
        back.header.profile, call.profile,
        "answers use the caller's representation"
    );
    assert_ne!(back.header.kind, Kind::Call);
    if back.header.kind == Kind::Error {
        Fault::decode(back.body, call.profile).expect("our own faults decode");
    }
});

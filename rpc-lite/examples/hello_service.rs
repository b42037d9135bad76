//! Declare a service, serve it, call it: the whole RPC idea in one file.
//!
//! `service!` generates the server trait (`greeter::Service`), the skeleton
//! (`greeter::Server`) and the stub (`greeter::Client`). The server runs on a free
//! loopback port in this process; the client calls it over TCP.
//!
//! ```text
//! cargo run -p rpc-lite --example hello_service
//! hello, ada (call 1)
//! hello, grace (call 2)
//! error: names must not be empty
//! ```
//! Across two terminals or machines, use `rpc-lite serve` and `rpc-lite call` instead.
#![forbid(unsafe_code)]

use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};

use bytes::{Bytes, BytesMut};
use framing::{Profile, Wire, WireError};
use rpc_lite::{CallError, Channel, Registry, service};

/// The greeter's own error: sent back to the caller as a value.
#[derive(Debug)]
pub struct EmptyName;

impl fmt::Display for EmptyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("names must not be empty")
    }
}

impl Wire for EmptyName {
    fn encode(&self, _: &mut BytesMut, _: Profile) -> Result<(), WireError> {
        Ok(()) // no fields: the error code says it all
    }
    fn decode(_: &mut Bytes, _: Profile) -> Result<Self, WireError> {
        Ok(EmptyName)
    }
}

service! {
    /// Greets people and counts the greetings.
    pub mod greeter(program = 0x2000_0042, version = 1, error = EmptyName) {
        /// Greets `name`; returns the greeting and its sequence number.
        fn hello(name: String) -> (String, u32) = 1;
    }
}

/// The implementation: ordinary Rust, no networking in sight.
#[derive(Default)]
struct Greeter {
    count: AtomicU32,
}

impl greeter::Service for Greeter {
    async fn hello(&self, name: String) -> Result<(String, u32), EmptyName> {
        if name.is_empty() {
            return Err(EmptyName);
        }
        let n = self.count.fetch_add(1, Ordering::Relaxed) + 1;
        Ok((format!("hello, {name}"), n))
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let registry = Registry::new().with(greeter::Server::new(Greeter::default()));
    let (channel, server) = Channel::in_process(registry).await?;
    let client = greeter::Client::new(channel);
    for name in ["ada", "grace", ""] {
        match client.hello(name.to_string()).await {
            Ok((greeting, n)) => println!("{greeting} (call {n})"),
            Err(CallError::App(e)) => println!("error: {e}"),
            Err(CallError::Rpc(e)) => return Err(e.into()),
        }
    }
    server.shutdown().await;
    Ok(())
}

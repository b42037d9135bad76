//! The echo part of `tcp demo`: the same conversation with the blocking and the async
//! server, including the half-close that RFC 862 echo over TCP depends on.

use std::io::{Read, Write};
use std::net::SocketAddr;

use super::DemoResult;
use tcp::echo::{EchoServer, Mode};
use tcp::server::ServerLimits;
use tcp::server::shutdown::listening_line;
use tcp::socket::Socket;

/// Writes the echo part of the demo transcript to `out`.
///
/// # Errors
/// If a server cannot start or a reply differs from what was sent.
pub fn run(out: &mut dyn Write) -> DemoResult {
    for (mode, title) in [
        (
            Mode::Blocking,
            "echo, blocking: one OS thread per connection",
        ),
        (
            Mode::Async,
            "echo, async: tokio tasks over non-blocking sockets",
        ),
    ] {
        writeln!(out, "== {title} ==")?;
        conversation(mode, out)?;
        writeln!(out)?;
    }
    Ok(())
}

/// Starts a server in `mode`, talks to it, stops it, narrating each step.
fn conversation(mode: Mode, out: &mut dyn Write) -> DemoResult {
    let loopback: SocketAddr = "127.0.0.1:0".parse()?;
    let server = EchoServer::start(mode, loopback, ServerLimits::default())?;
    writeln!(out, "server  {}", listening_line(server.local_addr()))?;
    let mut client = Socket::connect(&server.local_addr().to_string(), None)?;
    client.set_tcp_no_delay(true)?;
    writeln!(out, "client  connected from {}", client.local_addr()?)?;

    let hello = b"hello, echo\n";
    client.write_all(hello)?;
    writeln!(out, "client  -> {}", show(hello))?;
    let mut back = vec![0u8; hello.len()];
    client.read_exact(&mut back)?;
    writeln!(out, "client  <- {}", show(&back))?;
    check(hello, &back)?;

    let last = b"the last line\n";
    client.write_all(last)?;
    client.shutdown_output()?;
    writeln!(
        out,
        "client  -> {} then shutdown(SHUT_WR): nothing more to send",
        show(last)
    )?;
    let mut rest = Vec::new();
    client.read_to_end(&mut rest)?;
    writeln!(
        out,
        "client  <- {} then end-of-stream: the server owed nothing more",
        show(&rest)
    )?;
    check(last, &rest)?;

    server.stop()?;
    writeln!(out, "server  stopped")?;
    Ok(())
}

/// `"text\n" (N bytes)`, with escapes for control characters.
fn show(bytes: &[u8]) -> String {
    format!(
        "{:?} ({} bytes)",
        String::from_utf8_lossy(bytes),
        bytes.len()
    )
}

/// Fails the demo when the echo differs from what was sent.
fn check(sent: &[u8], got: &[u8]) -> DemoResult {
    if sent == got {
        Ok(())
    } else {
        Err(format!("echo differs: sent {}, got {}", show(sent), show(got)).into())
    }
}

//! The chat part of `tcp demo`: three members in one room, every line they send and get.
//!
//! The server runs on a tokio runtime in the background; the three members are plain
//! blocking sockets driven step by step, and each step waits for the lines it causes, so
//! the transcript is the same on every run (only the port changes).

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::time::Duration;

use super::DemoResult;
use tcp::chat::{ChatConfig, ChatServer};
use tcp::server::CancellationToken;
use tcp::server::shutdown::listening_line;
use tcp::socket::Socket;

/// How long the demo waits for any one line before it gives up.
const LINE_TIMEOUT: Duration = Duration::from_secs(5);

/// One member: a name for the transcript and a connection.
struct Member {
    name: &'static str,
    socket: Socket,
    lines: BufReader<Socket>,
}

impl Member {
    fn connect(
        name: &'static str,
        addr: SocketAddr,
    ) -> Result<Member, Box<dyn std::error::Error + Send + Sync>> {
        let socket = Socket::connect_addr(addr, Some(LINE_TIMEOUT))?;
        socket.set_tcp_no_delay(true)?;
        socket.set_so_timeout(Some(LINE_TIMEOUT))?;
        let lines = BufReader::new(socket.try_clone()?);
        Ok(Member {
            name,
            socket,
            lines,
        })
    }

    /// Sends one line and narrates it.
    fn say(&mut self, line: &str, out: &mut dyn Write) -> DemoResult {
        self.socket.write_all(format!("{line}\n").as_bytes())?;
        writeln!(out, "{:<7} -> {line:?}", self.name)?;
        Ok(())
    }

    /// Reads the next line and narrates it; fails unless it is `expected`.
    fn hears(&mut self, expected: &str, out: &mut dyn Write) -> DemoResult {
        let mut line = String::new();
        self.lines.read_line(&mut line)?;
        let line = line.trim_end_matches('\n');
        writeln!(out, "{:<7} <- {line:?}", self.name)?;
        if line != expected {
            return Err(format!("{} expected {expected:?}, got {line:?}", self.name).into());
        }
        Ok(())
    }

    /// Reads to end of stream and narrates it.
    fn hears_the_end(&mut self, out: &mut dyn Write) -> DemoResult {
        let mut rest = String::new();
        self.lines.read_line(&mut rest)?;
        if !rest.is_empty() {
            return Err(
                format!("{} expected the end of the stream, got {rest:?}", self.name).into(),
            );
        }
        writeln!(out, "{:<7} <- end of stream", self.name)?;
        Ok(())
    }
}

/// Writes the chat part of the demo transcript to `out`.
///
/// # Errors
/// If the server cannot start or a member hears something other than the script says.
pub fn run(out: &mut dyn Write) -> DemoResult {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let addr = listener.local_addr()?;
    let stop = CancellationToken::new();
    let server =
        runtime.spawn(ChatServer::new(ChatConfig::default()).serve(listener, stop.clone()));
    writeln!(
        out,
        "== chat: three members in one room (protocol: tcp/PROTOCOL.md) =="
    )?;
    writeln!(out, "server  {}", listening_line(addr))?;
    let script = conversation(addr, &stop, out);
    stop.cancel();
    runtime.block_on(server)?;
    script?;
    writeln!(out, "server  stopped")?;
    Ok(())
}

/// The script: joins, a message, `/who`, a taken name, `/quit`, shutdown.
fn conversation(addr: SocketAddr, stop: &CancellationToken, out: &mut dyn Write) -> DemoResult {
    let mut alice = Member::connect("alice", addr)?;
    alice.say("alice", out)?;
    alice.hears("* alice joined", out)?;
    let mut bob = Member::connect("bob", addr)?;
    bob.say("bob", out)?;
    bob.hears("* bob joined", out)?;
    alice.hears("* bob joined", out)?;
    let mut carol = Member::connect("carol", addr)?;
    carol.say("bob", out)?;
    carol.hears("! name taken", out)?;
    carol.say("carol", out)?;
    carol.hears("* carol joined", out)?;
    alice.hears("* carol joined", out)?;
    bob.hears("* carol joined", out)?;

    alice.say("hi bob, hi carol", out)?;
    bob.hears("alice: hi bob, hi carol", out)?;
    carol.hears("alice: hi bob, hi carol", out)?;
    bob.say("/who", out)?;
    bob.hears("* online: alice bob carol", out)?;
    carol.say("/quit", out)?;
    carol.hears("* bye", out)?;
    carol.hears_the_end(out)?;
    alice.hears("* carol left", out)?;
    bob.hears("* carol left", out)?;

    writeln!(out, "server  shutting down (SIGINT/SIGTERM do the same)")?;
    stop.cancel();
    for mut member in [alice, bob] {
        member.hears("* server shutting down", out)?;
        member.hears_the_end(out)?;
        // Dropping the member closes its socket, so the server need not wait for it.
    }
    Ok(())
}

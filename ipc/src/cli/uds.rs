//! `ipc uds-echo-server PATH` / `ipc uds-client PATH`: a Unix socket echo in two terminals.
//!
//! Terminal 1: `ipc uds-echo-server /tmp/echo.sock` prints `listening on /tmp/echo.sock`.
//! Terminal 2: `ipc uds-client /tmp/echo.sock` (or `socat - UNIX-CONNECT:/tmp/echo.sock`) echoes
//! each line typed; Ctrl-D half-closes, the server sends the rest and closes.

use std::io::Write;
use std::net::Shutdown;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use ipc::uds::echo::{self, DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_CONNECTIONS, Limits};

/// `uds-echo-server` flags.
#[derive(Debug, Args)]
pub struct ServerArgs {
    /// Socket path to create (mode 0600).
    pub path: PathBuf,
    /// Most connections served at once; more are accepted and closed at once.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_CONNECTIONS)]
    pub max_conns: usize,
    /// Disconnect a peer that sends nothing for this long.
    #[arg(long, value_name = "MS", default_value_t = DEFAULT_IDLE_TIMEOUT.as_millis() as u64)]
    pub idle_timeout_ms: u64,
}

/// `uds-client` flags.
#[derive(Debug, Args)]
pub struct ClientArgs {
    /// Socket path of the server.
    pub path: PathBuf,
}

/// Serves until SIGINT/SIGTERM, then removes the socket file.
pub fn serve(args: ServerArgs) -> anyhow::Result<()> {
    let shutdown = support::shutdown::Shutdown::on_signals("ipc")?;
    let listener = ipc::uds::stream::listen(&args.path)?;
    println!("listening on {}", args.path.display());
    std::io::stdout().flush()?;
    let limits = Limits {
        max_connections: args.max_conns,
        idle_timeout: Duration::from_millis(args.idle_timeout_ms),
    };
    let served = echo::serve(&listener, limits, shutdown.flag());
    let _ = std::fs::remove_file(&args.path);
    Ok(served?)
}

/// Copies stdin to the socket (then half-closes) and the socket to stdout.
pub fn client(args: ClientArgs) -> anyhow::Result<()> {
    let socket = ipc::uds::stream::connect(&args.path)?;
    let mut sender = socket.try_clone()?;
    let upload = std::thread::spawn(move || -> std::io::Result<()> {
        std::io::copy(&mut std::io::stdin().lock(), &mut sender)?;
        sender.shutdown(Shutdown::Write)
    });
    std::io::copy(&mut &socket, &mut std::io::stdout().lock())?;
    // Not joined: if the server closed first, that thread may still wait on stdin.
    drop(upload);
    Ok(())
}

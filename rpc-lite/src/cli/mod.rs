//! The command line: one module per subcommand.

mod bench;
mod call;
mod demo;
mod serve;

use clap::{Parser, Subcommand};

/// Stubs, skeletons and marshalling: a lightweight RPC over TCP and UDP.
#[derive(Parser, Debug)]
#[command(name = "rpc-lite", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve the demo service (calculator, key-value store, echo, sleep, incr).
    Serve(serve::ServeArgs),
    /// Call one procedure of the demo service and print the result.
    Call(call::CallArgs),
    /// List the demo service's procedures (introspection, procedure 0).
    List(call::ListArgs),
    /// Run servers and clients in this process and print what happens.
    Demo,
    /// Measure calls/s and latency of `echo` over one connection.
    Bench(bench::BenchArgs),
}

impl Cli {
    /// Runtime worker threads the subcommand asks for (`--threads`); `None`: one per CPU.
    pub fn worker_threads(&self) -> Option<usize> {
        match &self.command {
            Command::Serve(args) => args.threads(),
            Command::Bench(args) => args.threads(),
            _ => None,
        }
    }
}

/// Runs the chosen subcommand.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve::run(args).await,
        Command::Call(args) => call::run(args).await,
        Command::List(args) => call::list(args).await,
        Command::Demo => demo::run().await,
        Command::Bench(args) => bench::run(args).await,
    }
}

/// Resolves `addr` (`host:port`) to its first socket address.
pub async fn resolve(addr: &str) -> anyhow::Result<std::net::SocketAddr> {
    use anyhow::Context;
    tokio::net::lookup_host(addr)
        .await
        .with_context(|| format!("cannot resolve {addr:?} (expected host:port)"))?
        .next()
        .with_context(|| format!("{addr:?} resolves to no address"))
}

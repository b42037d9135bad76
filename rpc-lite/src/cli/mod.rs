//! The command line: one module per subcommand.

mod bench;
mod call;
mod demo;
// Some accessors are only for the tests, which include the same file.
#[allow(dead_code)]
pub mod demo_service;
mod serve;

use clap::{Parser, Subcommand};
use support::log::Default as LogDefault;

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
    /// Measure calls/s and latency of `echo` over one or more connections.
    Bench(bench::BenchArgs),
}

impl Cli {
    /// What is logged without `RUST_LOG`: a server reports its peers' bad input; the
    /// other subcommands print only their results.
    pub fn log_default(&self) -> LogDefault {
        match self.command {
            Command::Serve(_) => LogDefault::Warn,
            _ => LogDefault::Off,
        }
    }

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

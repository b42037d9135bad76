//! The subcommands; each mechanism's glue lives in its own file.

mod bench;
mod child;
mod demo;
mod fifo;
mod mq;
mod pipe;
mod shm;
mod uds;

use std::process::Command;

use clap::{Parser, Subcommand};

/// Pipes, named pipes, Unix sockets, shared memory and message queues between real processes.
#[derive(Debug, Parser)]
#[command(name = "ipc", version)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Cmd,
}

/// The subcommands of `ipc`.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Runs every mechanism between real processes and prints the transcript.
    Demo,
    /// A parent and its re-executed child over pipe(2): one way, then two pipes for duplex.
    Pipe,
    /// Creates a FIFO (mode 0600) and prints what writers send, until they all close.
    FifoRead(fifo::ReadArgs),
    /// Writes the arguments (or stdin) into an existing FIFO.
    FifoWrite(fifo::WriteArgs),
    /// Echo server on a Unix socket path (try `socat - UNIX-CONNECT:PATH`).
    UdsEchoServer(uds::ServerArgs),
    /// Sends stdin to a Unix socket echo server and prints what comes back.
    UdsClient(uds::ClientArgs),
    /// Creates a shared-memory ring segment (mode 0600).
    ShmCreate(shm::CreateArgs),
    /// Pushes the arguments (or stdin lines) into a ring.
    ShmWrite(shm::WriteArgs),
    /// Pops messages from a ring and prints them.
    ShmRead(shm::ReadArgs),
    /// Removes a ring segment (shm_unlink).
    ShmUnlink(shm::NameArg),
    /// Creates a POSIX message queue (mode 0600).
    MqCreate(mq::CreateArgs),
    /// Sends the arguments as messages to a queue.
    MqSend(mq::SendArgs),
    /// Receives messages from a queue and prints them with their priority.
    MqReceive(mq::ReceiveArgs),
    /// Removes a message queue (mq_unlink).
    MqUnlink(mq::NameArg),
    /// Throughput and ping-pong latency of every mechanism, side by side.
    Bench(bench::BenchArgs),
    /// The child side of the demos, tests and bench (this binary, re-executed).
    #[command(hide = true, subcommand)]
    Child(child::ChildCmd),
}

/// Parses the command line and runs one subcommand.
pub fn main() -> anyhow::Result<()> {
    let cli: Cli = support::cli::parse("ipc");
    support::log::init(support::log::Default::Warn);
    match cli.command {
        Cmd::Demo => demo::run(),
        Cmd::Pipe => pipe::run(),
        Cmd::FifoRead(args) => fifo::read(args),
        Cmd::FifoWrite(args) => fifo::write(args),
        Cmd::UdsEchoServer(args) => uds::serve(args),
        Cmd::UdsClient(args) => uds::client(args),
        Cmd::ShmCreate(args) => shm::create(args),
        Cmd::ShmWrite(args) => shm::write(args),
        Cmd::ShmRead(args) => shm::read(args),
        Cmd::ShmUnlink(args) => shm::unlink(args),
        Cmd::MqCreate(args) => mq::create(args),
        Cmd::MqSend(args) => mq::send(args),
        Cmd::MqReceive(args) => mq::receive(args),
        Cmd::MqUnlink(args) => mq::unlink(args),
        Cmd::Bench(args) => bench::run(args),
        Cmd::Child(cmd) => child::run(cmd),
    }
}

/// This very binary, ready to be started as a child with `ipc child ...`.
pub fn child_command(args: &[&str]) -> anyhow::Result<Command> {
    let mut cmd = self_command(&["child"])?;
    cmd.args(args);
    Ok(cmd)
}

/// This very binary with ordinary subcommand arguments (`ipc fifo-write ...`).
pub fn self_command(args: &[&str]) -> anyhow::Result<Command> {
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.args(args);
    Ok(cmd)
}

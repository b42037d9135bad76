//! `tcp chat-server`, `tcp chat-client`, `tcp bench chat` (tcp-B owns this file; the
//! argument structs and run functions below are placeholders until tcp-B fills them in).

use clap::Args;

use super::LimitFlags;

/// Flags of `tcp chat-server`.
#[derive(Debug, Args)]
pub struct ChatServerArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:7070")]
    pub bind: String,
    /// Connection cap, deadlines and shutdown grace.
    #[command(flatten)]
    pub limits: LimitFlags,
}

/// Flags of `tcp chat-client`.
#[derive(Debug, Args)]
pub struct ChatClientArgs {
    /// The chat server, HOST:PORT.
    pub addr: String,
    /// Your name in the chat.
    #[arg(long)]
    pub name: String,
}

/// Flags of `tcp bench chat`.
#[derive(Debug, Args)]
pub struct BenchChatArgs {
    /// The chat server, IP:PORT.
    #[arg(long)]
    pub addr: String,
}

/// Runs `tcp chat-server`.
pub fn run_server(_args: ChatServerArgs) -> anyhow::Result<()> {
    anyhow::bail!("chat-server is not built yet")
}

/// Runs `tcp chat-client`.
pub fn run_client(_args: ChatClientArgs) -> anyhow::Result<()> {
    anyhow::bail!("chat-client is not built yet")
}

/// Runs `tcp bench chat`.
pub fn run_bench(_args: BenchChatArgs) -> anyhow::Result<()> {
    anyhow::bail!("bench chat is not built yet")
}

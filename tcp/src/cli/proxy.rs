//! `tcp proxy` (tcp-B owns this file; the placeholder below is until tcp-B fills it in).

use clap::Args;

/// Flags of `tcp proxy`.
#[derive(Debug, Args)]
pub struct ProxyArgs {
    /// Address to listen on.
    #[arg(long)]
    pub listen: String,
    /// Address to forward to.
    #[arg(long)]
    pub to: String,
}

/// Runs `tcp proxy`.
pub fn run(_args: ProxyArgs) -> anyhow::Result<()> {
    anyhow::bail!("proxy is not built yet")
}

//! `multicast doctor`: prints [`report::Report`].
//!
//! ```text
//! $ multicast doctor
//! interfaces (getifaddrs):
//!   index  name         flags                  addresses
//!       1  lo           UP LOOPBACK NO-MULTICAST 127.0.0.1, ::1
//! ...
//! ```

use std::io::Write;
use std::net::SocketAddr;

pub mod report;

use report::Report;

use super::target::parse_group;

/// Arguments of `doctor`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Also say where this group is joined on this host (GROUP or GROUP:PORT)
    #[arg(long, value_name = "GROUP", value_parser = parse_group)]
    group: Option<SocketAddr>,
}

/// Gathers and prints the report.
///
/// # Errors
/// If the interfaces cannot be listed or stdout is closed.
pub fn run(args: Args) -> anyhow::Result<()> {
    let report = Report::gather()?;
    let mut out = std::io::stdout().lock();
    out.write_all(report.render().as_bytes())?;
    if let Some(group) = args.group {
        writeln!(out, "\n{}", report.group_status(group.ip()))?;
    }
    out.flush()?;
    Ok(())
}

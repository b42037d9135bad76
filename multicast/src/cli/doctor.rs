//! `multicast doctor`: prints [`multicast::doctor::Report`].
//!
//! ```text
//! $ multicast doctor
//! interfaces (getifaddrs):
//!   index  name         flags                  addresses
//!       1  lo           UP LOOPBACK NO-MULTICAST 127.0.0.1, ::1
//! ...
//! ```

use std::io::Write;

use multicast::doctor::Report;

/// Gathers and prints the report.
///
/// # Errors
/// If the interfaces cannot be listed or stdout is closed.
pub fn run() -> anyhow::Result<()> {
    let report = Report::gather()?;
    let mut out = std::io::stdout().lock();
    out.write_all(report.render().as_bytes())?;
    out.flush()?;
    Ok(())
}

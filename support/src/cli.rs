//! The command-line contract every binary of the suite keeps: one error line, exit codes,
//! `host:port` arguments and the `listening on` line.
//!
//! ```text
//! tcp: error: cannot listen on 127.0.0.1:7007: Address already in use (os error 98); hint: another program has this port: pick another, or --bind 127.0.0.1:0 for a free one
//! ^^^  ^^^^^  ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^  ^^^^^ the cause chain, each text once ^^^^^^ only where it is true
//! ```
//!
//! Exit codes: 0 success, 1 a failure at run time, 2 a usage mistake (an unknown flag, a
//! malformed address, an out-of-range port, the wrong number of arguments).

use std::fmt;
use std::io::{self, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;

/// Exit code for a failure at run time (the server could not bind, the peer refused...).
pub const EXIT_FAILURE: u8 = 1;
/// Exit code for a usage mistake: the command line itself is wrong.
pub const EXIT_USAGE: u8 = 2;

/// A mistake in how the program was called, found after clap parsed the arguments
/// (for example the wrong number of arguments for an RPC procedure). Exits 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Builds a [`UsageError`]: `return Err(support::cli::usage("expected NAME ARGS...").into())`.
pub fn usage(message: impl Into<String>) -> UsageError {
    UsageError(message.into())
}

/// A hint attached to an error with `.context(Hint("..."))`; printed last, after `; hint: `.
/// Attach one only where it is true for this error.
#[derive(Debug, Clone, Copy)]
pub struct Hint(pub &'static str);

impl fmt::Display for Hint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{HINT_MARK}{}", self.0)
    }
}

const HINT_MARK: &str = "hint: ";

/// Runs a program's real `main` and turns its result into the suite's exit code,
/// printing an error as one line: `NAME: error: WHAT: CAUSE[; hint: HINT]`.
pub fn run(name: &'static str, main: impl FnOnce() -> anyhow::Result<()>) -> ExitCode {
    match main() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("{}", error_line(name, &err));
            ExitCode::from(exit_code(&err))
        }
    }
}

/// The exit code for an error: 2 if a [`UsageError`] is anywhere in its chain, else 1.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    let is_usage = err
        .chain()
        .any(|cause| cause.downcast_ref::<UsageError>().is_some());
    if is_usage { EXIT_USAGE } else { EXIT_FAILURE }
}

/// Renders an error as the suite's one line. Each text of the cause chain appears once
/// (a typed error that already prints its source is not followed by that source again),
/// and a hint is the explicit [`Hint`] if there is one, else one derived from the OS error
/// where it is certainly true.
pub fn error_line(name: &str, err: &anyhow::Error) -> String {
    let mut line = format!("{name}: error: ");
    let mut what = String::new();
    let mut hint = None;
    for cause in err.chain() {
        let text = cause.to_string();
        if let Some(explicit) = text.strip_prefix(HINT_MARK) {
            hint.get_or_insert_with(|| explicit.to_string());
            continue;
        }
        if text.is_empty() || what.contains(&text) {
            continue;
        }
        if !what.is_empty() {
            what.push_str(": ");
        }
        what.push_str(&text);
    }
    line.push_str(&one_line(&what));
    if let Some(hint) = hint.or_else(|| os_hint(err).map(String::from)) {
        line.push_str("; hint: ");
        line.push_str(&hint);
    }
    line
}

/// A hint that is true whenever the OS reports this error kind.
fn os_hint(err: &anyhow::Error) -> Option<&'static str> {
    let io = err
        .chain()
        .find_map(|cause| cause.downcast_ref::<io::Error>())?;
    match io.kind() {
        io::ErrorKind::AddrInUse => Some(
            "another program has this port: pick another, or --bind 127.0.0.1:0 for a free one",
        ),
        io::ErrorKind::AddrNotAvailable => Some("that address is not one of this machine's"),
        io::ErrorKind::ConnectionRefused => Some("nothing listens there: is the server running?"),
        _ => None,
    }
}

/// Folds a multi-line message into one line.
fn one_line(text: &str) -> String {
    text.split('\n')
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Parses the command line with clap. `--help` and `--version` print as usual and exit 0;
/// any usage mistake prints one line, `NAME: error: WHAT (see 'NAME --help')`, and exits 2.
pub fn parse<C: clap::Parser>(name: &str) -> C {
    match C::try_parse() {
        Ok(cli) => cli,
        Err(err) => exit_on_clap_error(name, err),
    }
}

/// Like [`parse`], from the given arguments (the first is the program name).
pub fn parse_from<C: clap::Parser>(name: &str, args: impl IntoIterator<Item = String>) -> C {
    match C::try_parse_from(args) {
        Ok(cli) => cli,
        Err(err) => exit_on_clap_error(name, err),
    }
}

fn exit_on_clap_error(name: &str, err: clap::Error) -> ! {
    use clap::error::ErrorKind;
    match err.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = err.print();
            std::process::exit(0)
        }
        // `tcp` alone: the help is the most useful answer, but it is still a usage mistake.
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = err.print();
            std::process::exit(i32::from(EXIT_USAGE))
        }
        _ => {
            eprintln!("{}", clap_error_line(name, &err));
            std::process::exit(i32::from(EXIT_USAGE))
        }
    }
}

/// clap's message reduced to the suite's one line: its first line, without clap's own
/// `error: ` prefix, and a pointer to `--help`.
pub fn clap_error_line(name: &str, err: &clap::Error) -> String {
    let rendered = err.render().to_string();
    let first = rendered
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("invalid arguments");
    let what = first.trim().strip_prefix("error: ").unwrap_or(first.trim());
    format!("{name}: error: {what} (see '{name} --help')")
}

/// A peer given on the command line as `HOST:PORT`: a name or an IP address (IPv6 in
/// brackets, `[::1]:7007`) and a port. Names are resolved when connecting, not when parsing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPort {
    /// The host name or IP address, without brackets.
    pub host: String,
    /// The port (0-65535).
    pub port: u16,
}

impl HostPort {
    /// Resolves the name (`getaddrinfo(3)`), IPv4 and IPv6 addresses in the resolver's order.
    pub fn resolve(&self) -> io::Result<Vec<SocketAddr>> {
        let addrs: Vec<SocketAddr> = (self.host.as_str(), self.port).to_socket_addrs()?.collect();
        if addrs.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{self} has no address"),
            ));
        }
        Ok(addrs)
    }
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// clap value parser for [`HostPort`]: `#[arg(value_parser = support::cli::host_port)]`.
/// A missing or out-of-range port is a usage mistake (exit 2), found before anything runs.
pub fn host_port(text: &str) -> Result<HostPort, String> {
    let example = "expected HOST:PORT, e.g. 127.0.0.1:7007, [::1]:7007 or localhost:7007";
    let (host, port) = match text.strip_prefix('[') {
        Some(rest) => {
            let (host, after) = rest
                .split_once(']')
                .ok_or_else(|| format!("'{text}': missing ']'; {example}"))?;
            let port = after
                .strip_prefix(':')
                .ok_or_else(|| format!("'{text}': no port; {example}"))?;
            (host, port)
        }
        None => text
            .rsplit_once(':')
            .ok_or_else(|| format!("'{text}': no port; {example}"))?,
    };
    if host.is_empty() || (host.contains(':') && !text.starts_with('[')) {
        return Err(format!("'{text}': {example}"));
    }
    let port = parse_port(port).map_err(|why| format!("'{text}': {why}"))?;
    Ok(HostPort {
        host: host.to_string(),
        port,
    })
}

/// clap value parser for a local address to bind, `IP:PORT` (no names: a server binds an
/// address it owns). `#[arg(value_parser = support::cli::socket_addr)]`.
pub fn socket_addr(text: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let parsed = host_port(text)?;
    Err(format!(
        "'{text}': expected IP:PORT such as 127.0.0.1:{0} or [::1]:{0}, not a name",
        parsed.port
    ))
}

fn parse_port(text: &str) -> Result<u16, String> {
    let number: u64 = text
        .parse()
        .map_err(|_| format!("port '{text}' is not a number"))?;
    u16::try_from(number).map_err(|_| format!("port {number} is out of range (0-65535)"))
}

/// Longest time any `--*-ms` flag of the suite accepts: one hour.
pub const MAX_MILLIS: u64 = 3_600_000;

/// clap value parser for a `--*-ms` duration, 1 ms to one hour (a usage error otherwise).
pub fn millis(text: &str) -> Result<u64, String> {
    match millis_or_zero(text)? {
        0 => Err("must be at least 1 millisecond".into()),
        ms => Ok(ms),
    }
}

/// clap value parser for a `--*-ms` duration where 0 means "none", 0 to one hour.
pub fn millis_or_zero(text: &str) -> Result<u64, String> {
    let ms: u64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a whole number of milliseconds"))?;
    if ms > MAX_MILLIS {
        return Err(format!("{ms} ms is more than one hour ({MAX_MILLIS} ms)"));
    }
    Ok(ms)
}

/// Prints a server's first stdout line, exactly `listening on IP:PORT` (IPv6 as
/// `[::1]:PORT`), and flushes it at once so a script reading the pipe sees it.
pub fn print_listening(addr: SocketAddr) {
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "listening on {addr}");
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_os_error_is_printed_once() {
        #[derive(Debug, thiserror::Error)]
        #[error("cannot listen on 127.0.0.1:7: {0}")]
        struct BindError(#[source] io::Error);
        let os = io::Error::from(io::ErrorKind::AddrInUse);
        let err = anyhow::Error::new(BindError(os));
        let line = error_line("tcp", &err);
        assert_eq!(line.matches("address in use").count(), 1, "{line}");
        assert!(
            line.starts_with("tcp: error: cannot listen on 127.0.0.1:7: "),
            "{line}"
        );
        assert!(
            line.contains("; hint: another program has this port"),
            "{line}"
        );
    }

    #[test]
    fn permission_denied_gets_no_port_hint() {
        let err = anyhow::Error::new(io::Error::from(io::ErrorKind::PermissionDenied))
            .context("bind 0.0.0.0:80");
        let line = error_line("udp", &err);
        assert!(!line.contains("hint"), "{line}");
        assert_eq!(exit_code(&err), EXIT_FAILURE);
    }

    #[test]
    fn an_explicit_hint_is_printed_last_and_usage_exits_2() {
        let err = anyhow::Error::new(usage("add takes 2 arguments (a: i64, b: i64), got 1"))
            .context(Hint("rpc-lite list ADDR shows every procedure"))
            .context("call add");
        let line = error_line("rpc-lite", &err);
        assert_eq!(
            line,
            "rpc-lite: error: call add: add takes 2 arguments (a: i64, b: i64), got 1; hint: rpc-lite list ADDR shows every procedure"
        );
        assert_eq!(exit_code(&err), EXIT_USAGE);
    }

    #[test]
    fn a_multi_line_message_becomes_one_line() {
        let err = anyhow::anyhow!("first\n  second\n");
        assert_eq!(error_line("x", &err), "x: error: first second");
    }

    #[test]
    fn host_port_accepts_names_v4_and_bracketed_v6() {
        assert_eq!(
            host_port("localhost:7").unwrap(),
            HostPort {
                host: "localhost".into(),
                port: 7
            }
        );
        assert_eq!(host_port("127.0.0.1:0").unwrap().to_string(), "127.0.0.1:0");
        assert_eq!(host_port("[::1]:7007").unwrap().to_string(), "[::1]:7007");
    }

    #[test]
    fn host_port_refuses_missing_bad_and_out_of_range_ports() {
        assert!(host_port("localhost").unwrap_err().contains("no port"));
        assert!(host_port("h:x").unwrap_err().contains("not a number"));
        assert!(host_port("h:70000").unwrap_err().contains("out of range"));
        assert!(host_port("::1:7").is_err(), "bare IPv6 needs brackets");
        assert!(host_port(":7").is_err());
    }

    #[test]
    fn millis_are_bounded_to_an_hour_and_zero_only_where_allowed() {
        assert_eq!(millis("250"), Ok(250));
        assert!(millis("0").unwrap_err().contains("at least 1"));
        assert_eq!(millis_or_zero("0"), Ok(0));
        assert!(
            millis_or_zero("3600001")
                .unwrap_err()
                .contains("more than one hour")
        );
        assert!(millis("1.5").unwrap_err().contains("whole number"));
    }

    #[test]
    fn socket_addr_wants_an_ip() {
        assert_eq!(socket_addr("[::1]:0").unwrap().to_string(), "[::1]:0");
        assert!(
            socket_addr("localhost:7")
                .unwrap_err()
                .contains("not a name")
        );
        assert!(
            socket_addr("1.2.3.4:99999")
                .unwrap_err()
                .contains("out of range")
        );
    }

    #[test]
    fn clap_errors_become_one_line() {
        #[derive(clap::Parser, Debug)]
        struct Args {
            #[arg(long, value_parser = host_port)]
            addr: HostPort,
        }
        let err = <Args as clap::Parser>::try_parse_from(["t", "--addr", "x:99999"]).unwrap_err();
        let line = clap_error_line("t", &err);
        assert!(
            line.starts_with("t: error: invalid value 'x:99999' for '--addr <ADDR>'"),
            "{line}"
        );
        assert!(line.ends_with("(see 't --help')"), "{line}");
        assert!(!line.contains('\n'));
    }
}

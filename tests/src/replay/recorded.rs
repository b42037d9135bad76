//! Regression transcripts: a recorded session plus the two comment lines that say how to
//! replay it (which server to start, over which transport).

use proxy::transcript::{ParseError, Transcript};

use super::Transport;

/// A transcript kept as a regression test: the session plus how to replay it.
///
/// Two comment lines (which the transcript parser ignores) say what to start and how:
///
/// ```text
/// # transcript v1
/// # server: tcp echo-server --mode async
/// # transport: tcp
/// [1] open
/// ...
/// ```
///
/// `server` is the suite binary and its arguments; the replayer adds `--bind 127.0.0.1:0`.
/// `transport` is `tcp` or `udp`. Any other `#` line is a free comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// The server command: binary name, then its arguments.
    pub server: Vec<String>,
    /// How to replay it.
    pub transport: Transport,
    /// The session itself.
    pub transcript: Transcript,
}

/// The comment that names the server command.
pub const SERVER_KEY: &str = "# server: ";
/// The comment that names the transport.
pub const TRANSPORT_KEY: &str = "# transport: ";

/// Why a file is not a replayable regression transcript.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The session itself does not parse.
    #[error("bad transcript: {0}")]
    Parse(#[from] ParseError),
    /// The `# server:` line is missing or empty.
    #[error("no `{SERVER_KEY}BIN ARGS...` line: which server should the replay start?")]
    NoServer,
    /// The `# transport:` line is missing or names something other than tcp or udp.
    #[error("no `{TRANSPORT_KEY}tcp` or `{TRANSPORT_KEY}udp` line")]
    NoTransport,
}

impl Recorded {
    /// Parses a regression transcript: the session and its two metadata lines.
    pub fn parse(text: &str) -> Result<Recorded, LoadError> {
        let transcript = Transcript::parse(text)?;
        let value = |key: &str| {
            text.lines()
                .find_map(|line| line.strip_prefix(key))
                .map(str::trim)
        };
        let server: Vec<String> = value(SERVER_KEY)
            .unwrap_or("")
            .split_whitespace()
            .map(str::to_string)
            .collect();
        if server.is_empty() {
            return Err(LoadError::NoServer);
        }
        let transport = match value(TRANSPORT_KEY) {
            Some("tcp") => Transport::Tcp,
            Some("udp") => Transport::Udp,
            _ => return Err(LoadError::NoTransport),
        };
        Ok(Recorded {
            server,
            transport,
            transcript,
        })
    }

    /// Inserts the metadata lines right after the header of a transcript the proxy wrote.
    pub fn annotate(
        proxy_output: &str,
        server: &[&str],
        transport: Transport,
        note: &str,
    ) -> String {
        let (header, rest) = proxy_output.split_once('\n').unwrap_or((proxy_output, ""));
        let transport = match transport {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
        };
        format!(
            "{header}\n# {note}\n{SERVER_KEY}{}\n{TRANSPORT_KEY}{transport}\n{rest}",
            server.join(" ")
        )
    }
}

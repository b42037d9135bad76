//! `tcp chat-client`: a person's side of the chat, stdin to the room, the room to stdout.
//!
//! The client sends the name line, waits for its own `* NAME joined` (the server's sign
//! that the name was accepted) and then runs two directions at once: lines typed on stdin
//! go to the server, lines from the server go to stdout. At end of input it half-closes
//! (`shutdown(SHUT_WR)`), the server says goodbye to the room and closes, and the client
//! prints whatever was still on its way.
//!
//! Two terminals on one machine:
//! ```text
//! $ tcp chat-server                          # listening on 127.0.0.1:7070
//! $ tcp chat-client 127.0.0.1:7070 --name alice
//! $ tcp chat-client 127.0.0.1:7070 --name bob
//! ```
//! Two machines: start the server with `--bind 0.0.0.0:7070` on host A, and run
//! `tcp chat-client A:7070 --name bob` on host B (A's name or address; port 7070 open).
//!
//! Output is the server's lines as they are: `* bob joined`, `bob: hi alice`, `! ...`.

use super::lines::{Line, LineReader};
use super::protocol::{self, ServerLine};
use std::io::{self, Write};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedReadHalf;
use tokio::sync::mpsc;

/// Longest server line the client accepts (a hostile server cannot make it buffer more).
pub const MAX_SERVER_LINE: usize = 64 * 1024;

/// How long the server may take to answer the name line.
pub const JOIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the client stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The name breaks the protocol's rules (checked before connecting).
    #[error("{0}")]
    BadName(#[from] protocol::NameError),
    /// The server refused the name or the room is full (`! ...` line).
    #[error("server refused to let us join: {0}")]
    Refused(String),
    /// The server closed before accepting the name.
    #[error("server closed the connection before we joined")]
    ClosedBeforeJoin,
    /// The server did not answer the name line in time.
    #[error("no answer to our name within {0:?}")]
    JoinTimeout(Duration),
    /// Reading from or writing to the connection or stdout failed.
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// Joins the room on `stream` as `name`, then relays: each chunk received on `input`
/// (lines, `\n`-terminated) goes to the server; each server line is written to `output`.
/// When `input` closes the client half-closes and returns once the server has closed.
pub async fn run(
    stream: TcpStream,
    name: &str,
    mut input: mpsc::Receiver<Vec<u8>>,
    output: &mut (dyn Write + Send),
) -> Result<(), ClientError> {
    protocol::validate_name(name)?;
    stream.set_nodelay(true)?;
    let (read_half, mut write_half) = stream.into_split();
    let mut lines = LineReader::new(read_half, MAX_SERVER_LINE, Duration::from_secs(60));
    write_half.write_all(format!("{name}\n").as_bytes()).await?;
    match tokio::time::timeout(JOIN_TIMEOUT, wait_for_join(&mut lines, name, output)).await {
        Ok(joined) => joined?,
        Err(_) => return Err(ClientError::JoinTimeout(JOIN_TIMEOUT)),
    }
    let mut input_open = true;
    loop {
        tokio::select! {
            chunk = input.recv(), if input_open => match chunk {
                Some(bytes) => write_half.write_all(&bytes).await?,
                None => {
                    input_open = false;
                    write_half.shutdown().await?;
                }
            },
            line = lines.next_line(true) => match line? {
                Some(line) => print_line(&line, output)?,
                None => return Ok(()),
            },
        }
    }
}

/// Prints server lines until our own join notice (success) or an error line (refusal).
async fn wait_for_join(
    lines: &mut LineReader<OwnedReadHalf>,
    name: &str,
    output: &mut (dyn Write + Send),
) -> Result<(), ClientError> {
    let our_notice = format!("{name} joined");
    loop {
        let Some(line) = lines.next_line(true).await? else {
            return Err(ClientError::ClosedBeforeJoin);
        };
        print_line(&line, output)?;
        if let Line::Complete(bytes) = &line {
            match protocol::parse_server_line(&String::from_utf8_lossy(bytes)) {
                ServerLine::Notice(text) if text == our_notice => return Ok(()),
                ServerLine::Error(text) => return Err(ClientError::Refused(text.to_string())),
                _ => {}
            }
        }
    }
}

fn print_line(line: &Line, output: &mut (dyn Write + Send)) -> io::Result<()> {
    match line {
        Line::Complete(bytes) => {
            output.write_all(bytes)?;
            output.write_all(b"\n")?;
        }
        Line::TooLong => writeln!(
            output,
            "[a line longer than {MAX_SERVER_LINE} bytes was skipped]"
        )?,
    }
    output.flush()
}

/// Reads stdin on a plain thread (terminal input is blocking) and hands each line to the
/// returned channel; the channel closes at end of input.
pub fn stdin_lines() -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel(64);
    std::thread::spawn(move || {
        use std::io::BufRead;
        let mut stdin = io::stdin().lock();
        loop {
            let mut line = Vec::new();
            match stdin.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    if !line.ends_with(b"\n") {
                        line.push(b'\n');
                    }
                    if tx.blocking_send(line).is_err() {
                        break;
                    }
                }
            }
        }
    });
    rx
}

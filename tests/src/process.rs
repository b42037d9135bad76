//! Child processes driven like a user at a terminal: stdin in, stdout read line by line, every
//! wait bounded.
//!
//! [`Proc`] owns one child. Two helper threads drain its pipes so it never blocks on a full
//! pipe: stdout arrives as lines on a channel (read with a timeout), stderr collects in a
//! buffer that failure messages quote. [`Server`] is a `Proc` whose first stdout line was
//! `listening on IP:PORT`; dropping either sends SIGTERM (and SIGKILL if that is ignored),
//! so a failing test never leaves a server behind.
//!
//! System calls: `pipe(2)`, `fork(2)`/`execve(2)` (via [`Command`]), `kill(2)` (via the
//! `kill(1)` program, which keeps this crate free of `unsafe`), `waitpid(2)` (`try_wait`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::bins;

/// How long a server may take to print its `listening on` line (debug builds on a busy
/// machine start slowly; a healthy one takes milliseconds).
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(15);

/// How long a test waits for one expected line or reply before failing.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a process may take to exit after SIGTERM or end of input. Servers finish
/// in-flight work within their own (shorter) grace period; this only bounds the test.
pub const EXIT_TIMEOUT: Duration = Duration::from_secs(15);

/// A child process with its stdout read line by line and its stderr kept for messages.
#[derive(Debug)]
pub struct Proc {
    /// What was run (`tcp echo-server --bind ...`), for failure messages.
    label: String,
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Receiver<Vec<u8>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    /// Receives one message (or disconnects) when the stderr pipe reaches end of file.
    stderr_done: Receiver<()>,
    /// Set once the exit status has been collected.
    status: Option<ExitStatus>,
}

/// Why [`Proc::read_line`] returned no line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    /// No complete line arrived within the timeout.
    #[error("no line within the timeout")]
    Timeout,
    /// The child closed its stdout (usually: it exited).
    #[error("stdout closed")]
    Eof,
}

impl Proc {
    /// Starts the suite binary `bin` (see [`bins::bin`]) with `args`, all three stdio piped.
    pub fn spawn(bin: &str, args: &[&str]) -> Proc {
        Proc::spawn_path(&bins::bin(bin), args, &[])
    }

    /// Starts the suite binary `bin` with extra environment variables.
    pub fn spawn_env(bin: &str, args: &[&str], env: &[(&str, &str)]) -> Proc {
        Proc::spawn_path(&bins::bin(bin), args, env)
    }

    /// Starts any program at `path`.
    pub fn spawn_path(path: &Path, args: &[&str], env: &[(&str, &str)]) -> Proc {
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into(),
        );
        let label = std::iter::once(name.as_str())
            .chain(args.iter().copied())
            .collect::<Vec<_>>()
            .join(" ");
        let mut child = Command::new(path)
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start `{label}`: {e}"));
        let stdout = spawn_line_reader(child.stdout.take().expect("stdout is piped"));
        let (stderr, stderr_done) = spawn_collector(child.stderr.take().expect("stderr is piped"));
        let stdin = child.stdin.take();
        Proc {
            label,
            child,
            stdin,
            stdout,
            stderr,
            stderr_done,
            status: None,
        }
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What was run, as a command line.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Everything the child wrote to stderr so far, as text. Once the child has exited, this
    /// first waits (briefly) for the collector to reach end of file, so no last line is lost.
    pub fn stderr_text(&self) -> String {
        if self.status.is_some() {
            // Ok or Disconnected: the collector is done; Timeout: something else holds the pipe.
            let _ = self.stderr_done.recv_timeout(Duration::from_secs(2));
        }
        let bytes = self.stderr.lock().unwrap_or_else(|p| p.into_inner());
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// The next stdout line, without its `\n`, or why there is none.
    pub fn read_line(&mut self, timeout: Duration) -> Result<String, LineError> {
        let raw = self.read_raw_line(timeout)?;
        let text = String::from_utf8_lossy(&raw);
        Ok(text.strip_suffix('\n').unwrap_or(&text).to_string())
    }

    /// The next stdout line exactly as written (with its `\n`, if it had one).
    pub fn read_raw_line(&mut self, timeout: Duration) -> Result<Vec<u8>, LineError> {
        match self.stdout.recv_timeout(timeout) {
            Ok(line) => Ok(line),
            Err(RecvTimeoutError::Timeout) => Err(LineError::Timeout),
            Err(RecvTimeoutError::Disconnected) => Err(LineError::Eof),
        }
    }

    /// The next stdout line; panics (quoting stderr) if none arrives within [`IO_TIMEOUT`].
    pub fn expect_line(&mut self) -> String {
        self.read_line(IO_TIMEOUT)
            .unwrap_or_else(|e| self.fail(&format!("expected a stdout line: {e}")))
    }

    /// Reads stdout lines until one equals `wanted`, returning the lines before it; panics
    /// after [`IO_TIMEOUT`] in all.
    pub fn expect_line_eq(&mut self, wanted: &str) -> Vec<String> {
        let deadline = Instant::now() + IO_TIMEOUT;
        let mut before = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.read_line(left) {
                Ok(line) if line == wanted => return before,
                Ok(line) => before.push(line),
                Err(e) => self.fail(&format!(
                    "waiting for line {wanted:?} ({e}); lines seen: {before:?}"
                )),
            }
        }
    }

    /// Asserts that no stdout line arrives within `quiet` (for "this must not be delivered").
    pub fn expect_no_line(&mut self, quiet: Duration) {
        if let Ok(line) = self.read_line(quiet) {
            self.fail(&format!("expected no output, got line {line:?}"));
        }
    }

    /// Writes bytes to the child's stdin.
    pub fn write(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin is still open");
        if let Err(e) = stdin.write_all(bytes).and_then(|()| stdin.flush()) {
            self.fail(&format!("cannot write to stdin: {e}"));
        }
    }

    /// Writes one line (a `\n` is added) to the child's stdin.
    pub fn write_line(&mut self, line: &str) {
        self.write(format!("{line}\n").as_bytes());
    }

    /// Closes the child's stdin: the end of input, as Ctrl-D at a terminal.
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Sends SIGTERM, as `kill PID` does.
    pub fn sigterm(&mut self) {
        self.signal("TERM");
    }

    /// Sends a signal by name (`"TERM"`, `"INT"`), as `kill -NAME PID` does.
    pub fn signal(&mut self, name: &str) {
        if self.status.is_some() {
            return;
        }
        let pid = self.pid().to_string();
        // The child may already have exited (then `kill` fails harmlessly: it is a zombie
        // until reaped, so the PID cannot belong to anyone else yet).
        if let Err(e) = Command::new("kill")
            .args([&format!("-{name}"), &pid])
            .status()
        {
            self.fail(&format!("cannot run `kill -{name} {pid}`: {e}"));
        }
    }

    /// Waits up to `timeout` for the child to exit; `None` if it is still running.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.status {
                return Some(status);
            }
            match self.child.try_wait() {
                Ok(Some(status)) => self.status = Some(status),
                Ok(None) if Instant::now() >= deadline => return None,
                Ok(None) => thread::sleep(Duration::from_millis(10)),
                Err(e) => self.fail(&format!("cannot wait for the child: {e}")),
            }
        }
    }

    /// Waits (at most [`EXIT_TIMEOUT`]) for the child to exit and asserts it exited 0.
    pub fn assert_exits_ok(&mut self) {
        match self.wait_timeout(EXIT_TIMEOUT) {
            Some(status) if status.success() => {}
            Some(status) => self.fail(&format!("exited with {status}, expected 0")),
            None => self.fail(&format!("still running {EXIT_TIMEOUT:?} later")),
        }
    }

    /// Waits (at most [`EXIT_TIMEOUT`]) for the child to exit and returns its exit code.
    pub fn exit_code(&mut self) -> Option<i32> {
        match self.wait_timeout(EXIT_TIMEOUT) {
            Some(status) => status.code(),
            None => self.fail(&format!("still running {EXIT_TIMEOUT:?} later")),
        }
    }

    /// SIGTERM, then asserts a clean exit (status 0 within [`EXIT_TIMEOUT`]).
    pub fn stop(&mut self) {
        self.sigterm();
        self.assert_exits_ok();
    }

    /// Everything left on stdout until the child closes it (bounded by [`EXIT_TIMEOUT`]).
    pub fn rest_of_stdout(&mut self) -> Vec<u8> {
        let deadline = Instant::now() + EXIT_TIMEOUT;
        let mut out = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.read_raw_line(left) {
                Ok(line) => out.extend_from_slice(&line),
                Err(LineError::Eof) => return out,
                Err(LineError::Timeout) => self.fail("stdout still open after the exit timeout"),
            }
        }
    }

    /// Panics with `what`, naming the command and quoting its stderr.
    pub fn fail(&self, what: &str) -> ! {
        panic!(
            "`{}` (pid {}): {what}\n--- its stderr ---\n{}",
            self.label,
            self.pid(),
            self.stderr_text()
        )
    }
}

impl Drop for Proc {
    /// A test that failed half way still stops its child: SIGTERM, a short wait, then SIGKILL.
    fn drop(&mut self) {
        if self.status.is_some() || matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A running server: a [`Proc`] that printed `listening on IP:PORT` first.
#[derive(Debug)]
pub struct Server {
    proc: Proc,
    addr: SocketAddr,
}

impl Server {
    /// Starts `bin args...` and waits (at most [`STARTUP_TIMEOUT`]) for its `listening on` line.
    ///
    /// Pass `--bind 127.0.0.1:0` (or the subcommand's equivalent) among `args`.
    pub fn start(bin: &str, args: &[&str]) -> Server {
        Server::from_proc(Proc::spawn(bin, args))
    }

    /// [`Server::start`] for a server that may fairly fail to start, such as one bound
    /// to a fixed port that something else may hold: `Err` with its stderr if it printed
    /// no `listening on` line (the process is stopped).
    pub fn try_start(bin: &str, args: &[&str]) -> Result<Server, String> {
        Server::await_listening(Proc::spawn(bin, args)).map_err(|failed| {
            let (mut proc, why) = *failed;
            // Waited for, so the collector has every last line of its stderr.
            let _ = proc.wait_timeout(Duration::from_secs(2));
            format!("{}: {why}; stderr: {}", proc.label(), proc.stderr_text())
        })
    }

    /// Waits for the `listening on` line of an already started process.
    pub fn from_proc(proc: Proc) -> Server {
        Server::await_listening(proc).unwrap_or_else(|failed| {
            let (proc, why) = *failed;
            proc.fail(&why)
        })
    }

    /// The `listening on` line, or the process and why it printed none.
    fn await_listening(mut proc: Proc) -> Result<Server, Box<(Proc, String)>> {
        let line = match proc.read_line(STARTUP_TIMEOUT) {
            Ok(line) => line,
            Err(e) => return Err(Box::new((proc, format!("no `listening on` line ({e})")))),
        };
        match parse_listening(&line) {
            Some(addr) => Ok(Server { proc, addr }),
            None => {
                let why = format!("first stdout line must be `listening on IP:PORT`, got {line:?}");
                Err(Box::new((proc, why)))
            }
        }
    }

    /// The address the server reported.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The address as `IP:PORT` text, for a client's command line.
    pub fn addr_arg(&self) -> String {
        self.addr.to_string()
    }
}

impl std::ops::Deref for Server {
    type Target = Proc;
    fn deref(&self) -> &Proc {
        &self.proc
    }
}

impl std::ops::DerefMut for Server {
    fn deref_mut(&mut self) -> &mut Proc {
        &mut self.proc
    }
}

/// Parses `listening on IP:PORT` (IPv6 as `[::1]:PORT`); `None` for anything else.
pub fn parse_listening(line: &str) -> Option<SocketAddr> {
    line.strip_prefix("listening on ")?.parse().ok()
}

/// Runs `bin args...` to completion with `input` on stdin; returns (exit code, stdout, stderr).
///
/// Bounded: panics if the program has not exited within [`EXIT_TIMEOUT`].
pub fn run(bin: &str, args: &[&str], input: &[u8]) -> (Option<i32>, Vec<u8>, String) {
    let mut proc = Proc::spawn(bin, args);
    if let Some(mut stdin) = proc.stdin.take() {
        // A thread, so a large input cannot deadlock against unread output; a program that
        // exits without reading its input (EPIPE) is the program's business, not an error here.
        let input = input.to_vec();
        thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
    }
    let stdout = proc.rest_of_stdout();
    let code = proc.exit_code();
    (code, stdout, proc.stderr_text())
}

/// Sends each line read from `pipe` (with its `\n`) down a channel; the channel closes at EOF.
fn spawn_line_reader(pipe: impl Read + Send + 'static) -> Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        loop {
            let mut line = Vec::new();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {
                    if tx.send(line).is_err() {
                        return;
                    }
                }
            }
        }
    });
    rx
}

/// Appends everything read from `pipe` to a shared buffer until EOF, then says so on the
/// returned channel.
fn spawn_collector(mut pipe: impl Read + Send + 'static) -> (Arc<Mutex<Vec<u8>>>, Receiver<()>) {
    let buffer = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&buffer);
    let (done, done_rx) = mpsc::channel();
    thread::spawn(move || {
        let mut chunk = [0u8; 4096];
        while let Ok(n @ 1..) = pipe.read(&mut chunk) {
            sink.lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend_from_slice(&chunk[..n]);
        }
        let _ = done.send(());
    });
    (buffer, done_rx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ipv4_and_ipv6_listening_lines() {
        assert_eq!(
            parse_listening("listening on 127.0.0.1:7007"),
            Some("127.0.0.1:7007".parse().unwrap())
        );
        assert_eq!(
            parse_listening("listening on [::1]:80"),
            Some("[::1]:80".parse().unwrap())
        );
    }

    #[test]
    fn rejects_anything_else() {
        assert_eq!(parse_listening("listening on localhost:7007"), None);
        assert_eq!(parse_listening("Listening on 127.0.0.1:1"), None);
        assert_eq!(parse_listening("listening on 127.0.0.1"), None);
        assert_eq!(parse_listening(" listening on 127.0.0.1:1"), None);
    }

    #[test]
    fn reads_lines_with_a_timeout_and_sees_the_exit() {
        let mut cat = Proc::spawn_path(Path::new("/bin/cat"), &[], &[]);
        assert_eq!(
            cat.read_line(Duration::from_millis(50)),
            Err(LineError::Timeout)
        );
        cat.write_line("one");
        assert_eq!(cat.expect_line(), "one");
        cat.close_stdin();
        assert_eq!(cat.read_line(IO_TIMEOUT), Err(LineError::Eof));
        cat.assert_exits_ok();
    }

    #[test]
    fn sigterm_stops_a_process_that_would_run_forever() {
        let mut sleeper = Proc::spawn_path(Path::new("/bin/sleep"), &["600"], &[]);
        sleeper.sigterm();
        let status = sleeper
            .wait_timeout(EXIT_TIMEOUT)
            .expect("sleep exits on SIGTERM");
        assert!(
            !status.success(),
            "sleep dies of SIGTERM, it does not exit 0"
        );
    }
}

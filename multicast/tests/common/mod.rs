//! Helpers shared by the integration tests: child processes of our binary (their stderr kept,
//! not mixed into the test run's output), groups no other test uses, and recognising a refused
//! network namespace. Skips go through `support::skip!`.
#![allow(dead_code)]

pub mod netns;

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use multicast::{MulticastSocket, NetworkInterface};

/// How long a test waits for a datagram that should arrive.
pub const ARRIVES: Duration = Duration::from_secs(2);
/// How long a test waits to be sure a datagram does NOT arrive.
pub const SILENT: Duration = Duration::from_millis(250);

/// A group no other test (nor the same test in another process) uses: 239.X.Y.Z with X from
/// the process id and Y from the test's own number. Ports are ephemeral on top of that.
pub fn unique_group(test_id: u8) -> IpAddr {
    let pid = std::process::id();
    IpAddr::V4(Ipv4Addr::new(
        239,
        100 + (pid % 100) as u8,
        test_id,
        1 + (pid / 100 % 250) as u8,
    ))
}

/// The loopback interface.
pub fn lo() -> NetworkInterface {
    NetworkInterface::loopback().expect("loopback interface")
}

/// `count` listeners joined to `group` on loopback, all on one port (the first picks it).
pub fn listeners(group: IpAddr, count: usize) -> (Vec<MulticastSocket>, SocketAddr) {
    let first =
        MulticastSocket::listener(SocketAddr::new(group, 0), &lo()).expect("first listener");
    let addr = SocketAddr::new(group, first.local_addr().unwrap().port());
    let mut all = vec![first];
    for _ in 1..count {
        all.push(MulticastSocket::listener(addr, &lo()).expect("listener on the shared port"));
    }
    (all, addr)
}

/// Receives one datagram within `wait`: `Some((text, sender))`, or `None` on timeout.
pub fn recv_text(socket: &MulticastSocket, wait: Duration) -> Option<(String, SocketAddr)> {
    socket.set_so_timeout(Some(wait)).unwrap();
    let mut buf = [0u8; 2048];
    match socket.recv_from(&mut buf) {
        Ok(info) => Some((
            String::from_utf8_lossy(&buf[..info.len]).into_owned(),
            info.peer,
        )),
        Err(e) if e.is_timeout() => None,
        Err(e) => panic!("receive failed: {e}"),
    }
}

/// A child process of our binary whose stdout lines arrive on a channel; killed (by its own
/// PID, through `Child::kill`) when dropped, whatever way the test ends.
pub struct Proc {
    pub child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
    /// Every stdout line read so far.
    pub seen: Vec<String>,
    /// Every stderr line so far: kept for the test to read, never mixed into the test run's
    /// own output.
    errors: Arc<Mutex<Vec<String>>>,
}

impl Proc {
    /// Starts `program args...` with stdin, stdout and stderr piped. Stderr lines are kept
    /// ([`Proc::stderr`]); `RUST_LOG` is passed on if the person running the tests sets it.
    pub fn spawn(program: &str, args: &[&str]) -> Proc {
        Proc::spawn_with_env(program, args, &[])
    }

    /// [`Proc::spawn`] with extra environment variables.
    pub fn spawn_with_env(program: &str, args: &[&str], env: &[(&str, &str)]) -> Proc {
        use std::io::BufRead;
        use std::process::{Command, Stdio};
        let mut child = Command::new(program)
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {program}: {e}"));
        let errors: Arc<Mutex<Vec<String>>> = Arc::default();
        let stderr = child.stderr.take().unwrap();
        let keep = Arc::clone(&errors);
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                keep.lock().unwrap().push(line);
            }
        });
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Proc {
            child,
            lines,
            seen: Vec::new(),
            errors,
        }
    }

    /// The stderr lines written so far.
    pub fn stderr(&self) -> Vec<String> {
        self.errors.lock().unwrap().clone()
    }

    /// Waits up to `wait` for a stderr line satisfying `want`; panics with what was seen.
    pub fn stderr_line_where(&self, wait: Duration, want: impl Fn(&str) -> bool) -> String {
        let deadline = std::time::Instant::now() + wait;
        loop {
            if let Some(line) = self.stderr().into_iter().find(|l| want(l)) {
                return line;
            }
            if std::time::Instant::now() > deadline {
                panic!(
                    "no such stderr line within {wait:?}; seen: {:?}",
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Our binary with `args`.
    pub fn multicast(args: &[&str]) -> Proc {
        Proc::spawn(env!("CARGO_BIN_EXE_multicast"), args)
    }

    /// The next stdout line, waiting at most `wait`; panics with what was seen otherwise.
    pub fn line(&mut self, wait: Duration) -> String {
        match self.lines.recv_timeout(wait) {
            Ok(line) => {
                self.seen.push(line.clone());
                line
            }
            Err(e) => panic!(
                "no stdout line within {wait:?} ({e}); seen so far: {:?}",
                self.seen
            ),
        }
    }

    /// Reads lines until one satisfies `want`; returns it.
    pub fn line_where(&mut self, wait: Duration, want: impl Fn(&str) -> bool) -> String {
        loop {
            let line = self.line(wait);
            if want(&line) {
                return line;
            }
        }
    }

    /// Writes one line to the child's stdin.
    pub fn write_line(&mut self, line: &str) {
        let stdin = self.child.stdin.as_mut().expect("stdin still open");
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
    }

    /// Closes the child's stdin (end of input).
    pub fn close_stdin(&mut self) {
        drop(self.child.stdin.take());
    }

    /// Waits up to `wait` for the child to exit; its exit code (panics on timeout).
    pub fn wait_exit(&mut self, wait: Duration) -> Option<i32> {
        let deadline = std::time::Instant::now() + wait;
        while std::time::Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "process did not exit within {wait:?}; stdout so far: {:?}",
            self.seen
        );
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs our binary to completion: (exit code, stdout, stderr).
pub fn run_multicast(args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_multicast"))
        .args(args)
        .output()
        .unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (
        out.status.code().unwrap_or(-1),
        text(&out.stdout),
        text(&out.stderr),
    )
}

/// The address in a `listening on ADDR` line.
pub fn listening_addr(line: &str) -> SocketAddr {
    line.strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("not a listening line: {line}"))
        .parse()
        .unwrap()
}

/// True when a failed `ip` command's error text says it lacked the privilege (`EPERM`), as
/// `ip netns add` does for a user without `CAP_SYS_ADMIN` (a container, a user namespace).
pub fn is_permission_error(text: &str) -> bool {
    text.contains("Operation not permitted") || text.contains("Permission denied")
}

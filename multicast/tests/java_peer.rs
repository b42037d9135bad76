//! Interoperability with Java's own `java.net.MulticastSocket` (tests/java/JavaMulticast.java):
//! Java receives what `multicast send` sends, and `multicast listen` prints what Java sends with
//! `setLoopbackMode(false)`, which in Java means loopback ON. Skipped with one
//! `skipped:` line where `javac` or `java` is not on PATH.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::{Proc, listening_addr, run_multicast, unique_group};

const WAIT: Duration = Duration::from_secs(10);

/// A private directory with the compiled Java peer, removed on drop.
struct JavaPeer {
    dir: PathBuf,
}

impl JavaPeer {
    fn compile(tag: &str) -> Result<JavaPeer, String> {
        let dir = std::env::temp_dir().join(format!("multicast-java-{}-{tag}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let peer = JavaPeer { dir };
        let source = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/java/JavaMulticast.java");
        let out = Command::new("javac")
            .args(["-nowarn", "-d"])
            .arg(&peer.dir)
            .arg(source)
            .output()
            .map_err(|e| format!("javac: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "javac failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(peer)
    }

    fn args<'a>(&'a self, args: &[&'a str]) -> Vec<&'a str> {
        let mut all = vec!["-cp", self.dir.to_str().unwrap(), "JavaMulticast"];
        all.extend_from_slice(args);
        all
    }
}

impl Drop for JavaPeer {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The compiled Java peer, or why the test is skipped (no `javac` or `java` on PATH). A JDK
/// that is there but fails to compile the peer is a real failure.
fn java_or_skip(tag: &str) -> Result<JavaPeer, String> {
    support::require::commands(
        &["javac", "java"],
        "a JDK 17+: apt-get install openjdk-17-jdk-headless",
    )?;
    Ok(JavaPeer::compile(tag).unwrap_or_else(|why| panic!("{why}")))
}

#[test]
fn a_java_multicast_socket_receives_what_send_sends() {
    let java = match java_or_skip("recv") {
        Ok(java) => java,
        Err(why) => support::skip!("{why}"),
    };
    let group = unique_group(40).to_string();
    let mut listener = Proc::spawn("java", &java.args(&["listen", &group]));
    let ready = listener.line(WAIT);
    let port = ready
        .strip_prefix("ready ")
        .unwrap_or_else(|| panic!("{ready}"));
    let (code, _, err) = run_multicast(&[
        "send",
        "--group",
        &format!("{group}:{port}"),
        "hello",
        "java",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(listener.line(WAIT), "java got: hello java");
}

#[test]
fn listen_prints_what_a_java_multicast_socket_sends() {
    let java = match java_or_skip("send") {
        Ok(java) => java,
        Err(why) => support::skip!("{why}"),
    };
    let mut listener = Proc::multicast(&[
        "listen",
        "--group",
        &format!("{}:0", unique_group(41)),
        "--count",
        "1",
    ]);
    let addr = listening_addr(&listener.line(WAIT));
    let (group, port) = (addr.ip().to_string(), addr.port().to_string());
    let out = Command::new("java")
        .args(java.args(&["send", &group, &port, "from java"]))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = listener.line(WAIT);
    assert!(
        line.starts_with("127.0.0.1:") && line.ends_with(": from java"),
        "{line}"
    );
}

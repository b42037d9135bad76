//! Private network namespaces for tests, created and deleted by the test itself.
//!
//! `Netns::create` makes `mc-<pid>-<tag>` (the process id keeps parallel runs apart) with its
//! loopback up and IPv6 duplicate address detection off, so link-local addresses are usable at
//! once. `Drop` deletes it, which also deletes the veth ends inside, on every exit path of the
//! test (panics included). Declare processes that run inside AFTER the namespace, so they are
//! dropped (killed) first.

use std::process::Command;

use super::Proc;

/// Our binary, as cargo built it for the integration tests.
pub const BIN: &str = env!("CARGO_BIN_EXE_multicast");

/// A network namespace, deleted on drop.
pub struct Netns {
    pub name: String,
}

impl Netns {
    /// Creates `mc-<pid>-<tag>`; `Err` says why it could not (not root, no `ip`, ...).
    pub fn create(tag: &str) -> Result<Netns, String> {
        let name = format!("mc-{}-{tag}", std::process::id());
        ip(&["netns", "add", &name])?;
        let ns = Netns { name }; // from here on, Drop deletes it whatever happens
        for sysctl in [
            "net.ipv6.conf.all.accept_dad=0",
            "net.ipv6.conf.default.accept_dad=0",
        ] {
            ns.exec(&["sysctl", "-qw", sysctl])?;
        }
        ns.exec(&["ip", "link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// Adds a veth pair `a` <-> `b` inside this namespace, both ends up.
    pub fn add_veth_pair(&self, a: &str, b: &str) -> Result<(), String> {
        self.exec(&["ip", "link", "add", a, "type", "veth", "peer", "name", b])?;
        self.exec(&["ip", "link", "set", a, "up"])?;
        self.exec(&["ip", "link", "set", b, "up"])?;
        Ok(())
    }

    /// Links two namespaces with a veth pair: `dev` in each, with the given IPv4 address/prefix.
    pub fn link(
        one: &Netns,
        one_addr: &str,
        two: &Netns,
        two_addr: &str,
        dev: &str,
    ) -> Result<(), String> {
        let peer = format!("{dev}p");
        ip(&[
            "link", "add", dev, "netns", &one.name, "type", "veth", "peer", "name", &peer, "netns",
            &two.name,
        ])?;
        two.exec(&["ip", "link", "set", &peer, "name", dev])?;
        for (ns, addr) in [(one, one_addr), (two, two_addr)] {
            ns.exec(&["ip", "addr", "add", addr, "dev", dev])?;
            ns.exec(&["ip", "link", "set", dev, "up"])?;
        }
        Ok(())
    }

    /// Runs a command inside the namespace to completion; its stdout.
    pub fn exec(&self, args: &[&str]) -> Result<String, String> {
        let mut full = vec!["netns", "exec", &self.name];
        full.extend_from_slice(args);
        ip(&full)
    }

    /// Starts our binary inside the namespace.
    pub fn multicast(&self, args: &[&str]) -> Proc {
        let mut full = vec!["netns", "exec", &self.name, BIN];
        full.extend_from_slice(args);
        Proc::spawn("ip", &full)
    }

    /// Runs our binary inside the namespace to completion: (exit code, stdout).
    pub fn run_multicast(&self, args: &[&str]) -> (i32, String) {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.name, BIN])
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if let Err(e) = ip(&["netns", "del", &self.name]) {
            eprintln!("could not delete network namespace {}: {e}", self.name);
        }
    }
}

/// Runs `ip args...`; its stdout, or stderr as the error.
pub fn ip(args: &[&str]) -> Result<String, String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip {}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Runs `setup`, or gives why the test must be skipped: not root, no `ip`, or the kernel
/// refusing namespaces (`EPERM`, as in a container). Any other failure is a real one: it panics.
pub fn or_skip<T>(setup: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    support::require::root("for network namespaces")?;
    support::require::command("ip", "apt-get install iproute2")?;
    match setup() {
        Ok(value) => Ok(value),
        Err(why) if super::is_permission_error(&why) => Err(format!(
            "network namespaces are not permitted here (run as root outside a container, or see tests/lab): {why}"
        )),
        Err(why) => panic!("{why}"),
    }
}

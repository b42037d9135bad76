//! The independent client: `tests/python/rpc_client.py`, written in Python (standard
//! library only) from `PROTOCOL.md` alone, calls this crate's server as a big-endian
//! 32-bit machine and as a little-endian 64-bit one. It prints PASS/FAIL lines and exits
//! non-zero on any failure.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use rpc_lite::tcp_transport::TcpServerConfig;
use rpc_lite::udp_transport::UdpServerConfig;

fn client_script() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/rpc_client.py")
}

/// Runs the script with `args`; returns its output after checking it passed.
fn run_client(args: &[&str]) -> String {
    let output = Command::new("python3")
        .arg(client_script())
        .args(args)
        .output()
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "python client failed:\n{stdout}\n{stderr}"
    );
    assert!(!stdout.contains("FAIL"), "{stdout}");
    assert!(stdout.contains("PASS"), "no checks ran:\n{stdout}");
    stdout
}

#[tokio::test(flavor = "multi_thread")]
async fn the_python_client_calls_the_rust_server_as_be32_and_le64() {
    support::skip_unless!(support::require::command(
        "python3",
        "apt-get install python3, or see python.org"
    ));
    let tcp = tcp_demo(TcpServerConfig::default()).await;
    let udp = udp_demo(UdpServerConfig::default()).await;
    let (tcp_addr, udp_addr) = (tcp.addr(), udp.addr());
    // Both runs at once: each waits on timeouts (UDP loss checks), not on the CPU.
    let tcp_run = tokio::task::spawn_blocking(move || run_client(&[&tcp_addr]));
    let udp_run =
        tokio::task::spawn_blocking(move || run_client(&[&udp_addr, "--transport", "udp"]));
    let out = tcp_run.await.unwrap() + &udp_run.await.unwrap();
    for needle in ["be32", "le64"] {
        assert!(
            out.to_lowercase().contains(needle),
            "the client ran as {needle}:\n{out}"
        );
    }
}

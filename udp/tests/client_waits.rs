//! `scripts/client-waits.awk`, the reader of `perf sched timehist --state` behind
//! `scripts/client-waits.sh`, on a hand-made trace whose answer is worked out below.
//!
//! The trace (`data/timehist-two-workers.txt`): a client (pid 10) with two threads on CPU 0
//! and a one-thread server (pid 20) on CPU 1.
//! - thread 12 was runnable 3 ms (100.001-100.004) while thread 11 ran: behind its own thread;
//! - thread 11 left the CPU preempted (`R`) and waited 4 ms while thread 12 ran: its own thread;
//! - thread 12, woken again, waited 1 ms behind a kworker: another task;
//! - the server, woken at 100.008, waited 1 ms on a CPU that was still idle.
//!
//! So the client waited 8.0 ms (longest 4.0), 7.0 of it behind its own threads and 1.0 behind
//! other tasks; the server waited 1.0 ms, all of it idle.

use std::path::Path;
use std::process::Command;

fn run_awk(client: &str, server: &str) -> std::process::Output {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    Command::new("awk")
        .arg("-f")
        .arg(dir.join("scripts/client-waits.awk"))
        .args([
            "-v",
            &format!("client={client}"),
            "-v",
            &format!("server={server}"),
        ])
        .arg(dir.join("tests/data/timehist-two-workers.txt"))
        .output()
        .expect("awk runs")
}

#[test]
fn sorts_each_wait_by_what_ran_on_that_cpu_meanwhile() {
    support::skip_unless!(support::require::command("awk", "apt-get install mawk"));
    let out = run_awk("10", "20");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let expected = "\
traced 0.014 s on every CPU
client: runnable but not running 8.0 ms (longest 4.0 ms); meanwhile on that CPU: its own other threads 7.0 ms, the server 0.0 ms, idle 0.0 ms, other tasks 1.0 ms
server: runnable but not running 1.0 ms (longest 1.0 ms); meanwhile on that CPU: its own other threads 0.0 ms, the client 0.0 ms, idle 1.0 ms, other tasks 0.0 ms
";
    assert_eq!(text, expected);
}

#[test]
fn a_pid_missing_from_the_trace_is_an_error_not_zeros() {
    support::skip_unless!(support::require::command("awk", "apt-get install mawk"));
    let out = run_awk("10", "30");
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("no thread of pid 10 (client) or 30 (server)"),
        "{text}"
    );
}

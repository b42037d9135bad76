//! The chat's bounds under hostile peers: a member that never reads, a slowloris, an
//! idle member, the connection cap.

mod chat_support;

use chat_support::{Peer, WAIT, start};
use std::time::Duration;
use tcp::chat::ChatConfig;
use tcp::server::ServerLimits;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::watch;

/// Messages each of the two talkative members sends.
const MESSAGES: usize = 5_000;

fn numbered(i: usize) -> String {
    format!("line {i:05} with a little padding to make it a bit longer\n")
}

/// How far a sender may run ahead of the member reading it (lines). The window keeps the
/// reading members' backlog far below the outbox budget however slow the test machine is;
/// the member that never reads is pushed everything regardless.
const WINDOW: usize = 200;

/// Sends the numbered lines in blocks, never more than [`WINDOW`] ahead of `read_so_far`.
async fn send_numbered(
    mut writer: OwnedWriteHalf,
    mut read_so_far: watch::Receiver<usize>,
) -> OwnedWriteHalf {
    const BLOCK: usize = 50;
    for start in (0..MESSAGES).step_by(BLOCK) {
        read_so_far
            .wait_for(|&read| start < read + WINDOW)
            .await
            .unwrap();
        let block: String = (start..(start + BLOCK).min(MESSAGES))
            .map(numbered)
            .collect();
        writer.write_all(block.as_bytes()).await.unwrap();
    }
    writer
}

/// Reads until `want` lines from `from` have arrived, publishing progress; returns them,
/// the other lines, and the reader.
async fn read_messages(
    mut reader: BufReader<OwnedReadHalf>,
    from: &str,
    want: usize,
    progress: watch::Sender<usize>,
) -> (Vec<String>, Vec<String>, BufReader<OwnedReadHalf>) {
    let prefix = format!("{from}: ");
    let (mut messages, mut others) = (Vec::new(), Vec::new());
    while messages.len() < want {
        let mut line = String::new();
        let n = tokio::time::timeout(WAIT, reader.read_line(&mut line))
            .await
            .unwrap()
            .unwrap();
        assert!(
            n > 0,
            "{from}: connection closed after {} messages; other lines: {others:?}",
            messages.len()
        );
        match line.strip_prefix(&prefix) {
            Some(text) => {
                messages.push(text.to_string());
                progress.send_replace(messages.len());
            }
            None => others.push(line),
        }
    }
    (messages, others, reader)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_that_never_reads_is_evicted_and_nobody_else_loses_a_message() {
    const BUDGET: usize = 64 * 1024;
    let server = start(ChatConfig {
        queue_bytes: BUDGET,
        ..ChatConfig::default()
    })
    .await;
    // The slow member shrinks its receive buffer so the kernel cannot hide the backlog.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut slow = Peer::from_stream(socket.connect(server.addr).await.unwrap());
    slow.send(b"slow\n").await;
    slow.expect("* slow joined\n").await;
    let mut alice = Peer::join(server.addr, "alice").await;
    let bob = Peer::join(server.addr, "bob").await;
    alice.expect("* bob joined\n").await;

    // alice and bob each send 5 000 lines (about 330 KB) while reading each other's; the
    // slow member is sent all 10 000 lines, far beyond its budget and kernel buffers.
    let (alice_progress, alice_read_so_far) = watch::channel(0);
    let (bob_progress, bob_read_so_far) = watch::channel(0);
    let alice_reads = tokio::spawn(read_messages(alice.reader, "bob", MESSAGES, alice_progress));
    let bob_reads = tokio::spawn(read_messages(bob.reader, "alice", MESSAGES, bob_progress));
    let (_alice_w, _bob_w) = tokio::join!(
        send_numbered(alice.writer, bob_read_so_far),
        send_numbered(bob.writer, alice_read_so_far)
    );
    let (alice_got, mut alice_notices, mut alice_reader) = alice_reads.await.unwrap();
    let (bob_got, _, _) = bob_reads.await.unwrap();
    while !alice_notices.contains(&"* slow left\n".to_string()) {
        let mut line = String::new();
        let n = tokio::time::timeout(WAIT, alice_reader.read_line(&mut line))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "alice was disconnected");
        alice_notices.push(line);
    }

    let expected: Vec<String> = (0..MESSAGES).map(numbered).collect();
    assert!(
        alice_got == expected,
        "alice missed or reordered some of bob's lines"
    );
    assert!(
        bob_got == expected,
        "bob missed or reordered some of alice's lines"
    );
    assert_eq!(alice_notices, vec!["* slow left\n"]);
    assert_eq!(server.registry.names(), vec!["alice", "bob"]);
    // Memory stayed bounded: no outbox ever held more than its budget.
    let peak = server.registry.peak_queued_bytes();
    assert!(
        peak <= BUDGET,
        "an outbox held {peak} bytes, budget {BUDGET}"
    );
    assert!(
        peak > BUDGET / 2,
        "the slow member's queue should have filled up (peak {peak})"
    );
    // The evicted member's connection is closed: what it can still read ends in EOF.
    let mut rest = Vec::new();
    tokio::time::timeout(WAIT, slow.reader.read_to_end(&mut rest))
        .await
        .unwrap()
        .ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_line_that_stalls_past_the_read_deadline_is_dropped() {
    let limits = ServerLimits {
        read_timeout: Duration::from_millis(200),
        ..ServerLimits::default()
    };
    let server = start(ChatConfig {
        limits,
        ..ChatConfig::default()
    })
    .await;
    let mut alice = Peer::join(server.addr, "alice").await;
    // Before joining: half a name, then silence.
    let mut loris = Peer::connect(server.addr).await;
    loris.send(b"lor").await;
    loris.expect_closed().await;
    // After joining: half a message, then silence.
    let mut bob = Peer::join(server.addr, "bob").await;
    alice.expect("* bob joined\n").await;
    bob.send(b"I will never finish this").await;
    bob.expect_closed().await;
    alice.expect("* bob left\n").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_member_with_nothing_pending_is_never_timed_out() {
    let limits = ServerLimits {
        read_timeout: Duration::from_millis(100),
        ..ServerLimits::default()
    };
    let server = start(ChatConfig {
        limits,
        ..ChatConfig::default()
    })
    .await;
    let mut alice = Peer::join(server.addr, "alice").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    alice.send(b"/who\n").await;
    alice.expect("* online: alice\n").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_cap_are_closed_at_once() {
    let limits = ServerLimits {
        max_connections: 2,
        ..ServerLimits::default()
    };
    let server = start(ChatConfig {
        limits,
        ..ChatConfig::default()
    })
    .await;
    let mut alice = Peer::join(server.addr, "alice").await;
    let _bob = Peer::join(server.addr, "bob").await;
    let mut third = Peer::connect(server.addr).await;
    third.expect_closed().await;
    alice.expect("* bob joined\n").await;
    alice.send(b"/who\n").await;
    alice.expect("* online: alice bob\n").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_whose_socket_stays_full_past_the_write_deadline_is_evicted() {
    // A queue too big to overflow here: only the write deadline can catch the slow member.
    let limits = ServerLimits {
        write_timeout: Duration::from_millis(300),
        ..ServerLimits::default()
    };
    let config = ChatConfig {
        queue_bytes: 64 << 20,
        limits,
        ..ChatConfig::default()
    };
    let server = start(config).await;
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut slow = Peer::from_stream(socket.connect(server.addr).await.unwrap());
    slow.send(b"slow\n").await;
    slow.expect("* slow joined\n").await;
    let mut alice = Peer::join(server.addr, "alice").await;
    // About 1 MB: far more than the kernel buffers between the server and `slow` hold.
    let line = format!("{}\n", "z".repeat(1000));
    for _ in 0..1000 {
        alice.send(line.as_bytes()).await;
    }
    alice.expect("* slow left\n").await;
    assert_eq!(server.registry.names(), vec!["alice"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_over_its_input_rate_is_read_more_slowly_and_loses_nothing() {
    let config = ChatConfig {
        max_input_rate: 20_000,
        ..ChatConfig::default()
    };
    let server = start(config).await;
    let mut alice = Peer::join(server.addr, "alice").await;
    let mut bob = Peer::join(server.addr, "bob").await;
    alice.expect("* bob joined\n").await;
    // 50 lines of 1000 bytes: a 20 000-byte burst passes, the other 30 000 take 1.5 s.
    let line = format!("{}\n", "f".repeat(999));
    let start = std::time::Instant::now();
    alice.send(line.repeat(50).as_bytes()).await;
    for _ in 0..50 {
        assert_eq!(bob.line().await, format!("alice: {line}"));
    }
    let took = start.elapsed();
    assert!(
        took >= Duration::from_secs(1),
        "50 000 bytes at 20 000 B/s arrived in {took:?}"
    );
}

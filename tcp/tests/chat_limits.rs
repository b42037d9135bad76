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
        input_burst: 20_000,
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joining_has_one_deadline_for_all_its_name_lines() {
    let limits = ServerLimits {
        read_timeout: Duration::from_millis(300),
        ..ServerLimits::default()
    };
    let server = start(ChatConfig {
        limits,
        ..ChatConfig::default()
    })
    .await;
    // A bad name every 100 ms: each line is answered, but joining never ends.
    let mut loris = Peer::connect(server.addr).await;
    let give_up = std::time::Instant::now() + Duration::from_secs(3);
    loop {
        assert!(
            std::time::Instant::now() < give_up,
            "a peer that never joins kept its connection for 3 s (read deadline 0.3 s)"
        );
        if loris
            .writer
            .write_all(b"no spaces allowed\n")
            .await
            .is_err()
        {
            break;
        }
        match loris.line().await.as_str() {
            "" => break, // closed by the server
            line => assert!(line.starts_with("! "), "{line:?}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Peer::join(server.addr, "alice").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peers_dribbling_their_name_make_room_for_a_newcomer() {
    // Three slots held by peers that dribble a name a byte at a time. The read deadline
    // (8 s) outlasts the test: only the cap's rule can let the newcomer in, once one of
    // them has used an eighth of its time to join (1 s).
    let limits = ServerLimits {
        max_connections: 3,
        read_timeout: Duration::from_secs(8),
        ..ServerLimits::default()
    };
    let server = start(ChatConfig {
        limits,
        ..ChatConfig::default()
    })
    .await;
    let mut dribblers = Vec::new();
    for _ in 0..3 {
        let mut peer = Peer::connect(server.addr).await;
        dribblers.push(tokio::spawn(async move {
            for _ in 0..80 {
                if peer.writer.write_all(b"d").await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }));
    }
    let give_up = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        assert!(
            std::time::Instant::now() < give_up,
            "three peers dribbling their names kept a newcomer out for 5 s"
        );
        let mut newcomer = Peer::connect(server.addr).await;
        newcomer.send(b"alice\n").await;
        let mut line = String::new();
        // A newcomer over the cap is closed at once: end of stream, or a reset.
        let answer = tokio::time::timeout(WAIT, newcomer.reader.read_line(&mut line)).await;
        if matches!(answer, Ok(Ok(_))) && line == "* alice joined\n" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for dribbler in dribblers {
        dribbler.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sender_within_its_limits_never_evicts_a_reader_who_keeps_up() {
    // The reader reads at up to 800 KB/s, far more than the sender's 128 KiB/s, through
    // kernel buffers of a few KiB. A burst bigger than the reader's queue (as a burst of
    // one second's worth, 128 KiB, is for a 96 KiB queue) would evict it all the same.
    let config = ChatConfig {
        max_input_rate: 128 * 1024,
        queue_bytes: 96 * 1024,
        send_buffer: 4096,
        ..ChatConfig::default()
    };
    assert_eq!(config.check(), Ok(()));
    let server = start(config).await;
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut reader = Peer::from_stream(socket.connect(server.addr).await.unwrap());
    reader.send(b"reader\n").await;
    reader.expect("* reader joined\n").await;
    let mut sender = Peer::join(server.addr, "s").await;
    reader.expect("* s joined\n").await;
    // 4,000 lines of 64 bytes: 256 KB, twice the burst of one second's worth.
    const LINES: usize = 4_000;
    let line = |i: usize| format!("{i:06} {}\n", "r".repeat(56));
    let all: String = (0..LINES).map(line).collect();
    let sending = tokio::spawn(async move {
        sender.send(all.as_bytes()).await;
        sender
    });
    let mut got = 0;
    let mut chunk = vec![0u8; 8192];
    let mut pending = Vec::new();
    while got < LINES {
        let n = tokio::time::timeout(WAIT, reader.reader.read(&mut chunk))
            .await
            .expect("the reader waited 10 s for a line")
            .unwrap();
        assert!(n > 0, "the reader was evicted after {got} of {LINES} lines");
        pending.extend_from_slice(&chunk[..n]);
        while let Some(end) = pending.iter().position(|&b| b == b'\n') {
            let text: Vec<u8> = pending.drain(..=end).collect();
            assert_eq!(
                String::from_utf8(text).unwrap(),
                format!("s: {}", line(got))
            );
            got += 1;
        }
        tokio::time::sleep(Duration::from_millis(10)).await; // 8 KiB per 10 ms at most
    }
    let _sender = sending.await.unwrap();
    assert_eq!(server.registry.names(), vec!["reader", "s"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_line_is_read_no_faster_than_the_input_rate() {
    const RATE: u64 = 256 * 1024;
    let server = start(ChatConfig {
        max_input_rate: RATE,
        ..ChatConfig::default()
    })
    .await;
    let alice = Peer::join(server.addr, "alice").await;
    // 1 MiB without a newline: thrown away as it arrives, but read at the rate all the
    // same, so an endless line cannot keep a core busy.
    let endless = vec![b'x'; 1 << 20];
    let started = std::time::Instant::now();
    let mut writer = alice.writer;
    let sending = tokio::spawn(async move {
        writer.write_all(&endless).await.unwrap();
        writer.write_all(b"\n/who\n").await.unwrap();
        writer
    });
    let mut reader = alice.reader;
    let mut line = String::new();
    for expected in ["! line too long (max 1024 bytes)\n", "* online: alice\n"] {
        line.clear();
        tokio::time::timeout(WAIT, reader.read_line(&mut line))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(line, expected);
    }
    let took = started.elapsed();
    sending.await.unwrap();
    // Kernel buffers may take a few hundred KiB before the server reads anything; the
    // rest passes at 256 KiB/s.
    assert!(
        took >= Duration::from_secs(1),
        "1 MiB of an over-long line was read in {took:?} at {RATE} B/s"
    );
}

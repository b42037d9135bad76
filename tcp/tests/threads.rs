//! Tests that count this process's threads by name (`/proc/self/task/*/comm`), alone in
//! their test binary, and run one after another by its one test (tests in one binary run
//! in parallel, and would see each other's threads):
//! - the tuned echo's connections run on threads of their own while at most `own_threads`
//!   are open, hand them back to the runtime (losing nothing) when more arrive, and get
//!   them again once connections are few;
//! - only a server whose handlers may ask for it runs a deadline sweeper, and it ends
//!   with its server.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use tcp::echo::{EchoLimits, EchoServer, Mode};
use tcp::server::conn_limit::SWEEPER_THREAD;
use tcp::server::{CancellationToken, ServerLimits, serve, serve_slots};

const TEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Name prefix of the threads that serve one echo connection each.
const OWN_THREAD: &str = "echo-own-";

/// Threads of this process whose name starts with `prefix`.
fn threads_named(prefix: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|name| name.starts_with(prefix))
        .count()
}

/// Waits (bounded) until `threads_named(prefix)` is `want`, and returns what it saw last.
fn settle_at(prefix: &str, want: usize) -> usize {
    let give_up = Instant::now() + TEST_TIMEOUT;
    loop {
        let running = threads_named(prefix);
        if running == want || Instant::now() > give_up {
            return running;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A connection that has had one echo back (so the server has placed it).
fn echoing_client(addr: SocketAddr) -> TcpStream {
    let mut client = TcpStream::connect(addr).unwrap();
    client.set_read_timeout(Some(TEST_TIMEOUT)).unwrap();
    client.write_all(b"ping").unwrap();
    let mut back = [0u8; 4];
    client.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"ping");
    client
}

/// Half-closes `client` and reads to the server's end-of-stream.
fn close(client: TcpStream) {
    client.shutdown(std::net::Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    (&client).read_to_end(&mut rest).unwrap();
}

/// `client` sends `message` and reads it back.
fn round_trip(mut client: &TcpStream, message: &[u8]) {
    client.write_all(message).unwrap();
    let mut back = vec![0u8; message.len()];
    client.read_exact(&mut back).unwrap();
    assert_eq!(back, message);
}

#[test]
fn the_first_connections_get_threads_and_hand_them_back_when_crowded() {
    only_serve_slots_runs_a_sweeper_and_it_ends_with_its_server();
    the_plain_echo_and_zero_own_threads_keep_every_connection_a_task();
    let limits = EchoLimits {
        own_threads: 2,
        ..EchoLimits::from(ServerLimits::default())
    };
    let loopback: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let server = EchoServer::start(Mode::Async, loopback, limits).unwrap();
    let addr = server.local_addr();
    assert_eq!(threads_named(OWN_THREAD), 0, "no connection, no thread");

    let first = echoing_client(addr);
    let second = echoing_client(addr);
    assert_eq!(settle_at(OWN_THREAD, 2), 2, "two connections, two threads");

    // A third: more connections than threads were set aside for. It is a task, and the
    // two threads hand their connections back after their next message.
    let third = echoing_client(addr);
    round_trip(&first, b"one");
    round_trip(&second, b"two");
    assert_eq!(
        settle_at(OWN_THREAD, 0),
        0,
        "both threads handed their connections back"
    );
    for client in [&first, &second, &third] {
        round_trip(client, b"still served, as tasks"); // nothing lost in the hand-over
    }

    // Back to two open: a newcomer gets a thread again (once the server has seen the
    // two others end, which it does a moment after their end-of-stream reaches them).
    close(third);
    close(second);
    let give_up = Instant::now() + TEST_TIMEOUT;
    let fourth = loop {
        let newcomer = echoing_client(addr);
        if threads_named(OWN_THREAD) == 1 || Instant::now() > give_up {
            break newcomer;
        }
        std::thread::sleep(Duration::from_millis(20)); // counted before the others ended
    };
    assert_eq!(settle_at(OWN_THREAD, 1), 1, "the newcomer has a thread");

    // A connection that was handed back still ends as the protocol says.
    round_trip(&first, b"last");
    first.shutdown(std::net::Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    (&first).read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty(), "nothing more owed, then end-of-stream");
    round_trip(&fourth, b"four");
    server.stop().unwrap();
    assert_eq!(settle_at(OWN_THREAD, 0), 0, "shutdown ends the threads");
}

/// Run first, by the one test (tests in one binary run in parallel, and would see each
/// other's threads).
fn the_plain_echo_and_zero_own_threads_keep_every_connection_a_task() {
    for (mode, own_threads) in [(Mode::Plain, 4), (Mode::Async, 0)] {
        let limits = EchoLimits {
            own_threads,
            ..EchoLimits::from(ServerLimits::default())
        };
        let server = EchoServer::start(mode, "127.0.0.1:0".parse().unwrap(), limits).unwrap();
        let _client = echoing_client(server.local_addr());
        assert_eq!(threads_named(OWN_THREAD), 0, "{mode:?} with {own_threads}");
        server.stop().unwrap();
    }
}

/// Run first, by the one test. `serve` hands its handlers no slot, so none can ask the
/// table to keep a deadline: it starts no sweeper. `serve_slots` starts one, and the
/// sweeper ends once its server has stopped.
fn only_serve_slots_runs_a_sweeper_and_it_ends_with_its_server() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    for (slots, sweepers) in [(false, 0), (true, 1)] {
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let limits = ServerLimits::default();
        let shutdown = CancellationToken::new();
        // Each handler closes its connection at once.
        let server = if slots {
            runtime.spawn(serve_slots(
                listener,
                limits,
                shutdown.clone(),
                |s, _, _| async move { drop(s) },
            ))
        } else {
            runtime.spawn(serve(
                listener,
                limits,
                shutdown.clone(),
                |s, _, _| async move { drop(s) },
            ))
        };
        // One connection served and closed: the accept loop is past its start.
        let mut client = TcpStream::connect(addr).unwrap();
        client.set_read_timeout(Some(TEST_TIMEOUT)).unwrap();
        let mut rest = Vec::new();
        client.read_to_end(&mut rest).unwrap();
        assert_eq!(
            threads_named(SWEEPER_THREAD),
            sweepers,
            "sweepers while serving (serve_slots: {slots})"
        );
        shutdown.cancel();
        runtime.block_on(server).unwrap();
        assert_eq!(
            settle_at(SWEEPER_THREAD, 0),
            0,
            "the sweeper ends with its server"
        );
    }
}

//! The load generators count what they should: round trips and bytes against a real echo
//! server, and mismatches against a server that corrupts what it echoes.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use super::echo::{EchoBench, run as run_echo};
use super::idle::{IdleBench, run as run_idle};
use super::stream::{StreamBench, run as run_stream};
use tcp::echo::{EchoServer, Mode};
use tcp::server::ServerLimits;

fn echo_server() -> EchoServer {
    EchoServer::start(
        Mode::Async,
        "127.0.0.1:0".parse().unwrap(),
        ServerLimits::default(),
    )
    .unwrap()
}

/// An "echo" server that flips the first byte of every chunk it sends back.
fn corrupting_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut stream = stream;
                let mut buf = [0u8; 65536];
                while let Ok(n) = stream.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    buf[0] ^= 0xff;
                    if stream.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                let _ = stream.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    addr
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().unwrap()
}

#[test]
fn echo_bench_counts_round_trips_and_catches_corruption() {
    let server = echo_server();
    let bench = EchoBench {
        addr: server.local_addr(),
        conns: 4,
        size: 100,
        duration: Duration::from_millis(200),
    };
    let good = runtime().block_on(run_echo(bench));
    assert!(good.round_trips > 0);
    assert_eq!((good.mismatches, good.errors), (0, 0));
    assert!(good.summary(&bench).contains("mismatches=0 errors=0"));
    server.stop().unwrap();

    let bad = runtime().block_on(run_echo(EchoBench {
        addr: corrupting_server(),
        ..bench
    }));
    assert!(bad.round_trips > 0);
    assert_eq!(
        bad.mismatches, bad.round_trips,
        "every corrupted echo is caught"
    );
}

#[test]
fn stream_bench_moves_bytes_and_catches_corruption() {
    let server = echo_server();
    let bench = StreamBench {
        addr: server.local_addr(),
        conns: 2,
        duration: Duration::from_millis(200),
    };
    let good = runtime().block_on(run_stream(bench));
    assert!(good.sent > 0 && good.mb_per_s > 0.0);
    assert_eq!(good.received, good.sent, "every byte came back");
    assert_eq!((good.mismatches, good.errors), (0, 0));
    server.stop().unwrap();

    let bad = runtime().block_on(run_stream(StreamBench {
        addr: corrupting_server(),
        ..bench
    }));
    assert!(bad.mismatches > 0);
}

#[test]
fn idle_bench_holds_connections_and_reads_memory() {
    let server = echo_server();
    let report = runtime().block_on(run_idle(IdleBench {
        addr: server.local_addr(),
        conns: 50,
        server_pid: Some(std::process::id()), // the server runs in this process
        settle: Duration::from_millis(10),
    }));
    assert_eq!((report.open, report.errors), (50, 0));
    assert!(report.rss_kib.is_some_and(|kib| kib > 0));
    server.stop().unwrap();
}

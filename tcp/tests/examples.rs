//! The examples are teaching code: check that the minimal echo server's connection
//! function really is an RFC 862 echo with half-close, as its comments promise.

#[allow(dead_code)] // its `main` is not called here
#[path = "../examples/echo_server.rs"]
mod echo_server;

use std::io::{Read, Write};
use std::time::Duration;

use tcp::{ServerSocket, Socket};

#[test]
fn the_example_server_echoes_until_half_close() {
    let server = ServerSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = server.local_addr().unwrap().to_string();
    let serving = std::thread::spawn(move || {
        let (conn, _) = server.accept().unwrap();
        echo_server::echo(conn).unwrap()
    });
    let mut client = Socket::connect(&addr, Some(Duration::from_secs(5))).unwrap();
    client
        .set_so_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let message = vec![0xA5u8; 100_000];
    client.write_all(&message).unwrap();
    client.shutdown_output().unwrap();
    let mut echoed = Vec::new();
    client.read_to_end(&mut echoed).unwrap();
    assert!(echoed == message);
    assert_eq!(serving.join().unwrap(), 100_000);
}

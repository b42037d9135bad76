//! `tcp chat-client`'s library side against an in-process server.

mod chat_support;

use chat_support::{Peer, WAIT, start};
use std::io::Write;
use std::sync::{Arc, Mutex};
use tcp::chat::ChatConfig;
use tcp::chat::client::{self, ClientError};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// Stdout stand-in the test can read.
#[derive(Clone, Default)]
struct Screen(Arc<Mutex<Vec<u8>>>);

impl Write for Screen {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Screen {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_joins_relays_both_ways_and_leaves_at_end_of_input() {
    let server = start(ChatConfig::default()).await;
    let mut bob = Peer::join(server.addr, "bob").await;
    let (typed, input) = mpsc::channel(8);
    let screen = Screen::default();
    let mut out = screen.clone();
    let stream = TcpStream::connect(server.addr).await.unwrap();
    let client = tokio::spawn(async move { client::run(stream, "alice", input, &mut out).await });

    bob.expect("* alice joined\n").await;
    typed.send(b"hello bob\n".to_vec()).await.unwrap();
    bob.expect("alice: hello bob\n").await;
    bob.send(b"hi alice\n").await;
    // Wait until alice's screen shows bob's answer, then end her input.
    tokio::time::timeout(WAIT, async {
        while !screen.text().contains("bob: hi alice\n") {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    })
    .await
    .unwrap();
    drop(typed);
    tokio::time::timeout(WAIT, client)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    bob.expect("* alice left\n").await;
    assert_eq!(screen.text(), "* alice joined\nbob: hi alice\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_name_is_an_error_naming_the_reason() {
    let server = start(ChatConfig::default()).await;
    let _alice = Peer::join(server.addr, "alice").await;
    let (_typed, input) = mpsc::channel(1);
    let stream = TcpStream::connect(server.addr).await.unwrap();
    let err = client::run(stream, "alice", input, &mut Screen::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ClientError::Refused(reason) if reason == "name taken"),
        "{err}"
    );
    assert_eq!(err.to_string(), "server refused to let us join: name taken");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_name_is_refused_before_connecting_to_anything() {
    let server = start(ChatConfig::default()).await;
    let (_typed, input) = mpsc::channel(1);
    let stream = TcpStream::connect(server.addr).await.unwrap();
    let err = client::run(stream, "two words", input, &mut Screen::default())
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::BadName(_)), "{err}");
    assert!(server.registry.is_empty());
}

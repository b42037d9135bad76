//! The chat protocol end to end: raw bytes to an in-process server, raw bytes asserted.

mod chat_support;

use chat_support::{Peer, start};
use tcp::chat::ChatConfig;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_and_leave_notices_reach_everyone() {
    let server = start(ChatConfig::default()).await;
    let mut alice = Peer::join(server.addr, "alice").await;
    let mut bob = Peer::join(server.addr, "bob").await;
    alice.expect("* bob joined\n").await;
    bob.send(b"/quit\nthis line comes too late\n").await;
    bob.expect("* bye\n").await;
    bob.expect_closed().await;
    alice.expect("* bob left\n").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_reaches_every_other_member_and_not_the_sender() {
    let server = start(ChatConfig::default()).await;
    let mut alice = Peer::join(server.addr, "alice").await;
    let mut bob = Peer::join(server.addr, "bob").await;
    let mut carol = Peer::join(server.addr, "carol").await;
    alice.expect("* bob joined\n").await;
    alice.expect("* carol joined\n").await;
    bob.expect("* carol joined\n").await;

    alice.send(b"hello, room: how are you?\r\n").await;
    bob.expect("alice: hello, room: how are you?\n").await;
    carol.expect("alice: hello, room: how are you?\n").await;
    // Had alice received her own line, it would come before bob's.
    bob.send(b"fine\n").await;
    alice.expect("bob: fine\n").await;
    carol.expect("bob: fine\n").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn who_lists_the_members_sorted() {
    let server = start(ChatConfig::default()).await;
    let mut carol = Peer::join(server.addr, "carol").await;
    let _alice = Peer::join(server.addr, "alice").await;
    carol.expect("* alice joined\n").await;
    carol.send(b"/who\n").await;
    carol.expect("* online: alice carol\n").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_name_is_refused_and_the_connection_may_try_again() {
    let server = start(ChatConfig::default()).await;
    let _alice = Peer::join(server.addr, "alice").await;
    let mut second = Peer::connect(server.addr).await;
    second.send(b"alice\n").await;
    second.expect("! name taken\n").await;
    second.send(b"alice2\n").await;
    second.expect("* alice2 joined\n").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_names_get_an_error_line_each() {
    let server = start(ChatConfig::default()).await;
    let mut peer = Peer::connect(server.addr).await;
    let cases: [(&[u8], &str); 6] = [
        (
            b"\n",
            "! invalid name: empty (use 1-32 characters, no spaces or control characters)\n",
        ),
        (b"al ice\n", "! invalid name: no spaces allowed\n"),
        (b"al\tice\n", "! invalid name: no spaces allowed\n"),
        (
            b"al\x01ice\n",
            "! invalid name: no control characters allowed\n",
        ),
        (
            b"abcdefghijklmnopqrstuvwxyz0123456\n",
            "! invalid name: longer than 32 characters\n",
        ),
        (b"\xc3\x28\n", "! invalid UTF-8\n"),
    ];
    for (line, reply) in cases {
        peer.send(line).await;
        peer.expect(reply).await;
    }
    peer.send("abcdefghijklmnopqrstuvwxyzéèàù12\n".as_bytes())
        .await;
    peer.expect("* abcdefghijklmnopqrstuvwxyzéèàù12 joined\n")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_utf8_gets_an_error_line_and_the_member_stays() {
    let server = start(ChatConfig::default()).await;
    let mut alice = Peer::join(server.addr, "alice").await;
    let mut bob = Peer::join(server.addr, "bob").await;
    alice.expect("* bob joined\n").await;
    alice.send(b"caf\xe9\n").await;
    alice.expect("! invalid UTF-8\n").await;
    alice.send("café\n".as_bytes()).await;
    bob.expect("alice: café\n").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_over_long_line_gets_an_error_and_the_next_line_still_works() {
    let config = ChatConfig {
        max_line: 16,
        ..ChatConfig::default()
    };
    let server = start(config).await;
    let mut alice = Peer::join(server.addr, "alice").await;
    let mut bob = Peer::join(server.addr, "bob").await;
    alice.expect("* bob joined\n").await;
    alice.send(&[b'x'; 100_000]).await;
    alice.send(b"\n0123456789abcdef\n").await;
    alice.expect("! line too long (max 16 bytes)\n").await;
    bob.expect("alice: 0123456789abcdef\n").await;
    // A name line is held to the same limit.
    let mut carol = Peer::connect(server.addr).await;
    carol.send(b"a-name-far-longer-than-sixteen-bytes\n").await;
    carol.expect("! line too long (max 16 bytes)\n").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_escapes_and_control_characters() {
    let server = start(ChatConfig::default()).await;
    let mut alice = Peer::join(server.addr, "alice").await;
    let mut bob = Peer::join(server.addr, "bob").await;
    alice.expect("* bob joined\n").await;
    alice.send(b"/nick al\n").await;
    alice
        .expect("! unknown command /nick al (try /who or /quit)\n")
        .await;
    alice.send(b"\x1b[2Jgotcha\n").await;
    alice.expect("! control characters are not allowed\n").await;
    alice.send(b"\n//who is there?\n").await;
    bob.expect("alice: /who is there?\n").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_member_cap_turns_the_next_member_away() {
    let config = ChatConfig {
        max_members: 2,
        ..ChatConfig::default()
    };
    let server = start(config).await;
    let mut alice = Peer::join(server.addr, "alice").await;
    let _bob = Peer::join(server.addr, "bob").await;
    let mut carol = Peer::connect(server.addr).await;
    // Lines sent after the name must not turn the close into a reset that eats the error.
    carol.send(b"carol\nhello?\nanyone?\n").await;
    carol.expect("! server full (2 members)\n").await;
    carol.expect_closed().await;
    alice.expect("* bob joined\n").await;
    alice.send(b"/who\n").await;
    alice.expect("* online: alice bob\n").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abrupt_disconnect_is_a_leave_and_the_server_goes_on() {
    let server = start(ChatConfig::default()).await;
    let mut alice = Peer::join(server.addr, "alice").await;
    {
        // bob vanishes mid-line with a reset (SO_LINGER 0 turns close into RST).
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        let stream = socket.connect(server.addr).await.unwrap();
        let mut bob = Peer::from_stream(stream);
        bob.send(b"bob\n").await;
        bob.expect("* bob joined\n").await;
        bob.send(b"half a li").await;
        let stream = bob.reader.into_inner().reunite(bob.writer).unwrap();
        stream.set_zero_linger().unwrap();
    }
    alice.expect("* bob joined\n").await;
    alice.expect("* bob left\n").await;
    let mut carol = Peer::join(server.addr, "carol").await;
    alice.expect("* carol joined\n").await;
    carol.send(b"/who\n").await;
    carol.expect("* online: alice carol\n").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_of_input_is_a_leave_and_the_server_closes_after_the_queued_lines() {
    let server = start(ChatConfig::default()).await;
    let mut alice = Peer::join(server.addr, "alice").await;
    let mut bob = Peer::join(server.addr, "bob").await;
    alice.expect("* bob joined\n").await;
    bob.send(b"/who\n").await;
    bob.writer.shutdown().await.unwrap();
    bob.expect("* online: alice bob\n").await;
    bob.expect_closed().await;
    alice.expect("* bob left\n").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_tells_the_members_and_closes() {
    let server = start(ChatConfig::default()).await;
    let mut alice = Peer::join(server.addr, "alice").await;
    server.shutdown.cancel();
    alice.expect("* server shutting down\n").await;
    alice.expect_closed().await;
    drop(alice); // the server lingers until the member closes too (or a second passes)
    tokio::time::timeout(chat_support::WAIT, server.task)
        .await
        .unwrap()
        .unwrap();
}

use tokio::io::AsyncWriteExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chat_works_over_ipv6() {
    let Ok(listener) = tokio::net::TcpListener::bind("[::1]:0").await else {
        eprintln!("no IPv6 loopback here; skipped");
        return;
    };
    let addr = listener.local_addr().unwrap();
    let stop = tokio_util::sync::CancellationToken::new();
    tokio::spawn(tcp::chat::ChatServer::new(ChatConfig::default()).serve(listener, stop.clone()));
    let mut alice = Peer::join(addr, "alice").await;
    let mut bob = Peer::join(addr, "bob").await;
    alice.expect("* bob joined\n").await;
    bob.send(b"hello over ::1\n").await;
    alice.expect("bob: hello over ::1\n").await;
    stop.cancel();
}

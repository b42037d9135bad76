//! A chat peer written in Python from `multicast/PROTOCOL.md` alone
//! (tests/python/chat_peer.py) talks with `multicast chat` both ways: the document is enough to
//! interoperate. Skipped with one `skipped:` line where `python3` is not on PATH.

mod common;

use std::time::Duration;

use common::{Proc, listening_addr, unique_group};

const WAIT: Duration = Duration::from_secs(10);

#[test]
fn a_python_peer_following_protocol_md_chats_with_multicast_chat() {
    support::skip_unless!(support::require::command(
        "python3",
        "apt-get install python3"
    ));
    let mut alice = Proc::multicast(&[
        "chat",
        "--group",
        &format!("{}:0", unique_group(50)),
        "--name",
        "alice",
    ]);
    let group = listening_addr(&alice.line(WAIT));
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/chat_peer.py");
    let (ip, port) = (group.ip().to_string(), group.port().to_string());
    let mut python = Proc::spawn("python3", &[script, &ip, &port]);
    assert_eq!(python.line(WAIT), "ready");
    assert_eq!(alice.line(WAIT), "py: hello from python");
    alice.write_line("hi python");
    assert_eq!(python.line(WAIT), "py got: alice: hi python");
    assert_eq!(python.wait_exit(WAIT), Some(0));
}

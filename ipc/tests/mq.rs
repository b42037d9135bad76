//! POSIX message queues between processes: priorities, capacity 10, EAGAIN, stale names.

mod common;

use common::{run, stderr, stdout, unique};
use ipc::mq::{self, DEFAULT_MAX_MESSAGES, Mailbox};

struct Queue(String);

impl Drop for Queue {
    fn drop(&mut self) {
        let _ = mq::unlink(&self.0);
    }
}

fn queue(what: &str) -> Queue {
    let q = Queue(unique(what));
    let out = run(&["mq-create", &q.0, "--message-bytes", "64"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        format!(
            "created /{}: room for 10 messages of up to 64 bytes, mode 0600\n",
            q.0
        )
    );
    q
}

#[test]
fn higher_priority_arrives_first_between_processes() {
    let q = queue("prio");
    for (p, text) in [("1", "low"), ("9", "urgent"), ("1", "low2"), ("5", "mid")] {
        assert!(
            run(&["mq-send", &q.0, "--priority", p, text])
                .status
                .success()
        );
    }
    let out = run(&["mq-receive", &q.0, "--count", "4"]);
    assert_eq!(stdout(&out), "[9] urgent\n[5] mid\n[1] low\n[1] low2\n");
}

#[test]
fn a_full_queue_of_ten_and_an_empty_one_say_eagain_without_blocking() {
    let q = queue("full");
    let mailbox = Mailbox::open(&q.0).unwrap();
    let attr = mailbox.attributes().unwrap();
    assert_eq!(attr.max_messages, DEFAULT_MAX_MESSAGES);
    mailbox.set_nonblocking(true).unwrap();
    assert!(mailbox.attributes().unwrap().nonblocking);
    for i in 0..10 {
        mailbox.send(format!("{i}").as_bytes(), 0).unwrap();
    }
    assert_eq!(mailbox.attributes().unwrap().waiting, 10);
    assert!(mq::is_would_block(
        &mailbox.send(b"eleventh", 0).unwrap_err()
    ));
    let full = run(&["mq-send", &q.0, "--nonblocking", "more"]);
    assert_eq!(full.status.code(), Some(1));
    assert!(
        stderr(&full).contains("Resource temporarily unavailable"),
        "{}",
        stderr(&full)
    );
    let drained = run(&["mq-receive", &q.0, "--count", "20", "--nonblocking"]);
    assert_eq!(stdout(&drained).lines().count(), 10);
    let mut buf = vec![0u8; 64];
    assert!(mq::is_would_block(&mailbox.receive(&mut buf).unwrap_err()));
}

#[test]
fn a_message_above_the_queue_size_is_refused() {
    let q = queue("big");
    let mailbox = Mailbox::open(&q.0).unwrap();
    let err = mailbox.send(&[0u8; 65], 0).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(nix::libc::EMSGSIZE));
}

#[test]
fn an_existing_queue_is_reported_with_the_command_that_removes_it() {
    let q = queue("stale");
    let again = run(&["mq-create", &q.0]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).contains(&format!("hint: remove it with `ipc mq-unlink {}`", q.0)),
        "{}",
        stderr(&again)
    );
    assert!(run(&["mq-unlink", &q.0]).status.success());
    assert!(Mailbox::open(&q.0).is_err());
}

#[test]
fn more_than_msg_max_is_refused_for_an_unprivileged_user() {
    if support::require::root("").is_ok() {
        support::skip!(
            "root may exceed msg_max (CAP_SYS_RESOURCE); run as a normal user to see EINVAL"
        );
    }
    let name = unique("toomany");
    let err = Mailbox::create(&name, DEFAULT_MAX_MESSAGES + 1, 64).unwrap_err();
    assert!(err.to_string().contains("msg_max"), "{err}");
}

#[test]
fn bad_names_are_refused_before_any_system_call() {
    for bad in ["", "a/b", ".hidden", "sp ace"] {
        assert!(
            matches!(
                Mailbox::create(bad, 1, 8),
                Err(ipc::IpcError::BadName { .. })
            ),
            "{bad:?}"
        );
    }
}

#[test]
fn a_timed_receive_takes_a_waiting_message_and_times_out_on_an_empty_queue() {
    let q = Queue(unique("timed"));
    let mailbox = Mailbox::create(&q.0, DEFAULT_MAX_MESSAGES, 64).expect("create");
    mailbox.send(b"here", 3).expect("send");
    let mut buf = [0u8; 64];
    let wait = std::time::Duration::from_millis(10);
    let (len, priority) = mailbox.receive_within(&mut buf, wait).expect("a message");
    assert_eq!((&buf[..len], priority), (&b"here"[..], 3));
    let empty = mailbox.receive_within(&mut buf, wait).expect_err("empty");
    assert!(mq::is_timed_out(&empty), "{empty}");
}

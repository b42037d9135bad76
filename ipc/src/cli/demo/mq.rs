//! Demo: a POSIX message queue as a mailbox between processes that never meet.

use std::process::Stdio;

use ipc::mq::{self, DEFAULT_MAX_MESSAGES, Mailbox};

use crate::cli::self_command;

/// Priorities, capacity, EAGAIN when full and empty, a stale name.
pub fn run() -> anyhow::Result<()> {
    println!("== a mailbox: POSIX message queues (indirect message passing) ==");
    let name = super::unique("mq");
    let result = show(&name);
    let _ = mq::unlink(&name);
    result
}

fn show(name: &str) -> anyhow::Result<()> {
    let mailbox = Mailbox::create(name, DEFAULT_MAX_MESSAGES, 128)?;
    let attr = mailbox.attributes()?;
    println!(
        "mq_getattr: room for {} messages of up to {} bytes (msg_max for unprivileged users: 10)",
        attr.max_messages, attr.message_bytes
    );
    for (priority, text) in [("1", "low"), ("9", "urgent"), ("1", "low again")] {
        self_command(&["mq-send", name, "--priority", priority, text])?.status()?;
    }
    println!("three sender processes deposited: [1] low, [9] urgent, [1] low again");
    let out = self_command(&["mq-receive", name, "--count", "3"])?
        .stderr(Stdio::inherit())
        .output()?;
    let got = String::from_utf8_lossy(&out.stdout);
    println!(
        "a receiver process took them: {}",
        got.lines().collect::<Vec<_>>().join(", ")
    );
    full_and_empty(&mailbox)?;
    match Mailbox::create(name, DEFAULT_MAX_MESSAGES, 128) {
        Err(err) => println!(
            "creating it again: {}",
            err.to_string().replace(name, "NAME")
        ),
        Ok(_) => println!("creating it again: unexpectedly worked"),
    }
    Ok(())
}

fn full_and_empty(mailbox: &Mailbox) -> anyhow::Result<()> {
    mailbox.set_nonblocking(true)?;
    let mut sent = 0;
    let full = loop {
        match mailbox.send(b"x", 0) {
            Ok(()) => sent += 1,
            Err(err) => break err,
        }
    };
    println!(
        "O_NONBLOCK: {sent} sends fit, the next one: EAGAIN: {}",
        mq::is_would_block(&full)
    );
    let mut buf = vec![0u8; 128];
    while mailbox.receive(&mut buf).is_ok() {}
    let empty = mailbox.receive(&mut buf).err();
    println!(
        "O_NONBLOCK: receive on the empty queue: EAGAIN: {}",
        empty.is_some_and(|e| mq::is_would_block(&e))
    );
    Ok(())
}

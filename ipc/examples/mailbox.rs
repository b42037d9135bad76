//! A POSIX message queue in a dozen lines: create, send with priorities, receive highest first,
//! see the capacity, remove. Run: `cargo run -p ipc --example mailbox`. Prints
//! `waiting: 2 of 10`, then `[7] second`, then `[1] first`.

use ipc::mq::{self, Mailbox};

fn main() -> Result<(), ipc::IpcError> {
    let name = format!("ipc-example-{}", std::process::id());
    let mailbox = Mailbox::create(&name, mq::DEFAULT_MAX_MESSAGES, 64)?;
    mailbox.send(b"first", 1)?;
    mailbox.send(b"second", 7)?;
    println!(
        "waiting: {} of {}",
        mailbox.attributes()?.waiting,
        mailbox.attributes()?.max_messages
    );
    let mut buf = [0u8; 64];
    for _ in 0..2 {
        let (len, priority) = mailbox.receive(&mut buf)?;
        println!("[{priority}] {}", String::from_utf8_lossy(&buf[..len]));
    }
    mq::unlink(&name)
}

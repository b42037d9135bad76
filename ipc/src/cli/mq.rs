//! `ipc mq-create | mq-send | mq-receive | mq-unlink`: a POSIX mailbox in terminals.
//!
//! ```text
//! ipc mq-create box                        # at most 10 messages (msg_max), mode 0600
//! ipc mq-send box --priority 1 low         # any process may deposit...
//! ipc mq-send box --priority 9 urgent
//! ipc mq-receive box --count 2             # ...and any may take: "[9] urgent" comes first
//! ipc mq-unlink box
//! ```

use std::io::Write;

use clap::Args;
use ipc::mq::{self, DEFAULT_MAX_MESSAGES, Mailbox};

/// A queue name.
#[derive(Debug, Args)]
pub struct NameArg {
    /// Queue name, without the leading `/`.
    pub name: String,
}

/// `mq-create` flags.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Queue name.
    pub name: String,
    /// Most messages held (unprivileged limit: /proc/sys/fs/mqueue/msg_max, 10 by default).
    #[arg(long, default_value_t = DEFAULT_MAX_MESSAGES)]
    pub max_messages: i64,
    /// Largest message in bytes (unprivileged limit: msgsize_max, 8192 by default).
    #[arg(long, default_value_t = 1024)]
    pub message_bytes: i64,
}

/// `mq-send` flags.
#[derive(Debug, Args)]
pub struct SendArgs {
    /// Queue name.
    pub name: String,
    /// Priority: higher is received first.
    #[arg(long, default_value_t = 0)]
    pub priority: u32,
    /// Fail with EAGAIN instead of waiting when the queue is full.
    #[arg(long)]
    pub nonblocking: bool,
    /// Messages, one per argument.
    #[arg(required = true)]
    pub messages: Vec<String>,
}

/// `mq-receive` flags.
#[derive(Debug, Args)]
pub struct ReceiveArgs {
    /// Queue name.
    pub name: String,
    /// Messages to receive (waits for each unless --nonblocking).
    #[arg(long, default_value_t = 1)]
    pub count: u64,
    /// Stop at once (EAGAIN) when the queue is empty.
    #[arg(long)]
    pub nonblocking: bool,
}

/// Creates the queue and shows its capacity.
pub fn create(args: CreateArgs) -> anyhow::Result<()> {
    let mailbox = Mailbox::create(&args.name, args.max_messages, args.message_bytes)?;
    let attr = mailbox.attributes()?;
    println!(
        "created /{}: room for {} messages of up to {} bytes, mode 0600",
        args.name, attr.max_messages, attr.message_bytes
    );
    Ok(())
}

/// Sends each argument as one message.
pub fn send(args: SendArgs) -> anyhow::Result<()> {
    let mailbox = Mailbox::open(&args.name)?;
    mailbox.set_nonblocking(args.nonblocking)?;
    for message in &args.messages {
        mailbox.send(message.as_bytes(), args.priority)?;
    }
    Ok(())
}

/// Receives `--count` messages, printing `[PRIORITY] text`.
pub fn receive(args: ReceiveArgs) -> anyhow::Result<()> {
    let mailbox = Mailbox::open(&args.name)?;
    mailbox.set_nonblocking(args.nonblocking)?;
    let mut buf = vec![0u8; mailbox.attributes()?.message_bytes as usize];
    let mut out = std::io::stdout().lock();
    for _ in 0..args.count {
        let (len, priority) = match mailbox.receive(&mut buf) {
            Err(err) if args.nonblocking && mq::is_would_block(&err) => break,
            other => other?,
        };
        writeln!(out, "[{priority}] {}", String::from_utf8_lossy(&buf[..len]))?;
    }
    Ok(())
}

/// Removes the queue.
pub fn unlink(args: NameArg) -> anyhow::Result<()> {
    Ok(mq::unlink(&args.name)?)
}

//! `ipc`: the command line of the ipc crate: a demo of every mechanism between real processes, a
//! reader/writer (or server/client) pair per mechanism for two terminals, and a bench that ranks
//! them. Thin: every subcommand calls the library.
//!
//! ```text
//! ipc demo                                   # every mechanism, real processes, one transcript
//! ipc pipe                                   # parent and re-executed child over pipe(2)
//! ipc fifo-read /tmp/f        |  ipc fifo-write /tmp/f hello   (or: echo hi > /tmp/f)
//! ipc uds-echo-server /tmp/s  |  ipc uds-client /tmp/s   (or: socat - UNIX-CONNECT:/tmp/s)
//! ipc shm-create ring  ;  ipc shm-read ring  |  ipc shm-write ring hello  ;  ipc shm-unlink ring
//! ipc mq-create box    ;  ipc mq-receive box |  ipc mq-send box --priority 5 hi ;  ipc mq-unlink box
//! ipc bench [--duration-s 0.3]               # table, then one key=value line
//! ```
//! Errors are one line on stderr (`ipc: error: WHAT: CAUSE`), exit 1; usage mistakes exit 2.
//! Logs go to stderr (`RUST_LOG=info`).
#![forbid(unsafe_code)]

mod cli;

fn main() -> std::process::ExitCode {
    support::cli::run("ipc", cli::main)
}

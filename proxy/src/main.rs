//! `proxy`: the recording, fault-injecting proxies as one command.
//!
//! ```text
//! proxy tcp --listen 127.0.0.1:7100 --to 127.0.0.1:7007 [--delay-ms 50] [--throttle-kbps 64] [--record FILE]
//! proxy udp --listen 127.0.0.1:7100 --to 127.0.0.1:7007 [--loss 0.2] [--seed 1] [--record FILE]
//! ```
//! Both print `listening on IP:PORT` first on stdout and run until SIGINT/SIGTERM (exit 0).
//! Errors are one line on stderr, `proxy: error: WHAT: CAUSE`, exit 1; usage mistakes exit 2.
//! Logs go to stderr: warnings by default, `RUST_LOG=info` for more.
#![forbid(unsafe_code)]

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}

//! `udp`: the command-line front end of the udp crate: echo and quote servers and clients,
//! a demo and a benchmark (the fault-injecting proxy is `proxy udp`, in the proxy crate).
//! Thin: every subcommand calls the library.
//!
//! ```text
//! udp echo-server [--bind 127.0.0.1:7007] [--mode async|blocking|batch] [--threads 2]
//! udp echo-client 127.0.0.1:7007 [--timeout-ms 500] [--retries 3]     (a datagram per stdin line)
//! udp quote-server [--bind 127.0.0.1:7017] [--quotes FILE]
//! udp quote-client 127.0.0.1:7017 [--count 1]
//! udp demo
//! udp bench echo --addr 127.0.0.1:7007 --senders 1 --size 64 --duration-s 3
//! ```
//! Servers print `listening on IP:PORT` first on stdout; logs go to stderr (`RUST_LOG=debug`).
//! Exit status: 0 ok, 1 runtime failure, 2 usage error.
//!
//! Two terminals: `udp echo-server` prints `listening on 127.0.0.1:7007`; `udp echo-client
//! 127.0.0.1:7007` then echoes each line typed. Two machines: `udp echo-server --bind
//! 0.0.0.0:7007` on host A, `udp echo-client A:7007` on host B (the same for the quote pair).
#![forbid(unsafe_code)]

mod cli;

fn main() -> std::process::ExitCode {
    support::cli::run("udp", cli::main)
}

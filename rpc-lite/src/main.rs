//! `rpc-lite`: serve the demo service, call it, list it, run the demo, benchmark it.
//!
//! ```text
//! terminal 1: rpc-lite serve                          # listening on 127.0.0.1:7470
//! terminal 2: rpc-lite call 127.0.0.1:7470 add 2 3    # 5
//!             rpc-lite list 127.0.0.1:7470            # the procedures and signatures
//!             rpc-lite call 127.0.0.1:7470 divide 1 0 # error: division by zero (exit 1)
//! ```
//! On two machines: `rpc-lite serve --bind 0.0.0.0:7470` on one, `rpc-lite call
//! HOST:7470 add 2 3` on the other. `rpc-lite demo` needs no arguments; `rpc-lite bench
//! --addr ADDR --concurrency 64 --calls 50000 --payload 16` ends with a `key=value` line.
#![forbid(unsafe_code)]

mod cli;

use std::process::ExitCode;

/// A tokio runtime with `threads` workers: 1 = everything on this thread
/// (`current_thread`), `None` = one worker per CPU.
fn runtime(threads: Option<usize>) -> std::io::Result<tokio::runtime::Runtime> {
    match threads {
        Some(1) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        Some(n) => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(n)
            .enable_all()
            .build(),
        None => tokio::runtime::Runtime::new(),
    }
}

fn main() -> ExitCode {
    let args: cli::Cli = support::cli::parse("rpc-lite");
    support::log::init(args.log_default());
    support::cli::run("rpc-lite", || {
        let runtime = runtime(args.worker_threads())
            .map_err(|e| anyhow::anyhow!(e).context("cannot start the async runtime"))?;
        runtime.block_on(cli::run(args))
    })
}

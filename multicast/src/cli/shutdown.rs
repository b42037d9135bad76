//! SIGINT (Ctrl-C) and SIGTERM: a flag the blocking loops check between receive timeouts.
//!
//! The subcommands use blocking sockets, so no async runtime runs their work. A small thread
//! runs a one-thread tokio runtime only to wait for the signals (tokio registers the handlers
//! safely), then sets the flag. Every loop receives with a short timeout and checks the flag, so
//! a signal ends the program within one timeout, with exit status 0.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::Context;
use tokio::signal::unix::{SignalKind, signal};

/// How long a blocked receive waits before checking the flag again.
pub const POLL: Duration = Duration::from_millis(100);

/// A flag set once SIGINT or SIGTERM arrives.
#[derive(Debug, Clone)]
pub struct Shutdown(Arc<AtomicBool>);

impl Shutdown {
    /// Installs the handlers; returns once they are in place, so no early signal is missed.
    ///
    /// # Errors
    /// If the runtime or the handlers cannot be set up.
    pub fn install() -> anyhow::Result<Shutdown> {
        let flag = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = mpsc::channel();
        let thread_flag = Arc::clone(&flag);
        std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || wait_for_signal(&thread_flag, &ready_tx))
            .context("start the signal thread")?;
        ready_rx.recv().context("signal thread ended early")??;
        Ok(Shutdown(flag))
    }

    /// True once a signal arrived (or [`Shutdown::trigger`] was called).
    pub fn requested(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// Sets the flag by hand, to end the other threads of this process.
    pub fn trigger(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

fn wait_for_signal(flag: &AtomicBool, ready: &mpsc::Sender<anyhow::Result<()>>) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return drop(ready.send(Err(e.into()))),
    };
    runtime.block_on(async {
        let handlers =
            signal(SignalKind::interrupt()).and_then(|i| Ok((i, signal(SignalKind::terminate())?)));
        let (mut interrupt, mut terminate) = match handlers {
            Ok(pair) => pair,
            Err(e) => return drop(ready.send(Err(e.into()))),
        };
        let _ = ready.send(Ok(()));
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
        tracing::info!("signal received: shutting down");
        flag.store(true, Ordering::Relaxed);
    });
}

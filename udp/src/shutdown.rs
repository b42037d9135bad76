//! Graceful shutdown: a [`Shutdown`] signal that servers `select!` on, fired by SIGINT/SIGTERM
//! (`signal(7)`) in the binary or by a handle in tests and the demo.

use tokio::sync::watch;

/// The sending side: call [`ShutdownTrigger::fire`] to ask every server holding a [`Shutdown`]
/// to stop.
#[derive(Debug, Clone)]
pub struct ShutdownTrigger {
    tx: watch::Sender<bool>,
}

/// The receiving side, cheap to clone into every task.
#[derive(Debug, Clone)]
pub struct Shutdown {
    rx: watch::Receiver<bool>,
}

/// A connected trigger and signal.
pub fn channel() -> (ShutdownTrigger, Shutdown) {
    let (tx, rx) = watch::channel(false);
    (ShutdownTrigger { tx }, Shutdown { rx })
}

impl ShutdownTrigger {
    /// Asks every holder of the matching [`Shutdown`] to stop.
    pub fn fire(&self) {
        self.tx.send_replace(true);
    }
}

impl Shutdown {
    /// A signal that never fires (for servers run until the process ends).
    pub fn never() -> Self {
        let (tx, rx) = watch::channel(false);
        std::mem::forget(tx);
        Shutdown { rx }
    }

    /// True once shutdown was asked for.
    pub fn is_fired(&self) -> bool {
        *self.rx.borrow()
    }

    /// Completes when shutdown is asked for (or the trigger is gone).
    pub async fn fired(&mut self) {
        let _ = self.rx.wait_for(|fired| *fired).await;
    }
}

/// Installs SIGINT and SIGTERM handlers now (`sigaction(2)`, see `signal(7)`), and spawns a
/// task that fires `trigger` on the first of them. Call it inside a tokio runtime, BEFORE the
/// server prints `listening on`: a supervisor may send SIGTERM the moment that line appears,
/// and a signal that arrives before its handler is installed kills the process instead.
pub fn fire_on_signal(trigger: ShutdownTrigger) -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    tokio::spawn(async move {
        tokio::select! {
            _ = interrupt.recv() => {},
            _ = terminate.recv() => {},
        }
        tracing::info!("shutdown signal received");
        trigger.fire();
    });
    Ok(())
}

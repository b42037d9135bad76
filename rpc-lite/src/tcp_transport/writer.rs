//! The writer task: one per connection, on both sides.
//!
//! Callers (or finished procedures) hand it messages through a channel; it frames each
//! one with `framing`'s length prefix and writes everything that is queued with one
//! `write(2)`. Under load many replies share one system call (and one TCP segment);
//! with one call in flight it writes as soon as the message arrives, so batching costs
//! no latency.

use std::time::Duration;

use bytes::BytesMut;
use framing::FrameFormat;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::message::Message;

/// Peers that stop reading are reported at most this often.
static STALLED: support::log::Throttle = support::log::Throttle::per_second(10);

/// Stop gathering queued messages into one write beyond this many bytes.
pub const WRITE_BATCH: usize = 64 * 1024;

/// Writes the messages arriving on `queue` to `out` until the queue closes (then shuts
/// down the write side) or a write fails or stalls past `write_timeout` (then cancels
/// `broken`, so the reader side stops too). `more_coming` says whether other messages
/// are probably about to be queued (other calls outstanding, more requests already
/// read): only then does the writer wait a moment for them.
pub async fn write_messages<W: AsyncWrite + Unpin>(
    mut out: W,
    mut queue: mpsc::Receiver<Message>,
    format: FrameFormat,
    write_timeout: Duration,
    broken: CancellationToken,
    more_coming: impl Fn() -> bool,
) {
    let mut buf = BytesMut::with_capacity(WRITE_BATCH);
    while let Some(first) = tokio::select! {
        m = queue.recv() => m,
        _ = broken.cancelled() => None,
    } {
        frame(&first, format, &mut buf);
        if queue.is_empty() && more_coming() {
            // Let the tasks that are ready right now (other callers, other finished
            // calls) run first: whatever they queue joins this write. On a multi-thread
            // runtime this turns dozens of small writes into one. It costs one trip
            // through the scheduler, so a lone call (nothing else coming) skips it.
            tokio::task::yield_now().await;
        }
        while buf.len() < WRITE_BATCH {
            match queue.try_recv() {
                Ok(next) => frame(&next, format, &mut buf),
                Err(_) => break,
            }
        }
        match tokio::time::timeout(write_timeout, out.write_all(&buf)).await {
            Ok(Ok(())) => buf.clear(),
            Ok(Err(err)) => {
                tracing::debug!(error = %err, "write failed; closing connection");
                broken.cancel();
                return;
            }
            Err(_) => {
                support::warn_throttled!(
                    STALLED,
                    ?write_timeout,
                    "peer stopped reading; closing connection"
                );
                broken.cancel();
                return;
            }
        }
    }
    let _ = out.shutdown().await;
}

/// Appends `message` as one frame: `framing`'s length prefix, then header and body.
/// Messages were checked against the maximum frame when they were made.
fn frame(message: &Message, format: FrameFormat, buf: &mut BytesMut) {
    if let Err(err) = format.encode_header(message.len(), buf) {
        tracing::error!(error = %err, "message over the frame limit dropped");
        return;
    }
    message.encode(buf);
}

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

/// Stop gathering queued messages into one write beyond this many bytes.
pub const WRITE_BATCH: usize = 64 * 1024;

/// Writes the messages arriving on `queue` to `out` until the queue closes (then shuts
/// down the write side) or a write fails or stalls past `write_timeout` (then cancels
/// `broken`, so the reader side stops too).
pub async fn write_messages<W: AsyncWrite + Unpin>(
    mut out: W,
    mut queue: mpsc::Receiver<Message>,
    format: FrameFormat,
    write_timeout: Duration,
    broken: CancellationToken,
) {
    let mut buf = BytesMut::with_capacity(WRITE_BATCH);
    while let Some(first) = tokio::select! {
        m = queue.recv() => m,
        _ = broken.cancelled() => None,
    } {
        frame(&first, format, &mut buf);
        if queue.is_empty() {
            // Let the tasks that are ready right now (other callers, other finished
            // calls) run first: whatever they queue joins this write. With nothing else
            // ready this costs one trip through the scheduler, not a timer.
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
                tracing::warn!(?write_timeout, "peer stopped reading; closing connection");
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

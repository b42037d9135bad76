//! A server-wide budget for the bytes of frames still arriving.
//!
//! A length prefix says how large a frame will be before its bytes arrive; the frame
//! reader makes room for all of it. One peer may send a header declaring 1 MiB and then
//! stall, and 1,024 peers doing so would hold 1 GiB. So before a connection's buffer
//! grows for a frame that does not fit what it already has, the connection reserves the
//! frame's size from one budget shared by every connection ([`DEFAULT_FRAME_BUDGET`]).
//! If the budget cannot cover it, the server sheds that connection: BUSY on call id 0,
//! then close (`PROTOCOL.md` section 5). The reservation is given back as soon as the
//! frame is complete (the call then owns its bytes, and the in-flight bound counts it),
//! or when the connection closes; a connection whose buffer grew for a large frame
//! shrinks it back afterwards.
//!
//! Frames that fit a connection's read buffer ([`READ_BUFFER`]) need no reservation, so
//! ordinary calls are never shed. Worst case held for partial frames: the budget plus
//! one read buffer per connection.
//!
//! No system calls of its own: an atomic counter, checked inside the tokio-util decoder
//! that `FramedRead` calls after each `read(2)`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::{Bytes, BytesMut};
use framing::{FrameCodec, FrameError, FrameFormat, Header as FrameHeader};
use tokio_util::codec::Decoder;

/// Default bound on bytes reserved for partial frames, all connections together
/// (`--frame-budget`).
pub const DEFAULT_FRAME_BUDGET: usize = 64 << 20;
/// Bytes each connection's read buffer starts with (and shrinks back to).
pub const READ_BUFFER: usize = 64 * 1024;

/// The server's budget; the counter of reserved bytes is shared so that tests and
/// stats can read it.
#[derive(Debug)]
pub struct FrameBudget {
    limit: u64,
    reserved: Arc<AtomicU64>,
}

/// Bytes reserved for one partial frame; dropping it gives them back.
#[derive(Debug)]
pub struct Reservation {
    reserved: Arc<AtomicU64>,
    bytes: u64,
}

impl FrameBudget {
    /// A budget of `limit` bytes counted in `reserved`.
    pub fn new(limit: usize, reserved: Arc<AtomicU64>) -> Arc<FrameBudget> {
        Arc::new(FrameBudget {
            limit: limit as u64,
            reserved,
        })
    }

    /// Reserves `bytes`, if the budget has them.
    pub fn try_reserve(&self, bytes: usize) -> Option<Reservation> {
        let bytes = bytes as u64;
        self.reserved
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |now| {
                now.checked_add(bytes).filter(|total| *total <= self.limit)
            })
            .ok()?;
        Some(Reservation {
            reserved: self.reserved.clone(),
            bytes,
        })
    }

    /// The bound.
    pub fn limit(&self) -> usize {
        self.limit as usize
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.reserved.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

/// Why reading a frame failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The frame layer's error (too large a length, the stream cut mid-frame, I/O).
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// The budget could not cover a frame of this many bytes.
    #[error(
        "no room for a frame of {frame} bytes: the server's {limit}-byte budget for partial frames is in use"
    )]
    OverBudget {
        /// The frame's size, length prefix included.
        frame: usize,
        /// The budget.
        limit: usize,
    },
}

impl From<std::io::Error> for ReadError {
    fn from(err: std::io::Error) -> Self {
        ReadError::Frame(FrameError::Io(err))
    }
}

/// `framing`'s frame decoder, reserving from the budget before its buffer grows.
#[derive(Debug)]
pub struct BudgetedFrames {
    codec: FrameCodec,
    format: FrameFormat,
    budget: Arc<FrameBudget>,
    held: Option<Reservation>,
}

impl BudgetedFrames {
    /// Frames of `format`, growing past [`READ_BUFFER`] only within `budget`.
    pub fn new(format: FrameFormat, budget: Arc<FrameBudget>) -> BudgetedFrames {
        BudgetedFrames {
            codec: FrameCodec::new(format),
            format,
            budget,
            held: None,
        }
    }

    /// Before the codec makes room for a declared frame larger than the buffer holds,
    /// reserve it.
    fn reserve_for(&mut self, src: &BytesMut) -> Result<(), ReadError> {
        if self.held.is_some() {
            return Ok(());
        }
        let Ok(FrameHeader::Complete { len }) = self.format.parse_header(src) else {
            return Ok(()); // incomplete header, or an error the codec reports
        };
        let frame = self.format.header_len().saturating_add(len);
        if frame <= src.capacity() {
            return Ok(());
        }
        self.held = Some(
            self.budget
                .try_reserve(frame)
                .ok_or(ReadError::OverBudget {
                    frame,
                    limit: self.budget.limit(),
                })?,
        );
        Ok(())
    }

    /// After a large frame, give the buffer's memory back (keeping what follows it).
    fn shrink(src: &mut BytesMut) {
        if src.capacity() > 2 * READ_BUFFER && src.len() <= READ_BUFFER {
            let mut fresh = BytesMut::with_capacity(READ_BUFFER);
            fresh.extend_from_slice(src);
            *src = fresh;
        }
    }
}

impl Decoder for BudgetedFrames {
    type Item = Bytes;
    type Error = ReadError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, ReadError> {
        self.reserve_for(src)?;
        let frame = self.codec.decode(src)?;
        if frame.is_some() {
            self.held = None;
            Self::shrink(src);
        }
        Ok(frame)
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, ReadError> {
        self.reserve_for(src)?;
        Ok(self.codec.decode_eof(src)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_stay_within_the_budget_and_come_back() {
        let budget = FrameBudget::new(100, Arc::default());
        let a = budget.try_reserve(60).unwrap();
        assert!(budget.try_reserve(41).is_none());
        let b = budget.try_reserve(40).unwrap();
        drop((a, b));
        assert_eq!(budget.reserved.load(Ordering::Relaxed), 0);
        assert!(budget.try_reserve(100).is_some());
    }

    #[test]
    fn a_large_declared_frame_is_reserved_before_the_buffer_grows() {
        let budget = FrameBudget::new(READ_BUFFER * 3, Arc::default());
        let format = FrameFormat::default();
        let mut first = BudgetedFrames::new(format, budget.clone());
        let mut second = BudgetedFrames::new(format, budget.clone());
        let header = |len: u32| BytesMut::from(&len.to_be_bytes()[..]);
        let big = (READ_BUFFER * 2) as u32;
        let mut a = header(big);
        assert_eq!(first.decode(&mut a).unwrap(), None);
        // The budget is charged for the whole declared frame (header too) at once; the buffer
        // itself grows only as bytes arrive (framing reserves at most RESERVE_CHUNK ahead).
        assert_eq!(
            budget.reserved.load(Ordering::Relaxed),
            4 + u64::from(big),
            "header and payload"
        );
        assert!(a.capacity() <= 4 + framing::frame::RESERVE_CHUNK + READ_BUFFER);
        let mut b = header(big);
        assert!(matches!(
            second.decode(&mut b),
            Err(ReadError::OverBudget { .. })
        ));
        assert!(
            b.capacity() < big as usize,
            "no room made without the budget"
        );
        // A small frame needs no reservation, even with the budget in use.
        let mut small = header(3);
        small.reserve(READ_BUFFER);
        small.extend_from_slice(b"abc");
        assert_eq!(second.decode(&mut small).unwrap().unwrap(), &b"abc"[..]);
        // The first frame completes: its reservation comes back, its buffer shrinks.
        a.resize(4 + big as usize, 0);
        assert_eq!(first.decode(&mut a).unwrap().unwrap().len(), big as usize);
        assert_eq!(budget.reserved.load(Ordering::Relaxed), 0);
        assert!(a.capacity() <= READ_BUFFER);
    }
}

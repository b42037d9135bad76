//! The async face of the decoding core: a tokio-util [`Decoder`] and [`Encoder`], so a
//! `TcpStream` becomes a `Stream` + `Sink` of frames with `tokio_util::codec::Framed`.
//!
//! Underneath, `Framed` calls `read(2)` into a `BytesMut` whenever the decoder says it
//! needs more, and `write(2)` (or `writev(2)`) with what the encoder appended.
//!
//! ```no_run
//! # async fn run() -> Result<(), framing::FrameError> {
//! use futures::{SinkExt, StreamExt};
//! use tokio_util::codec::Framed;
//! let stream = tokio::net::TcpStream::connect("127.0.0.1:7000").await?;
//! let mut frames = Framed::new(stream, framing::FrameCodec::default());
//! frames.send(bytes::Bytes::from_static(b"hello")).await?;
//! if let Some(reply) = frames.next().await {
//!     println!("{} bytes back", reply?.len());
//! }
//! # Ok(()) }
//! ```

use bytes::{Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use crate::error::FrameError;
use crate::format::FrameFormat;

/// A tokio-util codec for length-prefixed frames of a given [`FrameFormat`].
#[derive(Debug, Clone, Copy, Default)]
pub struct FrameCodec {
    format: FrameFormat,
}

impl FrameCodec {
    /// A codec for `format`.
    pub const fn new(format: FrameFormat) -> Self {
        FrameCodec { format }
    }

    /// The format this codec reads and writes.
    pub const fn format(&self) -> FrameFormat {
        self.format
    }
}

impl Decoder for FrameCodec {
    type Item = Bytes;
    type Error = FrameError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
        self.format.decode(src)
    }

    /// At end of stream, leftover bytes are a frame cut short: say how short.
    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
        match self.format.decode(src)? {
            Some(frame) => Ok(Some(frame)),
            None => match self.format.truncation(src) {
                Some(err) => Err(err),
                None => Ok(None),
            },
        }
    }
}

impl Encoder<Bytes> for FrameCodec {
    type Error = FrameError;

    fn encode(&mut self, item: Bytes, dst: &mut BytesMut) -> Result<(), FrameError> {
        self.format.encode(&item, dst)
    }
}

impl Encoder<&[u8]> for FrameCodec {
    type Error = FrameError;

    fn encode(&mut self, item: &[u8], dst: &mut BytesMut) -> Result<(), FrameError> {
        self.format.encode(item, dst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::{SinkExt, StreamExt};
    use tokio::io::AsyncWriteExt;
    use tokio_util::codec::{FramedRead, FramedWrite};

    #[tokio::test]
    async fn framed_round_trip_over_a_pipe() {
        let (client, server) = tokio::io::duplex(64);
        let mut tx = FramedWrite::new(client, FrameCodec::default());
        let mut rx = FramedRead::new(server, FrameCodec::default());
        let sender = tokio::spawn(async move {
            for text in ["one", "", "three"] {
                tx.send(Bytes::from(text)).await.unwrap();
            }
        });
        for expected in ["one", "", "three"] {
            assert_eq!(rx.next().await.unwrap().unwrap(), expected.as_bytes());
        }
        sender.await.unwrap();
        assert!(rx.next().await.is_none(), "clean end between frames");
    }

    #[tokio::test]
    async fn eof_inside_a_frame_is_an_error_naming_the_missing_bytes() {
        let (mut client, server) = tokio::io::duplex(64);
        client.write_all(&[0, 0, 0, 9, b'x']).await.unwrap();
        drop(client);
        let mut rx = FramedRead::new(server, FrameCodec::default());
        let err = rx.next().await.unwrap().unwrap_err();
        assert!(
            matches!(err, FrameError::Truncated { missing: 8, .. }),
            "{err}"
        );
    }
}

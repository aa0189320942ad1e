//! Length-delimited framing: a u32 big-endian byte count, then that many bytes holding
//! one prost message. Used on the control socket and on QUIC streams.
//!
//! A frame longer than the reader's maximum is refused before anything is allocated for
//! it, so a peer cannot make us reserve gigabytes by sending a large prefix.

use prost::Message;
use std::io::{Read, Write};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Largest frame accepted by default: 16 MiB (a CIB snapshot with thousands of
/// resources fits many times over).
pub const MAX_FRAME_LEN: usize = 16 * 1024 * 1024;

/// Bytes of the length prefix.
pub const PREFIX_LEN: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("frame of {len} bytes exceeds the maximum of {max} bytes")]
    TooLarge { len: usize, max: usize },
    #[error("connection closed in the middle of a frame")]
    Truncated,
    #[error("malformed message: {0}")]
    Decode(#[from] prost::DecodeError),
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

/// Encodes `msg` as one frame (prefix + body).
pub fn encode<M: Message>(msg: &M, max: usize) -> Result<Vec<u8>, FrameError> {
    let len = msg.encoded_len();
    if len > max || len > u32::MAX as usize {
        return Err(FrameError::TooLarge { len, max });
    }
    let mut buf = Vec::with_capacity(PREFIX_LEN + len);
    buf.extend_from_slice(&(len as u32).to_be_bytes());
    msg.encode(&mut buf)
        .map_err(|_| FrameError::TooLarge { len, max })?;
    Ok(buf)
}

/// Decodes one complete frame held in `buf` (prefix + body, nothing after it).
pub fn decode<M: Message + Default>(buf: &[u8], max: usize) -> Result<M, FrameError> {
    let Some((prefix, body)) = buf.split_first_chunk::<PREFIX_LEN>() else {
        return Err(FrameError::Truncated);
    };
    let len = u32::from_be_bytes(*prefix) as usize;
    if len > max {
        return Err(FrameError::TooLarge { len, max });
    }
    if body.len() < len {
        return Err(FrameError::Truncated);
    }
    if body.len() > len {
        return Err(FrameError::Decode(prost::DecodeError::new(
            "trailing bytes after the frame",
        )));
    }
    Ok(M::decode(body)?)
}

/// Reads the prefix; `Ok(None)` on a clean end of stream before any prefix byte.
fn prefix_from(buf: [u8; PREFIX_LEN], max: usize) -> Result<usize, FrameError> {
    let len = u32::from_be_bytes(buf) as usize;
    if len > max {
        return Err(FrameError::TooLarge { len, max });
    }
    Ok(len)
}

/// Reads one frame from a blocking reader. Returns `Ok(None)` when the stream ends
/// cleanly between frames.
pub fn read<M: Message + Default, R: Read>(r: &mut R, max: usize) -> Result<Option<M>, FrameError> {
    let mut prefix = [0u8; PREFIX_LEN];
    let mut got = 0;
    while got < PREFIX_LEN {
        match r.read(&mut prefix[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err(FrameError::Truncated),
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    let len = prefix_from(prefix, max)?;
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => FrameError::Truncated,
        _ => FrameError::Io(e),
    })?;
    Ok(Some(M::decode(body.as_slice())?))
}

/// Writes one frame to a blocking writer and flushes it.
pub fn write<M: Message, W: Write>(w: &mut W, msg: &M, max: usize) -> Result<(), FrameError> {
    let buf = encode(msg, max)?;
    w.write_all(&buf)?;
    w.flush()?;
    Ok(())
}

/// Reads one frame from an async reader. Returns `Ok(None)` when the stream ends
/// cleanly between frames.
pub async fn read_async<M: Message + Default, R: AsyncRead + Unpin>(
    r: &mut R,
    max: usize,
) -> Result<Option<M>, FrameError> {
    let mut prefix = [0u8; PREFIX_LEN];
    let mut got = 0;
    while got < PREFIX_LEN {
        match r.read(&mut prefix[got..]).await? {
            0 if got == 0 => return Ok(None),
            0 => return Err(FrameError::Truncated),
            n => got += n,
        }
    }
    let len = prefix_from(prefix, max)?;
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).await.map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => FrameError::Truncated,
        _ => FrameError::Io(e),
    })?;
    Ok(Some(M::decode(body.as_slice())?))
}

/// Writes one frame to an async writer and flushes it.
pub async fn write_async<M: Message, W: AsyncWrite + Unpin>(
    w: &mut W,
    msg: &M,
    max: usize,
) -> Result<(), FrameError> {
    let buf = encode(msg, max)?;
    w.write_all(&buf).await?;
    w.flush().await?;
    Ok(())
}

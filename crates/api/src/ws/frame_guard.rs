//! Watches the bytes a client sends before the WebSocket codec sees them.
//!
//! actix-ws reads everything the socket has into one buffer and decodes a frame only once all of it
//! has arrived, so a header declaring 2^40 bytes followed by a stream of data makes the server buffer
//! without bound. This guard follows frame boundaries itself (a header is at most 14 bytes): a frame,
//! or a fragmented message, that declares more than the limit ends the connection at once (the session
//! closes with 1009), whatever follows. It also hands bytes on one slice at a time, so that the codec
//! never holds more than one frame plus one slice, and decoded frames wait for the handler only as
//! many as one slice holds.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use actix_web::error::PayloadError;
use actix_web::web::Bytes;
use futures_util::Stream;

/// Bytes handed to the codec per poll at most.
const SLICE: usize = 4096;
const OPCODE_CONTINUATION: u8 = 0x0;
const OPCODE_FIRST_CONTROL: u8 = 0x8;

/// Set when the guard ended the stream because of a frame over the limit.
#[derive(Debug, Clone, Default)]
pub struct Oversized(Arc<AtomicBool>);

impl Oversized {
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    fn set(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

pub struct FrameGuard<S> {
    inner: S,
    limit: u64,
    oversized: Oversized,
    /// What arrived but was not handed on yet.
    pending: Bytes,
    /// Handed a slice on at the last poll: the next one yields, which ends the codec's read loop.
    just_yielded: bool,
    header: [u8; 14],
    header_len: usize,
    /// Payload bytes of the current frame still to come; `None` while reading a header.
    remaining: Option<u64>,
    /// Size of the data message being received, across its fragments.
    message_len: u64,
    failed: bool,
}

impl<S> FrameGuard<S> {
    pub fn new(inner: S, limit: usize, oversized: Oversized) -> Self {
        Self {
            inner,
            limit: u64::try_from(limit).unwrap_or(u64::MAX),
            oversized,
            pending: Bytes::new(),
            just_yielded: false,
            header: [0; 14],
            header_len: 0,
            remaining: None,
            message_len: 0,
            failed: false,
        }
    }

    /// Follows frame boundaries through `slice`; `Err` as soon as a header declares too much.
    fn inspect(&mut self, slice: &[u8]) -> Result<(), ()> {
        let mut at = 0;
        while at < slice.len() {
            match self.remaining {
                Some(remaining) => {
                    let available = u64::try_from(slice.len() - at).unwrap_or(u64::MAX);
                    let taken = remaining.min(available);
                    at += usize::try_from(taken).unwrap_or(usize::MAX);
                    self.remaining = Some(remaining - taken).filter(|left| *left > 0);
                }
                None => {
                    self.header[self.header_len] = slice[at];
                    self.header_len += 1;
                    at += 1;
                    if let Some(length) = self.complete_header() {
                        self.check(length)?;
                        self.header_len = 0;
                        self.remaining = Some(length).filter(|length| *length > 0);
                    }
                }
            }
        }
        Ok(())
    }

    /// The payload length once the header so far is complete.
    fn complete_header(&self) -> Option<u64> {
        if self.header_len < 2 {
            return None;
        }
        let masked = self.header[1] & 0x80 != 0;
        let (extended, short) = match self.header[1] & 0x7F {
            126 => (2, None),
            127 => (8, None),
            short => (0, Some(u64::from(short))),
        };
        let needed = 2 + extended + if masked { 4 } else { 0 };
        if self.header_len < needed {
            return None;
        }
        Some(short.unwrap_or_else(|| {
            self.header[2..2 + extended].iter().fold(0u64, |length, byte| (length << 8) | u64::from(*byte))
        }))
    }

    fn check(&mut self, length: u64) -> Result<(), ()> {
        let opcode = self.header[0] & 0x0F;
        if opcode < OPCODE_FIRST_CONTROL {
            self.message_len =
                if opcode == OPCODE_CONTINUATION { self.message_len.saturating_add(length) } else { length };
        }
        if length > self.limit || self.message_len > self.limit {
            return Err(());
        }
        Ok(())
    }
}

impl<S> Stream for FrameGuard<S>
where
    S: Stream<Item = Result<Bytes, PayloadError>> + Unpin,
{
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.failed {
            return Poll::Ready(None);
        }
        if this.just_yielded {
            this.just_yielded = false;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        if this.pending.is_empty() {
            match Pin::new(&mut this.inner).poll_next(cx) {
                Poll::Ready(Some(Ok(bytes))) => this.pending = bytes,
                other => return other,
            }
        }
        let slice = this.pending.split_to(this.pending.len().min(SLICE));
        if this.inspect(&slice).is_err() {
            this.failed = true;
            this.pending = Bytes::new();
            this.oversized.set();
            return Poll::Ready(Some(Err(PayloadError::Overflow)));
        }
        this.just_yielded = true;
        Poll::Ready(Some(Ok(slice)))
    }
}

#[cfg(test)]
mod tests {
    use futures_util::StreamExt;
    use futures_util::stream;

    use super::*;

    fn frame(opcode: u8, fin: bool, declared: u64, payload: &[u8]) -> Vec<u8> {
        let mut bytes = vec![opcode | if fin { 0x80 } else { 0 }];
        match declared {
            0..=125 => bytes.push(0x80 | u8::try_from(declared).unwrap_or(0)),
            126..=65535 => {
                bytes.push(0x80 | 126);
                bytes.extend_from_slice(&u16::try_from(declared).unwrap_or(0).to_be_bytes());
            }
            _ => {
                bytes.push(0x80 | 127);
                bytes.extend_from_slice(&declared.to_be_bytes());
            }
        }
        bytes.extend_from_slice(&[1, 2, 3, 4]);
        bytes.extend_from_slice(payload);
        bytes
    }

    async fn run(chunks: Vec<Vec<u8>>) -> (usize, bool, Oversized) {
        let oversized = Oversized::default();
        let source = stream::iter(chunks.into_iter().map(|c| Ok::<_, PayloadError>(Bytes::from(c))));
        let mut guard = FrameGuard::new(source, 64 * 1024, oversized.clone());
        let (mut passed, mut failed) = (0, false);
        while let Some(item) = guard.next().await {
            match item {
                Ok(bytes) => {
                    assert!(bytes.len() <= SLICE);
                    passed += bytes.len();
                }
                Err(_) => failed = true,
            }
        }
        (passed, failed, oversized)
    }

    #[tokio::test]
    async fn frames_within_the_limit_pass_in_slices() {
        let text = vec![b'x'; 60_000];
        let mut all = frame(0x1, true, 60_000, &text);
        all.extend(frame(0x9, true, 2, b"hi"));
        let total = all.len();
        let (passed, failed, oversized) = run(vec![all]).await;
        assert_eq!((passed, failed, oversized.is_set()), (total, false, false));
    }

    #[tokio::test]
    async fn a_header_declaring_too_much_fails_at_once_whatever_follows() {
        let mut header = frame(0x1, true, 1 << 40, &[]);
        header.extend(vec![b'x'; 100]);
        let (passed, failed, oversized) = run(vec![header, vec![b'y'; 1 << 20]]).await;
        assert!(failed && oversized.is_set());
        assert_eq!(passed, 0, "nothing of the frame reaches the codec");
    }

    #[tokio::test]
    async fn a_fragmented_message_over_the_limit_fails() {
        let part = vec![b'x'; 40_000];
        let chunks = vec![frame(0x1, false, 40_000, &part), frame(0x0, true, 40_000, &part)];
        let (_, failed, oversized) = run(chunks).await;
        assert!(failed && oversized.is_set());
    }

    #[tokio::test]
    async fn headers_split_across_reads_are_followed() {
        let first = frame(0x1, true, 300, &[b'a'; 300]);
        let second = frame(0x1, true, 1 << 20, &[]);
        let mut all = first.clone();
        all.extend(&second);
        let chunks: Vec<Vec<u8>> = all.chunks(3).map(<[u8]>::to_vec).collect();
        let (passed, failed, _) = run(chunks).await;
        assert!(failed);
        assert!(passed >= first.len() && passed < first.len() + second.len(), "{passed}");
    }
}

//! DNS over TCP: each message is prefixed by its 16-bit length and may be
//! split across segments (or several may share one). Streams are followed
//! per direction by sequence number; a retransmitted segment is skipped,
//! and a gap (a segment the capture lost) drops the stream's buffer, since
//! a message boundary cannot be found again inside a byte stream until the
//! next segment that starts one.
//!
//! Bounded: at most `max_streams` streams (the least recently seen go
//! first) and at most one message (2 + 65,535 bytes) buffered per stream.

use std::net::SocketAddr;
use std::time::Duration;

use rustc_hash::FxHashMap;

/// A TCP segment of a port-53 connection.
#[derive(Debug, Clone, Copy)]
pub struct Segment<'a> {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub seq: u32,
    pub syn: bool,
    pub fin: bool,
    pub rst: bool,
    pub payload: &'a [u8],
}

const MAX_MESSAGE: usize = 2 + u16::MAX as usize;

#[derive(Debug, Clone, Default)]
struct Stream {
    /// Sequence number of the next byte expected, once known.
    next: Option<u32>,
    buf: Vec<u8>,
    last_seen: Duration,
}

#[derive(Debug, Clone)]
pub(super) struct TcpStreams {
    streams: FxHashMap<(SocketAddr, SocketAddr), Stream>,
    max_streams: usize,
    /// Bytes thrown away at gaps.
    pub(super) gaps: u64,
}

impl TcpStreams {
    pub(super) fn new(max_streams: usize) -> Self {
        TcpStreams {
            streams: FxHashMap::default(),
            max_streams: max_streams.max(1),
            gaps: 0,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.streams.len()
    }

    /// Adds a segment and hands every whole message it completes to `each`.
    pub(super) fn segment(
        &mut self,
        seg: &Segment<'_>,
        now: Duration,
        each: &mut dyn FnMut(&[u8]),
    ) {
        let key = (seg.src, seg.dst);
        if seg.rst {
            self.streams.remove(&key);
            return;
        }
        if seg.payload.is_empty() && !seg.syn {
            if seg.fin {
                self.streams.remove(&key);
            }
            return;
        }
        if !self.streams.contains_key(&key) && self.streams.len() >= self.max_streams {
            self.evict_oldest();
        }
        let stream = self.streams.entry(key).or_default();
        stream.last_seen = now;
        let mut data = seg.payload;
        let mut seq = seg.seq;
        if seg.syn {
            // The SYN takes one sequence number; data (TCP Fast Open) follows.
            stream.buf.clear();
            seq = seq.wrapping_add(1);
            stream.next = Some(seq);
        }
        match stream.next {
            None => {}
            Some(next) => {
                // Signed distance, modulo 2^32.
                let ahead = seq.wrapping_sub(next) as i32;
                if ahead > 0 {
                    // A gap: the bytes in between never reached us.
                    self.gaps += stream.buf.len() as u64;
                    stream.buf.clear();
                } else if ahead < 0 {
                    let behind = ahead.unsigned_abs() as usize;
                    if behind >= data.len() {
                        return; // all retransmitted
                    }
                    data = &data[behind..];
                    seq = next;
                }
            }
        }
        stream.next = Some(seq.wrapping_add(data.len() as u32));
        stream.buf.extend_from_slice(data);
        let mut start = 0;
        while stream.buf.len() - start >= 2 {
            let len = usize::from(u16::from_be_bytes([
                stream.buf[start],
                stream.buf[start + 1],
            ]));
            if stream.buf.len() - start < 2 + len {
                break;
            }
            each(&stream.buf[start + 2..start + 2 + len]);
            start += 2 + len;
        }
        stream.buf.drain(..start);
        // A buffer can only hold one partial message; anything longer is
        // not a length-prefixed stream (a lost boundary): start over.
        if stream.buf.len() > MAX_MESSAGE {
            self.gaps += stream.buf.len() as u64;
            stream.buf.clear();
        }
        if seg.fin {
            self.streams.remove(&key);
        }
    }

    /// Forgets streams idle since before `cutoff`.
    pub(super) fn expire(&mut self, cutoff: Duration) {
        self.streams.retain(|_, s| s.last_seen >= cutoff);
    }

    fn evict_oldest(&mut self) {
        if let Some(key) = self
            .streams
            .iter()
            .min_by_key(|(_, s)| s.last_seen)
            .map(|(k, _)| *k)
        {
            self.streams.remove(&key);
        }
    }
}

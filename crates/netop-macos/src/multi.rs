//! Every interface through its own BPF device, as one [`Capture`]: what
//! netop reads when PKTAP is not possible (no root, with read access to
//! `/dev/bpf*`; a Mac whose libpcap has no pktap). Each handle carries
//! its interface's index on its frames; batches are taken from the
//! handles in turn, so a busy interface cannot starve the others, and the
//! handles' read timeouts are divided among them so an idle round still
//! ends within one timeout. Plain Rust over the core's trait: tested with
//! recorded frames, here on Linux.

use netop_core::{Batch, Capture, CaptureError, CaptureHealth, CaptureStats, Frame, Poll};

/// Several captures read as one.
pub struct MultiCapture {
    parts: Vec<Box<dyn Capture + Send>>,
    /// The part to read first next time.
    next: usize,
    /// Counters of parts that closed (their handles are gone).
    closed: CaptureStats,
    /// Frames of a batch not yet handed out by `next_frame`, and the one
    /// handed out last.
    pending: std::collections::VecDeque<Copied>,
    current: Option<Copied>,
}

/// A frame copied out of a part's buffer.
#[derive(Debug)]
struct Copied {
    ts: std::time::Duration,
    ifindex: Option<u32>,
    link: netop_core::LinkType,
    orig_len: u32,
    data: Vec<u8>,
}

impl Copied {
    fn of(f: &Frame<'_>) -> Self {
        Copied {
            ts: f.ts,
            ifindex: f.ifindex,
            link: f.link,
            orig_len: f.orig_len,
            data: f.data.to_vec(),
        }
    }

    fn frame(&self) -> Frame<'_> {
        Frame {
            ts: self.ts,
            ifindex: self.ifindex,
            link: self.link,
            orig_len: self.orig_len,
            data: &self.data,
        }
    }
}

impl std::fmt::Debug for MultiCapture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MultiCapture")
            .field("parts", &self.parts.len())
            .finish_non_exhaustive()
    }
}

fn add(a: CaptureStats, b: CaptureStats) -> CaptureStats {
    CaptureStats {
        received: a.received + b.received,
        dropped: a.dropped + b.dropped,
        if_dropped: a.if_dropped + b.if_dropped,
    }
}

impl MultiCapture {
    pub fn new(parts: Vec<Box<dyn Capture + Send>>) -> Self {
        MultiCapture {
            parts,
            next: 0,
            closed: CaptureStats::default(),
            pending: std::collections::VecDeque::new(),
            current: None,
        }
    }

    /// Handles still open.
    pub fn len(&self) -> usize {
        self.parts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    fn close(&mut self, i: usize) {
        let mut part = self.parts.remove(i);
        if let Ok(s) = part.stats() {
            self.closed = add(self.closed, s);
        }
        if self.next > i {
            self.next -= 1;
        }
    }
}

impl Capture for MultiCapture {
    /// One frame at a time, copied out of the parts' batches (the
    /// capture loop reads with [`Capture::dispatch`]; this is for callers
    /// that want single frames).
    fn next_frame(&mut self) -> Result<Poll<'_>, CaptureError> {
        if self.pending.is_empty() {
            let mut got = std::collections::VecDeque::new();
            let batch = self.dispatch(&mut |f: &Frame<'_>| got.push_back(Copied::of(f)))?;
            self.pending = got;
            match batch {
                Batch::Closed if self.pending.is_empty() => return Ok(Poll::Closed),
                Batch::Idle if self.pending.is_empty() => return Ok(Poll::Idle),
                _ => {}
            }
        }
        self.current = self.pending.pop_front();
        Ok(match &self.current {
            Some(c) => Poll::Frame(c.frame()),
            None => Poll::Idle,
        })
    }

    /// The next part's batch that has frames, starting after the last
    /// part read.
    fn dispatch(&mut self, each: &mut dyn FnMut(&Frame<'_>)) -> Result<Batch, CaptureError> {
        let mut tried = 0;
        while tried < self.parts.len() {
            let i = self.next % self.parts.len();
            match self.parts[i].dispatch(each)? {
                Batch::Frames(n) => {
                    self.next = i + 1;
                    return Ok(Batch::Frames(n));
                }
                Batch::Idle => {
                    self.next = i + 1;
                    tried += 1;
                }
                Batch::Closed => self.close(i),
            }
        }
        if self.parts.is_empty() {
            Ok(Batch::Closed)
        } else {
            Ok(Batch::Idle)
        }
    }

    fn stats(&mut self) -> Result<CaptureStats, CaptureError> {
        let mut total = self.closed;
        for part in &mut self.parts {
            total = add(total, part.stats()?);
        }
        Ok(total)
    }

    fn health(&self) -> CaptureHealth {
        let mut health = CaptureHealth::default();
        for part in &self.parts {
            let h = part.health();
            health.healed.extend(h.healed);
            if health.gone.is_none() {
                health.gone = h.gone;
            }
        }
        health
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use netop_core::testing::{OwnedFrame, PacketSpec, ReplayCapture};

    use super::*;

    fn frames(ifindex: u32, n: usize) -> Vec<OwnedFrame> {
        let spec = PacketSpec::tcp("192.168.1.20:50000", "93.184.216.34:443", 10);
        (0..n)
            .map(|i| spec.ethernet(Duration::from_millis(i as u64), ifindex, [2, 0, 0, 0, 0, 1]))
            .collect()
    }

    fn multi(parts: Vec<Vec<OwnedFrame>>) -> MultiCapture {
        MultiCapture::new(
            parts
                .into_iter()
                .map(|f| {
                    let mut r = ReplayCapture::new(f);
                    r.stats.received = 10;
                    r.stats.dropped = 1;
                    Box::new(r) as Box<dyn Capture + Send>
                })
                .collect(),
        )
    }

    #[test]
    fn every_part_is_read_in_turn_until_all_close() {
        let mut m = multi(vec![frames(4, 3), frames(1, 2), Vec::new()]);
        let mut seen = Vec::new();
        loop {
            match m.dispatch(&mut |f| seen.push(f.ifindex)).expect("dispatch") {
                Batch::Closed => break,
                Batch::Frames(_) | Batch::Idle => {}
            }
        }
        // ReplayCapture hands one frame per dispatch: the parts alternate.
        assert_eq!(seen, vec![Some(4), Some(1), Some(4), Some(1), Some(4)]);
        assert!(m.is_empty());
        let s = m.stats().expect("stats");
        assert_eq!(
            (s.received, s.dropped),
            (30, 3),
            "closed parts' counters kept"
        );
    }

    #[test]
    fn single_frames_are_copied_out_of_batches() {
        let mut m = multi(vec![frames(4, 2), frames(1, 1)]);
        let mut n = 0;
        loop {
            match m.next_frame().expect("frame") {
                Poll::Frame(f) => {
                    assert!(f.ifindex.is_some());
                    assert_eq!(f.link, netop_core::LinkType::Ethernet);
                    n += 1;
                }
                Poll::Idle => {}
                Poll::Closed => break,
            }
        }
        assert_eq!(n, 3);
        assert!(matches!(multi(Vec::new()).next_frame(), Ok(Poll::Closed)));
    }
}

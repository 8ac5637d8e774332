//! Fixed-size per-second history: the last [`HISTORY_LEN`] seconds of rx and
//! tx bytes, for rates and sparklines. It never grows, which keeps memory per
//! flow constant however long a flow lives.

/// Seconds of history kept.
pub const HISTORY_LEN: usize = 60;

/// A byte count in one slot. Flows use `u32` (4 GB in one second of one
/// flow saturates) to halve their memory; aggregates use `u64`.
pub trait Slot: Copy + Default + Into<u64> + std::fmt::Debug {
    fn saturating_from(v: u64) -> Self;
}

impl Slot for u32 {
    fn saturating_from(v: u64) -> Self {
        u32::try_from(v).unwrap_or(u32::MAX)
    }
}

impl Slot for u64 {
    fn saturating_from(v: u64) -> Self {
        v
    }
}

/// A ring of per-second byte counts, indexed by Unix second.
#[derive(Debug, Clone)]
pub struct History<T: Slot = u64> {
    /// The newest second that has a slot.
    head: u64,
    rx: [T; HISTORY_LEN],
    tx: [T; HISTORY_LEN],
}

/// A flow's history: the current second's bytes inline, older seconds in
/// a ring that is allocated on the flow's second second and touched once
/// per second. The per-packet update then stays in the flow table's own
/// memory (no pointer chase, no cache miss), and flows that live for less
/// than a second never allocate.
#[derive(Debug, Clone, Default)]
pub struct FlowHistory {
    sec: u64,
    /// The current second's bytes, sent and received, indexed by
    /// [`side`]: an index, not a branch on the direction, which follows
    /// no pattern from one packet to the next.
    bytes: [u64; 2],
    ring: Option<Box<History<u32>>>,
}

/// Where a direction's bytes are in [`FlowHistory::bytes`].
fn side(rx: bool) -> usize {
    usize::from(rx)
}

impl FlowHistory {
    /// Adds bytes received (`rx`) or sent during Unix second `sec`.
    pub fn add(&mut self, sec: u64, rx: bool, bytes: u64) {
        if sec != self.sec {
            if sec < self.sec {
                self.ring.get_or_insert_default().add(sec, rx, bytes);
                return;
            }
            self.settle();
            self.sec = sec;
        }
        self.bytes[side(rx)] += bytes;
    }

    /// Moves the current second into the ring.
    fn settle(&mut self) {
        if self.bytes == [0; 2] {
            return;
        }
        let ring = self.ring.get_or_insert_default();
        for rx in [true, false] {
            ring.add(self.sec, rx, self.bytes[side(rx)]);
        }
        self.bytes = [0; 2];
    }

    /// Every second, as one ring (for merging into aggregates).
    pub fn settled(&self) -> History<u32> {
        let mut h = self.ring.as_deref().cloned().unwrap_or_default();
        for rx in [true, false] {
            h.add(self.sec, rx, self.bytes[side(rx)]);
        }
        h
    }

    /// See [`History::samples`].
    pub fn samples(&self, sec: u64, n: usize) -> Vec<(u64, u64)> {
        self.settled().samples(sec, n)
    }

    /// See [`History::samples_into`].
    pub fn samples_into(&self, sec: u64, n: usize, out: &mut Vec<(u64, u64)>) {
        self.settled().samples_into(sec, n, out);
    }
}

impl<T: Slot> Default for History<T> {
    fn default() -> Self {
        History {
            head: 0,
            rx: [T::default(); HISTORY_LEN],
            tx: [T::default(); HISTORY_LEN],
        }
    }
}

impl<T: Slot> History<T> {
    /// The newest second that has a slot (0 for an empty history): the
    /// second of the newest bytes added or merged.
    pub fn newest(&self) -> u64 {
        self.head
    }

    /// Moves the ring forward to `sec`, zeroing the seconds skipped.
    fn advance(&mut self, sec: u64) {
        if sec <= self.head {
            return;
        }
        let gap = (sec - self.head).min(HISTORY_LEN as u64);
        for s in (sec + 1 - gap)..=sec {
            let i = (s % HISTORY_LEN as u64) as usize;
            self.rx[i] = T::default();
            self.tx[i] = T::default();
        }
        self.head = sec;
    }

    /// Adds bytes received (`rx`) or sent during Unix second `sec`.
    /// Seconds older than the window are ignored.
    pub fn add(&mut self, sec: u64, rx: bool, bytes: u64) {
        self.advance(sec);
        if sec + (HISTORY_LEN as u64) <= self.head {
            return;
        }
        let i = (sec % HISTORY_LEN as u64) as usize;
        let slot = if rx { &mut self.rx[i] } else { &mut self.tx[i] };
        *slot = T::saturating_from((*slot).into().saturating_add(bytes));
    }

    /// The `n` (at most [`HISTORY_LEN`]) complete seconds ending at `sec`,
    /// oldest first, as (rx, tx) pairs.
    pub fn samples(&self, sec: u64, n: usize) -> Vec<(u64, u64)> {
        let mut out = Vec::with_capacity(n.min(HISTORY_LEN));
        self.samples_into(sec, n, &mut out);
        out
    }

    /// [`History::samples`] appended to `out` (a live report writes every
    /// row's into one block).
    pub fn samples_into(&self, sec: u64, n: usize, out: &mut Vec<(u64, u64)>) {
        let n = n.min(HISTORY_LEN) as u64;
        out.extend((0..n).rev().map(|back| {
            let s = sec.saturating_sub(back);
            if s > self.head || s + (HISTORY_LEN as u64) <= self.head || s + back != sec {
                (0, 0)
            } else {
                let i = (s % HISTORY_LEN as u64) as usize;
                (self.rx[i].into(), self.tx[i].into())
            }
        }));
    }

    /// Adds every second of `other` into `self` (aggregating flows).
    pub fn merge<U: Slot>(&mut self, other: &History<U>) {
        self.combine(other, u64::saturating_add);
    }

    /// Takes every second of `other` out of `self`, saturating at zero
    /// (bytes that moved from the unknown bucket to their process).
    pub fn subtract<U: Slot>(&mut self, other: &History<U>) {
        self.combine(other, u64::saturating_sub);
    }

    fn combine<U: Slot>(&mut self, other: &History<U>, op: fn(u64, u64) -> u64) {
        if other.head == 0 {
            return;
        }
        self.advance(other.head);
        for back in 0..HISTORY_LEN as u64 {
            let Some(s) = other.head.checked_sub(back) else {
                break;
            };
            if s + (HISTORY_LEN as u64) <= self.head {
                break;
            }
            let i = (s % HISTORY_LEN as u64) as usize;
            self.rx[i] = T::saturating_from(op(self.rx[i].into(), other.rx[i].into()));
            self.tx[i] = T::saturating_from(op(self.tx[i].into(), other.tx[i].into()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_recent_seconds_and_forgets_old_ones() {
        let mut h: History = History::default();
        h.add(100, true, 10);
        h.add(100, false, 5);
        h.add(101, true, 7);
        assert_eq!(h.samples(101, 3), vec![(0, 0), (10, 5), (7, 0)]);
        h.add(200, true, 1);
        assert_eq!(h.samples(200, 2), vec![(0, 0), (1, 0)]);
        // A second far in the past is dropped, not written over a live slot.
        h.add(100, true, 99);
        assert_eq!(h.samples(200, 60).iter().map(|s| s.0).sum::<u64>(), 1);
    }

    #[test]
    fn flow_history_keeps_the_current_second_inline() {
        let mut h = FlowHistory::default();
        h.add(10, true, 5);
        h.add(10, false, 1);
        assert!(h.ring.is_none(), "no allocation within one second");
        h.add(11, true, 7);
        h.add(9, true, 2); // a late packet goes straight to the ring
        assert_eq!(h.samples(11, 3), vec![(2, 0), (5, 1), (7, 0)]);
    }

    #[test]
    fn flow_slots_saturate_instead_of_wrapping() {
        let mut h: History<u32> = History::default();
        h.add(1, true, u64::from(u32::MAX));
        h.add(1, true, 10);
        assert_eq!(h.samples(1, 1), vec![(u64::from(u32::MAX), 0)]);
        let mut total: History = History::default();
        total.merge(&h);
        total.merge(&h);
        assert_eq!(total.samples(1, 1), vec![(2 * u64::from(u32::MAX), 0)]);
    }

    #[test]
    fn samples_after_the_head_are_zero() {
        let mut h: History = History::default();
        h.add(50, false, 3);
        assert_eq!(h.samples(52, 3), vec![(0, 3), (0, 0), (0, 0)]);
    }

    #[test]
    fn merge_adds_overlapping_seconds() {
        let mut a: History = History::default();
        let mut b: History = History::default();
        a.add(10, true, 1);
        b.add(10, true, 2);
        b.add(11, false, 4);
        a.merge(&b);
        assert_eq!(a.samples(11, 2), vec![(3, 0), (0, 4)]);
        a.subtract(&b);
        assert_eq!(a.samples(11, 2), vec![(1, 0), (0, 0)]);
    }
}

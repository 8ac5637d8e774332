//! Fixed-size per-second history: the last [`HISTORY_LEN`] seconds of rx and
//! tx bytes, for rates and sparklines. It never grows, which keeps memory per
//! flow constant however long a flow lives.

/// Seconds of history kept.
pub const HISTORY_LEN: usize = 60;

/// A ring of per-second byte counts, indexed by Unix second.
#[derive(Debug, Clone)]
pub struct History {
    /// The newest second that has a slot.
    head: u64,
    rx: [u64; HISTORY_LEN],
    tx: [u64; HISTORY_LEN],
}

impl Default for History {
    fn default() -> Self {
        History {
            head: 0,
            rx: [0; HISTORY_LEN],
            tx: [0; HISTORY_LEN],
        }
    }
}

impl History {
    /// Moves the ring forward to `sec`, zeroing the seconds skipped.
    fn advance(&mut self, sec: u64) {
        if sec <= self.head {
            return;
        }
        let gap = (sec - self.head).min(HISTORY_LEN as u64);
        for s in (sec + 1 - gap)..=sec {
            let i = (s % HISTORY_LEN as u64) as usize;
            self.rx[i] = 0;
            self.tx[i] = 0;
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
        if rx {
            self.rx[i] += bytes;
        } else {
            self.tx[i] += bytes;
        }
    }

    /// The `n` (at most [`HISTORY_LEN`]) complete seconds ending at `sec`,
    /// oldest first, as (rx, tx) pairs.
    pub fn samples(&self, sec: u64, n: usize) -> Vec<(u64, u64)> {
        let n = n.min(HISTORY_LEN) as u64;
        (0..n)
            .rev()
            .map(|back| {
                let s = sec.saturating_sub(back);
                if s > self.head || s + (HISTORY_LEN as u64) <= self.head || s + back != sec {
                    (0, 0)
                } else {
                    let i = (s % HISTORY_LEN as u64) as usize;
                    (self.rx[i], self.tx[i])
                }
            })
            .collect()
    }

    /// Adds every second of `other` into `self` (aggregating flows).
    pub fn merge(&mut self, other: &History) {
        self.combine(other, |a, b| a + b);
    }

    /// Takes every second of `other` out of `self`, saturating at zero
    /// (bytes that moved from the unknown bucket to their process).
    pub fn subtract(&mut self, other: &History) {
        self.combine(other, u64::saturating_sub);
    }

    fn combine(&mut self, other: &History, op: fn(u64, u64) -> u64) {
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
            self.rx[i] = op(self.rx[i], other.rx[i]);
            self.tx[i] = op(self.tx[i], other.tx[i]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_recent_seconds_and_forgets_old_ones() {
        let mut h = History::default();
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
    fn samples_after_the_head_are_zero() {
        let mut h = History::default();
        h.add(50, false, 3);
        assert_eq!(h.samples(52, 3), vec![(0, 3), (0, 0), (0, 0)]);
    }

    #[test]
    fn merge_adds_overlapping_seconds() {
        let mut a = History::default();
        let mut b = History::default();
        a.add(10, true, 1);
        b.add(10, true, 2);
        b.add(11, false, 4);
        a.merge(&b);
        assert_eq!(a.samples(11, 2), vec![(3, 0), (0, 4)]);
        a.subtract(&b);
        assert_eq!(a.samples(11, 2), vec![(1, 0), (0, 0)]);
    }
}

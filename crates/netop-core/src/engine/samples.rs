//! The per-second histories of a live report's rows, kept in one block.
//!
//! The monitor builds a report every refresh with a 60-second history for
//! every row. As one `Vec` a row, a host where 50,000 short-lived processes
//! exited in the last minute made 50,000 allocations of 960 bytes a second,
//! freed a second later, and every long-lived allocation made meanwhile
//! (a new flow, an owner) landed among them: once the wave had aged out,
//! the heap stayed several MB larger than at the start. Here every row's
//! samples are one slice of a block shared by the whole report: one large
//! allocation, which goes back to the kernel whole when the report is
//! dropped.

use std::fmt;
use std::ops::{Deref, Range};
use std::sync::Arc;

/// One row's per-second (rx, tx) bytes, oldest first: a slice of its
/// report's shared block. Derefs to `[(u64, u64)]`; cloning it does not
/// allocate.
#[derive(Clone, Default)]
pub struct Samples {
    /// `None` for an empty history (and before the report is sealed).
    block: Option<Arc<Vec<(u64, u64)>>>,
    start: u32,
    len: u32,
}

impl Samples {
    fn range(&self) -> Range<usize> {
        self.start as usize..(self.start + self.len) as usize
    }
}

impl Deref for Samples {
    type Target = [(u64, u64)];

    fn deref(&self) -> &[(u64, u64)] {
        match &self.block {
            Some(block) => &block[self.range()],
            None => &[],
        }
    }
}

impl PartialEq for Samples {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for Samples {}

impl fmt::Debug for Samples {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// The block a report's samples are written into while it is built.
#[derive(Debug, Default)]
pub(crate) struct SampleBlock {
    block: Vec<(u64, u64)>,
}

impl SampleBlock {
    /// A block with room for `rows` histories of `len` samples.
    pub(crate) fn with_room(rows: usize, len: usize) -> Self {
        SampleBlock {
            block: Vec::with_capacity(rows.saturating_mul(len)),
        }
    }

    /// Appends one row's samples with `fill` and returns them (not yet
    /// readable through the returned [`Samples`]: see [`SampleBlock::seal`])
    /// and the slice just written.
    pub(crate) fn push(
        &mut self,
        fill: impl FnOnce(&mut Vec<(u64, u64)>),
    ) -> (Samples, &[(u64, u64)]) {
        let start = self.block.len();
        fill(&mut self.block);
        let samples = Samples {
            block: None,
            start: u32::try_from(start).unwrap_or(u32::MAX),
            len: u32::try_from(self.block.len() - start).unwrap_or(0),
        };
        (samples, &self.block[start..])
    }

    /// Takes back the row just pushed (one that is not listed after all).
    pub(crate) fn pop(&mut self, last: Samples) {
        if last.range().end == self.block.len() {
            self.block.truncate(last.start as usize);
        }
    }

    /// Shares the block and points every row's samples into it.
    pub(crate) fn seal<'a>(self, rows: impl Iterator<Item = &'a mut Samples>) {
        let block = Arc::new(self.block);
        for samples in rows {
            if samples.len > 0 {
                samples.block = Some(Arc::clone(&block));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_read_their_own_slice_of_the_sealed_block() {
        let mut block = SampleBlock::with_room(2, 2);
        let (mut a, written) = block.push(|v| v.extend([(1, 2), (3, 4)]));
        assert_eq!(written, &[(1, 2), (3, 4)]);
        let (mut empty, _) = block.push(|_| {});
        let (dropped, _) = block.push(|v| v.push((9, 9)));
        block.pop(dropped);
        let (mut b, _) = block.push(|v| v.push((5, 6)));
        assert_eq!(block.block.len(), 3, "the row taken back left no sample");
        assert!(a.is_empty(), "unreadable before sealing");
        block.seal([&mut a, &mut empty, &mut b].into_iter());
        assert_eq!(&*a, &[(1, 2), (3, 4)]);
        assert_eq!(&*b, &[(5, 6)]);
        assert!(empty.is_empty());
        assert!(empty.block.is_none(), "an empty history holds no block");
        assert_eq!(a.clone(), a);
        assert_ne!(a, b);
        assert_eq!(format!("{b:?}"), "[(5, 6)]");
    }
}

//! The query log: a ring of the most recent [`QueryRecord`]s, addressed by
//! their sequence number so an answer arriving later finds its entry in
//! constant time (or learns it has already been dropped).

use std::collections::VecDeque;

use super::record::QueryRecord;

#[derive(Debug, Clone)]
pub(super) struct QueryLog {
    entries: VecDeque<QueryRecord>,
    capacity: usize,
    /// `seq` the next entry gets.
    next_seq: u64,
}

impl QueryLog {
    pub(super) fn new(capacity: usize) -> Self {
        QueryLog {
            // Grows as entries come: a quiet host keeps a small log.
            entries: VecDeque::new(),
            capacity: capacity.max(1),
            next_seq: 0,
        }
    }

    /// Appends `record` (its `seq` is set here) and returns the seq.
    pub(super) fn push(&mut self, mut record: QueryRecord) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        record.seq = seq;
        if self.entries.len() == self.capacity {
            self.entries.pop_front();
        }
        self.entries.push_back(record);
        seq
    }

    /// The entry `seq`, if it is still in the ring.
    pub(super) fn get_mut(&mut self, seq: u64) -> Option<&mut QueryRecord> {
        let first = self.entries.front()?.seq;
        let at = usize::try_from(seq.checked_sub(first)?).ok()?;
        self.entries.get_mut(at)
    }

    pub(super) fn iter(&self) -> impl DoubleEndedIterator<Item = &QueryRecord> + ExactSizeIterator {
        self.entries.iter()
    }

    pub(super) fn iter_mut(&mut self) -> impl DoubleEndedIterator<Item = &mut QueryRecord> {
        self.entries.iter_mut()
    }

    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Entries ever pushed, including those dropped from the ring.
    pub(super) fn total(&self) -> u64 {
        self.next_seq
    }
}

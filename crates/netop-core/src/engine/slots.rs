//! Values kept in a `Vec` and found by a `u32` key (a pid, an ifindex):
//! callers hold the slot number, so the hot path indexes instead of hashing.
//! Slots are never removed, so a slot number stays valid.

use rustc_hash::FxHashMap;

#[derive(Debug, Clone)]
pub(super) struct Slots<V> {
    items: Vec<V>,
    index: FxHashMap<u32, usize>,
}

impl<V> Default for Slots<V> {
    fn default() -> Self {
        Slots {
            items: Vec::new(),
            index: FxHashMap::default(),
        }
    }
}

impl<V> Slots<V> {
    /// The slot of `key`, made with `make` if it has none yet.
    pub(super) fn slot_or_insert(&mut self, key: u32, make: impl FnOnce() -> V) -> usize {
        *self.index.entry(key).or_insert_with(|| {
            self.items.push(make());
            self.items.len() - 1
        })
    }

    pub(super) fn get(&self, slot: usize) -> &V {
        &self.items[slot]
    }

    pub(super) fn get_mut(&mut self, slot: usize) -> &mut V {
        &mut self.items[slot]
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = &V> {
        self.items.iter()
    }
}

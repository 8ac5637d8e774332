//! Values kept in a `Vec` and found by a `u32` key (a pid, an ifindex):
//! callers hold the slot number, so the hot path indexes instead of hashing.
//!
//! A slot stays valid until the owner of its number removes it, which the
//! engine does only for a process no flow points at any more; a removed
//! slot's number is reused by the next insert. A key can be given a new
//! slot (a recycled pid is a new process) while its old slot lives on.

use rustc_hash::FxHashMap;

#[derive(Debug, Clone)]
pub(super) struct Slots<V> {
    items: Vec<V>,
    /// Parallel to `items`: true for a removed slot awaiting reuse.
    vacant: Vec<bool>,
    free: Vec<usize>,
    index: FxHashMap<u32, usize>,
}

impl<V> Default for Slots<V> {
    fn default() -> Self {
        Slots {
            items: Vec::new(),
            vacant: Vec::new(),
            free: Vec::new(),
            index: FxHashMap::default(),
        }
    }
}

impl<V> Slots<V> {
    /// The slot of `key`, made with `make` if it has none yet.
    pub(super) fn slot_or_insert(&mut self, key: u32, make: impl FnOnce() -> V) -> usize {
        if let Some(&slot) = self.index.get(&key) {
            return slot;
        }
        let slot = self.place(make());
        self.index.insert(key, slot);
        slot
    }

    /// The slot `key` finds, if any.
    pub(super) fn find(&self, key: u32) -> Option<usize> {
        self.index.get(&key).copied()
    }

    /// Gives `key` a new slot holding `value`; the slot it had stays, no
    /// longer found by the key.
    pub(super) fn renew(&mut self, key: u32, value: V) -> usize {
        let slot = self.place(value);
        self.index.insert(key, slot);
        slot
    }

    fn place(&mut self, value: V) -> usize {
        match self.free.pop() {
            Some(slot) => {
                self.items[slot] = value;
                self.vacant[slot] = false;
                slot
            }
            None => {
                self.items.push(value);
                self.vacant.push(false);
                self.items.len() - 1
            }
        }
    }

    /// Frees `slot` (its value is replaced by `empty`, dropping what it
    /// held); the key that finds it, if any, finds nothing any more. The
    /// caller makes sure nothing holds the number.
    pub(super) fn remove(&mut self, key: u32, slot: usize, empty: V) {
        if self.vacant.get(slot).is_none_or(|&v| v) {
            return;
        }
        if self.index.get(&key) == Some(&slot) {
            self.index.remove(&key);
        }
        self.items[slot] = empty;
        self.vacant[slot] = true;
        self.free.push(slot);
    }

    pub(super) fn get(&self, slot: usize) -> &V {
        &self.items[slot]
    }

    pub(super) fn get_mut(&mut self, slot: usize) -> &mut V {
        &mut self.items[slot]
    }

    /// Occupied slots and their values.
    pub(super) fn iter(&self) -> impl Iterator<Item = &V> {
        self.iter_slots().map(|(_, v)| v)
    }

    /// Occupied slots with their numbers.
    pub(super) fn iter_slots(&self) -> impl Iterator<Item = (usize, &V)> {
        self.items
            .iter()
            .enumerate()
            .filter(|(i, _)| !self.vacant[*i])
    }

    /// Slots in use.
    pub(super) fn len(&self) -> usize {
        self.items.len() - self.free.len()
    }

    /// Slots freed and not yet reused.
    pub(super) fn vacant(&self) -> usize {
        self.free.len()
    }

    /// Moves the values into consecutive slots and gives the unused memory
    /// back; returns, for each old slot number, its new one (`None` for a
    /// vacant slot). Whoever holds slot numbers must translate them.
    pub(super) fn compact(&mut self) -> Vec<Option<usize>> {
        let mut map = vec![None; self.items.len()];
        let items = std::mem::take(&mut self.items);
        for (old, value) in items.into_iter().enumerate() {
            if !self.vacant[old] {
                map[old] = Some(self.items.len());
                self.items.push(value);
            }
        }
        self.items.shrink_to_fit();
        self.vacant = vec![false; self.items.len()];
        self.free = Vec::new();
        // Keys find only occupied slots (`remove` drops the key of the
        // slot it frees), so every one has a new number.
        self.index.retain(|_, slot| match map[*slot] {
            Some(new) => {
                *slot = new;
                true
            }
            None => false,
        });
        self.index.shrink_to_fit();
        map
    }
}

#[cfg(test)]
mod tests {
    use super::Slots;

    #[test]
    fn a_removed_slot_is_reused_and_no_longer_listed() {
        let mut s: Slots<u32> = Slots::default();
        let a = s.slot_or_insert(7, || 70);
        let b = s.slot_or_insert(8, || 80);
        assert_eq!(s.slot_or_insert(7, || 0), a);
        s.remove(7, a, 0);
        assert_eq!(s.iter().copied().collect::<Vec<_>>(), vec![80]);
        assert_eq!(s.len(), 1);
        let c = s.slot_or_insert(9, || 90);
        assert_eq!(c, a, "the freed number is reused");
        assert_eq!(*s.get(b), 80);
        s.remove(9, c, 0);
        s.remove(9, c, 0);
        assert_eq!(s.len(), 1, "removing twice frees once");
    }

    #[test]
    fn compacting_renumbers_and_keeps_every_value() {
        let mut s: Slots<u32> = Slots::default();
        for k in 0..10 {
            s.slot_or_insert(k, || k * 10);
        }
        for k in [1, 4, 5, 9] {
            s.remove(k, k as usize, 0);
        }
        let map = s.compact();
        assert_eq!(map[1], None);
        assert_eq!(map[2], Some(1));
        assert_eq!(s.len(), 6);
        assert_eq!(s.vacant(), 0);
        for k in [0, 2, 3, 6, 7, 8] {
            let slot = s.slot_or_insert(k, || 999);
            assert_eq!(*s.get(slot), k * 10, "key {k} still finds its value");
        }
        assert_eq!(s.len(), 6, "no key lost its slot");
    }

    #[test]
    fn a_renewed_key_keeps_its_old_slot_apart() {
        let mut s: Slots<u32> = Slots::default();
        let old = s.slot_or_insert(7, || 1);
        let new = s.renew(7, 2);
        assert_ne!(old, new);
        assert_eq!(s.slot_or_insert(7, || 0), new);
        assert_eq!(*s.get(old), 1);
        assert_eq!(s.len(), 2);
        // Removing the old one leaves the key on the new one.
        s.remove(7, old, 0);
        assert_eq!(s.slot_or_insert(7, || 0), new);
    }
}

//! The flow table: flows in one dense vector, found through a hash table
//! of their places.
//!
//! A key is hashed as its five 64-bit words (`PackedKey::words`) with
//! `FxHasher`: a handful of multiplies per packet. The derived `Hash`
//! writes each address as a length and a byte slice, which cost about 70
//! instructions a lookup, 7 % of decode plus flow update
//! (`docs/PERFORMANCE.md`, fifth session). With the hash this cheap, no
//! hashes are remembered between lookups: the two-key cache the table had
//! cost more to check and update on every packet than it saved on a hit,
//! and in a scattered mix it never hit.
//!
//! Flows live side by side in one vector, each beside its key; the hash
//! table holds only their places in it (4 bytes a bucket). A lookup reads
//! the control bytes, a place, then the flow with its key: as many
//! dependent loads as the boxed flows before (a key and a pointer in the
//! table's slots, the flow in a heap chunk of its own), but over far fewer
//! pages. For the 1,000 flows of `benches/ingest.rs` the places are 8 KiB
//! and the flows 192 KiB in one block; in callgrind's simulation of a
//! 64-entry TLB, 0.40 misses a frame against 1.79 boxed.
//!
//! Why not the flows in the hash table's own slots: the table grows by
//! doubling and holds its old and new slots at once while it moves them.
//! With 192-byte slots, 20,000 new flows at once (kernel counting's first
//! read of them) held about 3.5 MB more than boxed flows, over issue 17's
//! 30 MB. Here the table that doubles holds 4-byte places, and the vector
//! grows by `realloc`, which moves a large block's pages (glibc: `mremap`)
//! rather than copying them; its room beyond the flows is never touched,
//! so it is not resident. (Sixteen smaller tables, each doubling alone,
//! kept the flows in the slots within the bar with kernel counting, 27.9
//! MiB, but not with pcap, 29.8 MiB: their small steps were freed into
//! glibc's heap, below the mmap threshold, and stayed resident.)
//!
//! A flow removed is replaced by the vector's last one (whose place is
//! updated), so the flows stay dense.
//!
//! This is `indexmap`'s layout, written out because `IndexMap` (with
//! `FxBuildHasher` and the same hash) also keeps each entry's hash and
//! 8-byte indices: in `benches/ingest.rs` it ran 827 instructions a frame
//! against 805 here, and was slower in 5 of 6 alternating runs.

use std::hash::Hasher;

use hashbrown::HashTable;
use rustc_hash::FxHasher;

use crate::flow::PackedKey;

#[derive(Debug, Clone)]
pub(super) struct FlowTable<V> {
    /// Each flow's index in `slots`, found by its key's hash.
    places: HashTable<u32>,
    slots: Vec<Slot<V>>,
}

/// A key and its flow.
#[derive(Debug, Clone)]
struct Slot<V> {
    key: PackedKey,
    value: V,
}

impl<V> Default for FlowTable<V> {
    fn default() -> Self {
        FlowTable {
            places: HashTable::new(),
            slots: Vec::new(),
        }
    }
}

#[inline]
fn hash(key: &PackedKey) -> u64 {
    let mut h = FxHasher::default();
    for w in key.words() {
        h.write_u64(w);
    }
    h.finish()
}

/// A place as the hash table keeps it: 4 bytes, where a `usize` would
/// double the table (4 billion flows would need 800 GB first).
fn place(index: usize) -> u32 {
    u32::try_from(index).unwrap_or(u32::MAX)
}

impl<V> FlowTable<V> {
    pub(super) fn len(&self) -> usize {
        self.slots.len()
    }

    /// The index of `key`'s flow in `slots`.
    #[inline]
    fn find(&self, key: &PackedKey) -> Option<usize> {
        let slots = &self.slots;
        self.places
            .find(hash(key), |&i| slots[i as usize].key == *key)
            .map(|&i| i as usize)
    }

    #[inline]
    pub(super) fn get_mut(&mut self, key: &PackedKey) -> Option<&mut V> {
        let i = self.find(key)?;
        Some(&mut self.slots[i].value)
    }

    /// A flow, read only (queries off the packet path, such as the pcapng
    /// writer's owner lookups).
    pub(super) fn get(&self, key: &PackedKey) -> Option<&V> {
        let i = self.find(key)?;
        Some(&self.slots[i].value)
    }

    /// Adds a flow; the key must not be in the table.
    pub(super) fn insert(&mut self, key: PackedKey, value: V) {
        let at = place(self.slots.len());
        let h = hash(&key);
        self.slots.push(Slot { key, value });
        let slots = &self.slots;
        self.places
            .insert_unique(h, at, |&i| hash(&slots[i as usize].key));
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = (&PackedKey, &V)> {
        self.slots.iter().map(|s| (&s.key, &s.value))
    }

    pub(super) fn iter_mut(&mut self) -> impl Iterator<Item = (&PackedKey, &mut V)> {
        self.slots.iter_mut().map(|s| (&s.key, &mut s.value))
    }

    /// Keeps the flows `keep` says yes to (each is asked once).
    /// After a flood has expired, the table gives back what it grew to.
    pub(super) fn retain(&mut self, mut keep: impl FnMut(&PackedKey, &V) -> bool) {
        let mut i = 0;
        while i < self.slots.len() {
            let s = &self.slots[i];
            if keep(&s.key, &s.value) {
                i += 1;
            } else {
                // The last flow moves here; it is asked next.
                self.remove_at(i);
            }
        }
        let (len, capacity) = (self.slots.len(), self.places.capacity());
        if capacity > crate::maps::SHRINK_ABOVE && len * 4 < capacity {
            let slots = &self.slots;
            self.places
                .shrink_to(len * 2, |&i| hash(&slots[i as usize].key));
            self.slots.shrink_to(len * 2);
        }
    }

    /// Removes the flow at `i`, moving the last one into its place.
    fn remove_at(&mut self, i: usize) {
        let at = place(i);
        if let Ok(entry) = self
            .places
            .find_entry(hash(&self.slots[i].key), |&p| p == at)
        {
            entry.remove();
        }
        let last = self.slots.len() - 1;
        if i != last {
            let from = place(last);
            if let Some(p) = self
                .places
                .find_mut(hash(&self.slots[last].key), |&p| p == from)
            {
                *p = at;
            }
        }
        self.slots.swap_remove(i);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::{FlowKey, Protocol};

    fn key(port: u16) -> PackedKey {
        PackedKey::from(&FlowKey {
            proto: Protocol::Udp,
            local_ip: "10.0.0.1".parse().expect("ip"),
            local_port: port,
            remote_ip: "10.0.0.2".parse().expect("ip"),
            remote_port: 53,
        })
    }

    #[test]
    fn lookups_survive_removals() {
        let mut t = FlowTable::default();
        for p in 0..10u16 {
            t.insert(key(p), p);
        }
        assert_eq!(t.get_mut(&key(3)).copied(), Some(3));
        assert_eq!(t.get_mut(&key(4)).copied(), Some(4));
        assert_eq!(
            t.get_mut(&key(3)).copied(),
            Some(3),
            "a key looked up before another"
        );
        t.retain(|_, v| v % 3 != 0);
        assert_eq!(t.len(), 6);
        for p in 0..10u16 {
            let expected = (p % 3 != 0).then_some(p);
            assert_eq!(t.get_mut(&key(p)).copied(), expected, "port {p}");
        }
        assert_eq!(t.get_mut(&key(3)), None, "a removed key is gone");
        t.insert(key(3), 33);
        assert_eq!(t.get_mut(&key(3)).copied(), Some(33));
        assert_eq!(t.iter_mut().count(), 7);
        assert_eq!(t.iter().count(), 7);
    }

    #[test]
    fn places_follow_the_flows_moved_by_removals() {
        let mut t = FlowTable::default();
        let mut truth = std::collections::HashMap::new();
        for round in 0..4u16 {
            for p in 0..6000u16 {
                if !truth.contains_key(&p) && (p + round) % 3 != 0 {
                    t.insert(key(p), p);
                    truth.insert(p, p);
                }
            }
            // Each flow is asked once, and removals in a row (the last
            // flow moving into a removed one's place) keep the others.
            let mut asked = std::collections::HashSet::new();
            t.retain(|k, v| {
                assert!(asked.insert(k.key().local_port), "asked twice");
                v % 4 != round || v % 7 == 0
            });
            assert_eq!(asked.len(), truth.len());
            truth.retain(|_, v| *v % 4 != round || *v % 7 == 0);
            assert_eq!(t.len(), truth.len());
            for p in 0..6000u16 {
                assert_eq!(t.get(&key(p)).copied(), truth.get(&p).copied(), "port {p}");
            }
        }
        t.retain(|_, v| v % 50 == 0);
        assert!(t.places.capacity() < 1000, "shrunk after most flows left");
        for p in 0..6000u16 {
            let expected = (truth.contains_key(&p) && p % 50 == 0).then_some(p);
            assert_eq!(t.get_mut(&key(p)).copied(), expected, "port {p}");
        }
    }
}

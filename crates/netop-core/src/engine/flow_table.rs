//! The flow table: each flow in the hash table's own slot, beside its
//! key, each slot on whole cache lines.
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
//! Flows are not boxed (they were from fb4b156 on): the box put a third
//! dependent load on every packet (control bytes, then the slot's key,
//! then the flow) and another page. In callgrind's simulation of the
//! 1,000-flow bench (`benches/ingest.rs`): 1.79 TLB misses a frame boxed
//! against 1.45 inline (f9fff24, inline too: 1.42); 8.5 first-level cache
//! misses against 6.5 with the slots aligned. What the box saved is memory
//! while the table grows, which moves every slot into a new allocation
//! while the old one is held: `flow_memory` (10,000 flows) peaks at
//! 20,100-20,200 KiB inline against 19,400-19,600 KiB boxed, and 20,000
//! new flows at once (kernel counting's first read of them) briefly hold
//! about 3 MB more.

use std::hash::Hasher;

use hashbrown::HashTable;
use rustc_hash::FxHasher;

use crate::flow::PackedKey;

#[derive(Debug, Clone)]
pub(super) struct FlowTable<V> {
    table: HashTable<Slot<V>>,
}

/// A key and its flow, starting on a cache line: with today's flow entry
/// (152 bytes) a slot is 192 bytes, three whole lines, where an unaligned
/// one straddled four.
#[derive(Debug, Clone)]
#[repr(align(64))]
struct Slot<V> {
    key: PackedKey,
    value: V,
}

impl<V> Default for FlowTable<V> {
    fn default() -> Self {
        FlowTable {
            table: HashTable::new(),
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

impl<V> FlowTable<V> {
    pub(super) fn len(&self) -> usize {
        self.table.len()
    }

    pub(super) fn get_mut(&mut self, key: &PackedKey) -> Option<&mut V> {
        self.table
            .find_mut(hash(key), |e| e.key == *key)
            .map(|e| &mut e.value)
    }

    /// A flow, read only (queries off the packet path, such as the pcapng
    /// writer's owner lookups).
    pub(super) fn get(&self, key: &PackedKey) -> Option<&V> {
        self.table
            .find(hash(key), |e| e.key == *key)
            .map(|e| &e.value)
    }

    /// Adds a flow; the key must not be in the table.
    pub(super) fn insert(&mut self, key: PackedKey, value: V) {
        self.table
            .insert_unique(hash(&key), Slot { key, value }, |e| hash(&e.key));
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = (&PackedKey, &V)> {
        self.table.iter().map(|e| (&e.key, &e.value))
    }

    pub(super) fn iter_mut(&mut self) -> impl Iterator<Item = (&PackedKey, &mut V)> {
        self.table.iter_mut().map(|e| (&e.key, &mut e.value))
    }

    /// Keeps the flows `keep` says yes to.
    /// After a flood has expired, the table gives back what it grew to.
    pub(super) fn retain(&mut self, mut keep: impl FnMut(&PackedKey, &V) -> bool) {
        self.table.retain(|e| keep(&e.key, &e.value));
        let (len, capacity) = (self.table.len(), self.table.capacity());
        if capacity > crate::maps::SHRINK_ABOVE && len * 4 < capacity {
            self.table.shrink_to(len * 2, |e| hash(&e.key));
        }
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
}

//! The flow table: keys in the hash table's own slots, each flow boxed
//! beside its key.
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
//! Boxed because the table grows by doubling: every slot is moved into a
//! new allocation while the old one is still held. With flows in the
//! slots (about 240 bytes each), 20,000 new flows arriving at once (kernel
//! counting's first read of them) briefly held 3 MB more than they need;
//! a slot is now a key and a pointer.

use std::hash::Hasher;

use hashbrown::HashTable;
use rustc_hash::FxHasher;

use crate::flow::PackedKey;

#[derive(Debug, Clone)]
pub(super) struct FlowTable<V> {
    table: HashTable<(PackedKey, Box<V>)>,
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
            .find_mut(hash(key), |e| e.0 == *key)
            .map(|e| &mut *e.1)
    }

    /// A flow, read only (queries off the packet path, such as the pcapng
    /// writer's owner lookups).
    pub(super) fn get(&self, key: &PackedKey) -> Option<&V> {
        self.table.find(hash(key), |e| e.0 == *key).map(|e| &*e.1)
    }

    /// Adds a flow; the key must not be in the table.
    pub(super) fn insert(&mut self, key: PackedKey, value: V) {
        self.table
            .insert_unique(hash(&key), (key, Box::new(value)), |e| hash(&e.0));
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = (&PackedKey, &V)> {
        self.table.iter().map(|e| (&e.0, &*e.1))
    }

    pub(super) fn iter_mut(&mut self) -> impl Iterator<Item = (&PackedKey, &mut V)> {
        self.table.iter_mut().map(|e| (&e.0, &mut *e.1))
    }

    /// Keeps the flows `keep` says yes to.
    /// After a flood has expired, the table gives back what it grew to.
    pub(super) fn retain(&mut self, mut keep: impl FnMut(&PackedKey, &V) -> bool) {
        self.table.retain(|e| keep(&e.0, &e.1));
        let (len, capacity) = (self.table.len(), self.table.capacity());
        if capacity > crate::maps::SHRINK_ABOVE && len * 4 < capacity {
            self.table.shrink_to(len * 2, |e| hash(&e.0));
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

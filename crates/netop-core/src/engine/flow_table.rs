//! The flow table: keys in the hash table's own slots, each flow boxed
//! beside its key, with the hashes of the last two keys looked up
//! remembered. Packets come in bursts of one flow (a TCP window, a
//! datagram train; loopback traffic touches two flows per packet), so most
//! lookups skip hashing.
//!
//! Boxed because the table grows by doubling: every slot is moved into a
//! new allocation while the old one is still held. With flows in the
//! slots (about 240 bytes each), 20,000 new flows arriving at once (kernel
//! counting's first read of them) briefly held 3 MB more than they need;
//! a slot is now a key and a pointer.

use std::hash::BuildHasher;

use hashbrown::HashTable;
use rustc_hash::FxBuildHasher;

use crate::flow::PackedKey;

#[derive(Debug, Clone)]
pub(super) struct FlowTable<V> {
    table: HashTable<(PackedKey, Box<V>)>,
    /// The last two keys looked up and their hashes; `last[0]` is newer.
    last: [Option<(PackedKey, u64)>; 2],
}

impl<V> Default for FlowTable<V> {
    fn default() -> Self {
        FlowTable {
            table: HashTable::new(),
            last: [None, None],
        }
    }
}

fn hash(key: &PackedKey) -> u64 {
    FxBuildHasher.hash_one(key)
}

impl<V> FlowTable<V> {
    pub(super) fn len(&self) -> usize {
        self.table.len()
    }

    fn hash_of(&mut self, key: &PackedKey) -> u64 {
        match self.last {
            [Some((k, h)), _] if k == *key => h,
            [newer, Some((k, h))] if k == *key => {
                self.last = [Some((k, h)), newer];
                h
            }
            [newer, _] => {
                let h = hash(key);
                self.last = [Some((*key, h)), newer];
                h
            }
        }
    }

    pub(super) fn get_mut(&mut self, key: &PackedKey) -> Option<&mut V> {
        let h = self.hash_of(key);
        self.table.find_mut(h, |e| e.0 == *key).map(|e| &mut *e.1)
    }

    /// A flow, read only (no hash cache update: queries off the packet
    /// path, such as the pcapng writer's owner lookups).
    pub(super) fn get(&self, key: &PackedKey) -> Option<&V> {
        self.table.find(hash(key), |e| e.0 == *key).map(|e| &*e.1)
    }

    /// Adds a flow; the key must not be in the table.
    pub(super) fn insert(&mut self, key: PackedKey, value: V) {
        let h = self.hash_of(&key);
        self.table
            .insert_unique(h, (key, Box::new(value)), |e| hash(&e.0));
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
            "the older of two cached keys"
        );
        t.retain(|_, v| v % 3 != 0);
        assert_eq!(t.len(), 6);
        for p in 0..10u16 {
            let expected = (p % 3 != 0).then_some(p);
            assert_eq!(t.get_mut(&key(p)).copied(), expected, "port {p}");
        }
        assert_eq!(
            t.get_mut(&key(3)),
            None,
            "a removed key is not served from the cache"
        );
        t.insert(key(3), 33);
        assert_eq!(t.get_mut(&key(3)).copied(), Some(33));
        assert_eq!(t.iter_mut().count(), 7);
        assert_eq!(t.iter().count(), 7);
    }
}

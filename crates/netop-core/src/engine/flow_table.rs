//! The flow table: a hash index over a dense `Vec`, with the last two keys
//! looked up remembered. Packets come in bursts of one flow (a TCP window,
//! a datagram train; loopback traffic touches two flows per packet), so
//! most lookups are answered by comparing a key or two, without hashing or
//! probing.

use rustc_hash::FxHashMap;

use crate::flow::PackedKey;

#[derive(Debug, Clone)]
pub(super) struct FlowTable<V> {
    index: FxHashMap<PackedKey, usize>,
    keys: Vec<PackedKey>,
    values: Vec<V>,
    /// The last two keys found, and their positions; `last[0]` is newer.
    last: [Option<(PackedKey, usize)>; 2],
}

impl<V> Default for FlowTable<V> {
    fn default() -> Self {
        FlowTable {
            index: FxHashMap::default(),
            keys: Vec::new(),
            values: Vec::new(),
            last: [None, None],
        }
    }
}

impl<V> FlowTable<V> {
    pub(super) fn len(&self) -> usize {
        self.values.len()
    }

    pub(super) fn get_mut(&mut self, key: &PackedKey) -> Option<&mut V> {
        let at = match self.last {
            [Some((k, at)), _] if k == *key => at,
            [newer, Some((k, at))] if k == *key => {
                self.last = [Some((k, at)), newer];
                at
            }
            [newer, _] => {
                let at = *self.index.get(key)?;
                self.last = [Some((*key, at)), newer];
                at
            }
        };
        self.values.get_mut(at)
    }

    /// Adds a flow; the key must not be in the table.
    pub(super) fn insert(&mut self, key: PackedKey, value: V) {
        let at = self.values.len();
        self.index.insert(key, at);
        self.keys.push(key);
        self.values.push(value);
        self.last = [Some((key, at)), self.last[0]];
    }

    pub(super) fn values(&self) -> impl Iterator<Item = &V> {
        self.values.iter()
    }

    pub(super) fn iter_mut(&mut self) -> impl Iterator<Item = (&PackedKey, &mut V)> {
        self.keys.iter().zip(self.values.iter_mut())
    }

    /// Keeps the flows `keep` says yes to.
    pub(super) fn retain(&mut self, mut keep: impl FnMut(&V) -> bool) {
        self.last = [None, None];
        let mut at = 0;
        while at < self.values.len() {
            if keep(&self.values[at]) {
                at += 1;
                continue;
            }
            let gone = self.keys.swap_remove(at);
            self.values.swap_remove(at);
            self.index.remove(&gone);
            if let Some(moved) = self.keys.get(at) {
                self.index.insert(*moved, at);
            }
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
    fn lookups_survive_removals_that_move_entries() {
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
        t.retain(|v| v % 3 != 0);
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
    }
}

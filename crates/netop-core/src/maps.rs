//! Hash maps that give back what a burst made them grow.
//!
//! Hash maps never shrink by themselves, and a monitor runs for weeks: a
//! flood of flows, or a wave of short processes, would leave every table
//! it touched at its peak size. The tables that follow flows, sockets and
//! processes call [`shrink_sparse`] after removing entries.

use std::hash::{BuildHasher, Hash};

/// Tables with room for more than this are shrunk once three quarters
/// empty (smaller ones are not worth the rehash).
pub(crate) const SHRINK_ABOVE: usize = 4096;

/// Shrinks `map` to twice its length when it is large and three quarters
/// empty.
pub(crate) fn shrink_sparse<K: Hash + Eq, V, S: BuildHasher>(
    map: &mut std::collections::HashMap<K, V, S>,
) {
    if map.capacity() > SHRINK_ABOVE && map.len() * 4 < map.capacity() {
        map.shrink_to(map.len() * 2);
    }
}

//! Forwarded traffic this host also translates: a router's masquerade (or
//! published port) for another machine.
//!
//! A LAN host's connection through a NAT router running netop is seen twice
//! on `any`: on the LAN side untranslated, where neither end is the
//! router's (forwarded: its identity is its path, `engine/once.rs`), and on
//! the uplink translated, where one end is the router's own address, so by
//! its addresses it looks like a connection of the router whose socket has
//! gone. The backend can tell the difference (on Linux conntrack maps the
//! uplink's tuple back to the LAN's, and no socket of the host has either:
//! [`SocketResolver::untranslated`]); the engine then files the translated
//! sighting as forwarded with the inside path's identity, so the two
//! sightings share a seat and each packet is credited once, as forwarded.
//!
//! This table keeps, for the translated flows only, the inside flow the
//! backend named, until the flow is dropped; every other flow costs
//! nothing here.
//!
//! [`SocketResolver::untranslated`]: crate::socket::SocketResolver::untranslated

use rustc_hash::FxHashMap;

use crate::flow::{FlowKey, PackedKey};

/// Translated forwarded flows (by their own key) and the inside flow,
/// oriented like the flow (its local end is the LAN host's).
#[derive(Debug, Clone, Default)]
pub(super) struct Translated {
    inside: FxHashMap<PackedKey, FlowKey>,
}

impl Translated {
    /// Flow `packed` is the translation of `inside`, which no socket here
    /// owns.
    pub(super) fn note(&mut self, packed: PackedKey, inside: FlowKey) {
        self.inside.insert(packed, inside);
    }

    /// The inside flow of a translated flow.
    pub(super) fn inside(&self, packed: &PackedKey) -> Option<&FlowKey> {
        self.inside.get(packed)
    }

    /// The flow is dropped, or found to be something else.
    pub(super) fn forget(&mut self, packed: &PackedKey) {
        if !self.inside.is_empty() {
            self.inside.remove(packed);
        }
    }

    /// Gives back the room a flood of translated flows made once they
    /// have left (as the seats do).
    pub(super) fn shrink(&mut self) {
        crate::maps::shrink_sparse(&mut self.inside);
    }

    /// Translated flows known.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.inside.len()
    }
}

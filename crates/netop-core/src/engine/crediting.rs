//! The engine's side of "each packet once" (`once.rs` holds the rule and
//! the seats): giving flows their identity, deciding whether a packet of a
//! known flow is credited, and taking back forwarded sightings a local
//! socket turned out to own.

use super::once::{self, Identity, Membership, Seats, ELSEWHERE, UNDECIDED};
use super::slots::Slots;
use super::{credit, Account, Engine, FlowEntry, Owner, ProcessState, Update};
use crate::flow::{Counters, Direction, FlowKey, PackedKey};
use crate::history::FlowHistory;
use crate::unknown::{Breakdown, UnknownReason};

/// One packet of a known flow: credited at its seat (`engine/once.rs`),
/// else only a sighting, which keeps the flow alive.
#[inline]
pub(super) fn sight(
    entry: &mut FlowEntry,
    seats: &mut Seats,
    processes: &mut Slots<ProcessState>,
    unknown: &mut Account,
    unknown_why: &mut Breakdown,
    (packed, dir): (PackedKey, Direction),
    u: &Update,
) {
    if entry.credits(seats, packed, dir, u.ifindex) {
        credit(entry, processes, unknown, unknown_why, dir, u);
    } else {
        entry.flow.last_seen = entry.flow.last_seen.max(u.ts);
    }
}

impl Engine {
    /// Gives flow `packed` its identity (`engine/once.rs`): from its
    /// owner, or from its key and reason when it has none. An owner's path
    /// is marked owned, and the forwarded sightings of it that held a
    /// seat are taken back (their bytes leave the unknown bucket).
    /// What names the owning process in a socket's identity: its pid and
    /// start time, which stay when slots are renumbered (`lifecycle.rs`).
    pub(super) fn process_key(&self, slot: usize) -> u64 {
        let info = &self.processes.get(slot).info;
        (u64::from(info.pid) << 32) ^ info.start_time
    }

    pub(super) fn identity_of(
        &mut self,
        packed: PackedKey,
        key: &FlowKey,
        why: UnknownReason,
        owner: Option<Owner>,
    ) {
        let m = match owner {
            Some(owner) => {
                let (path, _) = once::path_of(&owner.view);
                if self.seats.own_path(&path) {
                    self.take_back(Seats::path_id(&path));
                }
                let identity = once::socket_identity(self.process_key(owner.slot), &owner.view);
                Membership::new(&identity, false, Some(&path))
            }
            None => {
                let (identity, flip) = self.unowned_identity(packed, key, why);
                // A router's translated sighting of a LAN host's packets
                // that the inside sighting already credits: what it
                // collected before it was known as one (conntrack had no
                // entry yet) are those packets.
                if self.translated.inside(&packed).is_some()
                    && self.seats.held_by_other(&identity, &packed)
                {
                    self.take_back_flow(&packed);
                }
                Membership::new(&identity, flip, None)
            }
        };
        self.seats.enter(&packed, m);
    }

    /// The identity of a flow without an owner: a forwarded flow's path
    /// (for a translated one, its inside path: `engine/translated.rs`),
    /// whether its sides are swapped there; any other, itself.
    fn unowned_identity(
        &self,
        packed: PackedKey,
        key: &FlowKey,
        why: UnknownReason,
    ) -> (Identity, bool) {
        if why != UnknownReason::Forwarded {
            return (Identity::Key(packed), false);
        }
        let along = self.translated.inside(&packed).unwrap_or(key);
        let (path, flip) = once::path_of(along);
        (Identity::Path(path), flip)
    }

    /// True when a flow without an owner, now filed under `why`, is no
    /// longer a member of the identity it should have.
    pub(super) fn unowned_identity_changed(
        &self,
        packed: &PackedKey,
        key: &FlowKey,
        why: UnknownReason,
    ) -> bool {
        let (identity, _) = self.unowned_identity(*packed, key, why);
        !self.seats.is_member(packed, &identity)
    }

    /// Forwarded flows (of path `path_id`) turned out to be sightings of a
    /// local socket's traffic: their bytes so far leave the unknown bucket
    /// (the socket's flow credits them) and they credit nothing more.
    /// Rare (a routed container's connection first seen on the uplink), so
    /// the table is searched.
    fn take_back(&mut self, path_id: u64) {
        let seats = &self.seats;
        let sightings: Vec<PackedKey> = self
            .flows
            .iter_mut()
            .filter(|(packed, _)| seats.identity(packed) == Some(path_id))
            .map(|(packed, _)| *packed)
            .collect();
        for packed in sightings {
            self.take_back_flow(&packed);
        }
    }

    fn take_back_flow(&mut self, packed: &PackedKey) {
        let Some(entry) = self.flows.get_mut(packed) else {
            return;
        };
        if entry.slot.is_none() {
            self.unknown.take_flow(&entry.flow, entry.matched);
            self.unknown_why
                .take(entry.why, &entry.flow.counters, entry.matched);
            entry.flow.counters = Counters::default();
            entry.flow.history = FlowHistory::default();
        }
        entry.at = [ELSEWHERE; 2];
    }

    /// Gives a flow in the table a new identity (after it left its old
    /// one); an unowned flow whose new identity's seat another flow holds
    /// gives its bytes back and credits nothing more. Where it was credited under the old one it claims the new
    /// identity's seat on the same interface (the packet whose search just
    /// ended may still be sighted on the next interface of its path, and
    /// must not be credited there again); elsewhere its seats are decided
    /// on its next packets.
    pub(super) fn reidentify(
        &mut self,
        packed: &PackedKey,
        key: &FlowKey,
        why: UnknownReason,
        owner: Option<Owner>,
    ) {
        self.identity_of(*packed, key, why, owner);
        let Some(entry) = self.flows.get_mut(packed) else {
            return;
        };
        // An unowned flow that waited for its search under its own key
        // (`queue.rs`) and turns out to be a forwarded path another
        // sighting already credits: its bytes were those same packets.
        if entry.slot.is_none() && self.seats.seat_taken(packed) {
            self.take_back_flow(packed);
            return;
        }
        let before = std::mem::replace(&mut entry.at, [UNDECIDED; 2]);
        for dir in [Direction::Tx, Direction::Rx] {
            let d = once::side(dir, false);
            if before[d] != UNDECIDED && before[d] != ELSEWHERE {
                entry.at[d] = self.seats.decide(packed, dir, before[d]);
            }
        }
    }
}

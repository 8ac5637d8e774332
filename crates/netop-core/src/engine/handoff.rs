//! Sockets that change hands: whoever uses a socket owns its bytes.
//!
//! A flow's owner is decided when the flow is first seen, but a socket
//! outlives that moment: a daemon forks after connecting and exits, a
//! launcher passes a descriptor over a UNIX socket, a shell `exec`s. From
//! then on the bytes are the new holder's. Two ways to notice:
//!
//! - the backend tells ([`SocketResolver::owner_changes`]: on Linux the
//!   event source reports a socket again when another process uses it);
//!   asked between capture batches, so at most one batch goes to the old
//!   owner;
//! - once a refresh, the owners of flows that moved bytes since the last
//!   check are asked about ([`SocketResolver::exited`]); a flow whose
//!   owner has exited is looked up again, which finds the socket's new
//!   holder (polling's way, and the safety net when events are lost).
//!
//! Bytes already credited stay where they were: they were the old
//! owner's when they moved.

use std::time::Duration;

use rustc_hash::FxHashSet;

use super::{once, Engine, Owner};
use crate::flow::{FlowKey, PackedKey};
use crate::socket::{SocketEntry, SocketResolver};

/// Flows looked up again per refresh because their owner exited; the rest
/// wait for the next refresh, so a mass exit cannot stall the capture.
const MAX_RECHECKS: usize = 64;

impl Engine {
    /// Applies the sockets the backend saw change hands: their flows'
    /// further bytes go to the new owner.
    /// Also asks about the socket cookies the last batch of kernel
    /// counters' deltas carried (`engine/cookies.rs`).
    pub fn update_owners(&mut self, resolver: &mut dyn SocketResolver) {
        for entry in resolver.owner_changes() {
            self.hand_over(entry);
        }
        self.resolve_cookies(resolver);
    }

    fn hand_over(&mut self, entry: SocketEntry) {
        let Some(info) = entry.owner.as_deref().cloned() else {
            return;
        };
        let mut flows = Vec::new();
        if entry.is_unconnected() {
            // A bound socket's flows: every flow on its port and address.
            for (packed, _) in self.flows.iter() {
                let k = packed.key();
                if k.proto == entry.proto
                    && k.local_port == entry.local.port()
                    && (entry.local.ip().is_unspecified() || entry.local.ip() == k.local_ip)
                {
                    flows.push((*packed, k));
                }
            }
        } else {
            let key = FlowKey::new(entry.proto, entry.local, entry.remote);
            flows.push((PackedKey::from(&key), key));
        }
        let slot = self.register(info);
        for (packed, key) in flows {
            let view = once::socket_view(&entry, &key);
            self.repoint(&packed, Owner { slot, view });
        }
        self.sockets.insert(entry);
    }

    /// The flow's further bytes go to `owner`. An owned flow keeps its
    /// identity across interfaces (it is still the same socket, so its
    /// other sightings stay uncredited); an unowned one is attached, its
    /// unknown bytes moving to the owner.
    pub(super) fn repoint(&mut self, packed: &PackedKey, owner: Owner) {
        let Some(entry) = self.flows.get_mut(packed) else {
            return;
        };
        match entry.slot {
            Some(old) if old != owner.slot => {
                entry.slot = Some(owner.slot);
                self.stats.handovers += 1;
            }
            None => self.attach(packed, owner),
            Some(_) => {}
        }
    }

    /// Looks up again the flows, active since `since` (frame time), whose
    /// owner has exited; a socket that lives on in another process moves
    /// to it.
    pub fn recheck_exited(&mut self, since: Duration, resolver: &mut dyn SocketResolver) {
        let mut owners = FxHashSet::default();
        for (_, e) in self.flows.iter() {
            if let Some(slot) = e.slot {
                if e.flow.last_seen >= since {
                    let info = &self.processes.get(slot).info;
                    owners.insert((info.pid, info.start_time));
                }
            }
        }
        if owners.is_empty() {
            return;
        }
        let owners: Vec<(u32, u64)> = owners.into_iter().collect();
        let gone: FxHashSet<(u32, u64)> = resolver.exited(&owners).into_iter().collect();
        if gone.is_empty() {
            return;
        }
        let stale: Vec<(PackedKey, FlowKey, u32)> = self
            .flows
            .iter_mut()
            .filter_map(|(packed, e)| {
                let info = &self.processes.get(e.slot?).info;
                let id = (info.pid, info.start_time);
                (e.flow.last_seen >= since && gone.contains(&id)).then_some((
                    *packed,
                    packed.key(),
                    info.pid,
                ))
            })
            .take(MAX_RECHECKS)
            .collect();
        for (packed, key, pid) in stale {
            self.stats.lookups += 1;
            let found = match resolver.lookup(&key) {
                Ok(Some(entry)) => entry,
                _ => continue,
            };
            let Some(info) = found.owner.as_deref().cloned() else {
                continue;
            };
            if info.pid == pid {
                continue;
            }
            self.stats.lookup_hits += 1;
            let slot = self.register(info);
            let view = once::socket_view(&found, &key);
            self.repoint(&packed, Owner { slot, view });
            self.sockets.insert(found);
        }
    }
}

#[cfg(test)]
#[path = "handoff_tests.rs"]
mod tests;

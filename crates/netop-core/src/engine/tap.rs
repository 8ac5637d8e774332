//! Packets whose capture names their process (PKTAP on macOS).
//!
//! A PKTAP header says which process sent or received the packet, so its
//! flow needs no socket search: the process is registered (pid, the
//! header's command; start time unknown, 0) and the flow is credited to
//! it. When another process moved the bytes on its behalf (the header's
//! effective pid), the bytes are the effective one's and the real one is
//! remembered on its row as a delegate. A flow whose header names another
//! process later goes on with that one, as a socket that changed hands
//! does (`handoff.rs`); bytes already credited stay.
//!
//! The header names the interface, not its index: names are mapped to the
//! host's indexes from the last interface list, and a name the list lacks
//! (a replayed file from another host) gets an index of its own.

use crate::decode::{IpPacket, Tap};
use crate::direction::Sides;
use crate::flow::{Direction, FlowKey, PackedKey};
use crate::pktap::TapProcess;
use crate::socket::ProcessInfo;

use super::{Engine, Owner};

/// Delegates remembered per process; more are not listed.
pub(super) const MAX_DELEGATES: usize = 8;
/// Indexes given to interface names the host's list lacks.
const UNLISTED_INDEX: u32 = 0x4000_0000;

/// The interfaces PKTAP headers named, by name.
#[derive(Debug, Clone, Default)]
pub(super) struct TapNames {
    /// The last name seen and its index (most packets repeat it).
    last: Option<(Vec<u8>, u32)>,
    /// Names the host's list lacked, with the index each was given.
    unlisted: Vec<(Vec<u8>, u32)>,
}

impl Engine {
    /// The interface index of a PKTAP header's interface name.
    pub(super) fn tap_interface(&mut self, name: &[u8]) -> u32 {
        if let Some((last, index)) = &self.tap_names.last {
            if last.as_slice() == name {
                return *index;
            }
        }
        let listed = self
            .host_interfaces
            .iter()
            .find(|i| i.name.as_bytes() == name)
            .map(|i| i.index);
        let index = match listed {
            Some(index) => index,
            None => match self.tap_names.unlisted.iter().find(|(n, _)| n == name) {
                Some((_, index)) => *index,
                None => {
                    let index = UNLISTED_INDEX + self.tap_names.unlisted.len() as u32;
                    self.tap_names.unlisted.push((name.to_vec(), index));
                    let slot = self.interface_slot(index);
                    self.interfaces.get_mut(slot).name = String::from_utf8_lossy(name).into();
                    index
                }
            },
        };
        self.tap_names.last = Some((name.to_vec(), index));
        index
    }

    /// The slot of the process a PKTAP header names, registered (from
    /// the socket table's owner when it knows the pid, else by the
    /// header's command) on first sight or after an exec; a delegate is
    /// noted on its row.
    pub(super) fn tap_owner(&mut self, p: &TapProcess<'_>) -> usize {
        // The header's command is cut at 16 bytes: a longer name the
        // backend gave is the same process.
        let slot = match self.processes.find(p.pid) {
            Some(slot)
                if self
                    .processes
                    .get(slot)
                    .info
                    .name
                    .as_bytes()
                    .starts_with(p.name) =>
            {
                slot
            }
            _ => {
                // First sight: the socket table may know the process
                // (its user, start time, full name).
                let known = self
                    .sockets
                    .entries()
                    .iter()
                    .filter_map(|e| e.owner.as_deref())
                    .find(|o| o.pid == p.pid && o.name.as_bytes().starts_with(p.name))
                    .cloned();
                self.register(known.unwrap_or_else(|| ProcessInfo {
                    pid: p.pid,
                    name: String::from_utf8_lossy(p.name).into(),
                    ..ProcessInfo::default()
                }))
            }
        };
        if let Some((pid, name)) = p.delegate {
            let delegates = &mut self.processes.get_mut(slot).delegates;
            if delegates.len() < MAX_DELEGATES && !delegates.iter().any(|(d, _)| *d == pid) {
                delegates.push((pid, String::from_utf8_lossy(name).into()));
            }
        }
        slot
    }

    /// The flow update(s) of a packet whose header names its process and
    /// direction: the process's end is on this host whatever the
    /// addresses say (a replayed file carries another host's addresses),
    /// so a packet it sent is its tx and one it received its rx. Traffic
    /// between two local addresses keeps both sides.
    pub(super) fn tap_sides(&self, ip: &IpPacket<'_>, outgoing: bool) -> Sides {
        let sides = self.local.sides(ip, Some(outgoing));
        if sides.second.is_some() {
            return sides;
        }
        let want = if outgoing {
            Direction::Tx
        } else {
            Direction::Rx
        };
        if sides.first.0 == want {
            return sides;
        }
        let (local, remote) = if outgoing {
            ((ip.src, ip.src_port), (ip.dst, ip.dst_port))
        } else {
            ((ip.dst, ip.dst_port), (ip.src, ip.src_port))
        };
        Sides {
            first: (
                want,
                FlowKey {
                    proto: ip.proto,
                    local_ip: local.0,
                    local_port: local.1,
                    remote_ip: remote.0,
                    remote_port: remote.1,
                },
            ),
            second: None,
        }
    }

    /// Points a known flow at the process its header named: an unowned
    /// flow is attached (its unknown bytes move), an owned one is handed
    /// over (its further bytes go to the new owner).
    pub(super) fn tap_hand_over(&mut self, packed: &PackedKey, key: FlowKey, slot: usize) {
        self.repoint(packed, Owner { slot, view: key });
    }
}

/// The process of a decoded PKTAP packet, if its header names one.
pub(super) fn tap_process<'a>(tap: &Option<Tap<'a>>) -> Option<TapProcess<'a>> {
    tap.as_ref().and_then(|t| t.process)
}

#[cfg(test)]
#[path = "tap_tests.rs"]
mod tests;

//! Kernel counters' deltas into the engine (`delta.rs`): each one goes the
//! way a frame of its packets would, after decoding. Its interface is
//! counted by its direction, its sides by the host's addresses, its flows
//! get owners, seats and unknown reasons as frames' flows do; only DNS is
//! not read (a delta has no payload: the DNS packets come as frames). A
//! delta that carries its sending socket's cookie takes that side's owner
//! from the cookie (`engine/cookies.rs`) rather than by tuple.

use std::time::Duration;

use super::cookies::CookieSlot;
use super::{Engine, Update};
use crate::decode::{IpPacket, TcpFlags};
use crate::delta::FlowDelta;
use crate::flow::{Direction, FlowKey};

impl Engine {
    /// Accounts a batch of deltas. They are taken in the order their
    /// first packets were seen, so on `any` the first interface a flow's
    /// packets crossed takes its seat, as with frames (`engine/once.rs`).
    /// Owner searches are queued as for frames
    /// ([`Engine::resolve_pending`]).
    pub fn ingest_deltas(&mut self, deltas: &mut [FlowDelta]) {
        deltas.sort_by_key(|d| (d.first_seen, d.last_seen));
        for d in deltas.iter() {
            self.ingest_delta(d);
        }
    }

    /// Whether the last [`Engine::set_interfaces`] listed `ifindex`: a
    /// kernel counter holds back a batch with packets on an interface
    /// created since (whose addresses decide which end is local) until
    /// the caller has listed interfaces again.
    pub fn is_listed(&self, ifindex: u32) -> bool {
        self.host_interfaces.iter().any(|i| i.index == ifindex)
    }

    /// Asks the caller to list interfaces now, as a packet on an unlisted
    /// one does ([`Engine::take_unlisted_interface`]).
    pub fn request_listing(&mut self) {
        self.unlisted_interface = true;
    }

    fn ingest_delta(&mut self, d: &FlowDelta) {
        if d.packets == 0 {
            return;
        }
        self.stats.frames += d.packets;
        if self.latest.is_zero() && self.table_at == Some(Duration::ZERO) {
            self.table_at = Some(d.first_seen);
        }
        self.latest = self.latest.max(d.last_seen);
        let Some(t) = d.tuple else {
            self.stats.non_ip_frames += d.packets;
            for part in seconds_of(d) {
                let amount = (part.bytes, part.packets);
                self.count_non_ip(d.ifindex, d.outgoing, amount, part.sec);
            }
            return;
        };
        let tcp = TcpFlags {
            syn: d.tcp.syn,
            fin: d.tcp.fin,
            rst: d.tcp.rst,
            seq: 0,
        };
        let ip = IpPacket {
            src: t.src,
            dst: t.dst,
            proto: t.proto,
            src_port: t.src_port,
            dst_port: t.dst_port,
            tcp,
            payload: &[],
        };
        let sides = self.local.sides(&ip, Some(d.outgoing));
        // The sending socket's cookie names the owner of the sending side
        // (`engine/cookies.rs`), as a PKTAP header names a process.
        let (mut owner, mut cookie_asked) = (None, false);
        if let (Some(cookie), true, Some(key)) = (d.cookie, d.outgoing, sending_side(&sides)) {
            match self.cookie_slot(cookie, &key) {
                CookieSlot::Known(slot) => {
                    self.count_cookie_owner(&key, slot);
                    owner = Some((slot, true));
                }
                CookieSlot::Asked => cookie_asked = true,
                CookieSlot::Unknown => {}
            }
        }
        for part in seconds_of(d) {
            let update = Update {
                bytes: part.bytes,
                packets: part.packets,
                sec: part.sec,
                ts: part.last,
                first: part.first,
                ifindex: d.ifindex,
                tcp,
                cookie_asked,
                history: self.config.flow_history,
            };
            self.count_packet(sides, Some(d.outgoing), owner, &update);
        }
    }
}

/// The flow of a packet's sending end, when it is on this host.
fn sending_side(sides: &crate::direction::Sides) -> Option<FlowKey> {
    std::iter::once(sides.first)
        .chain(sides.second)
        .find(|(dir, _)| *dir == Direction::Tx)
        .map(|(_, key)| key)
}

/// One second's share of a delta.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Part {
    sec: u64,
    bytes: u64,
    packets: u64,
    first: Duration,
    last: Duration,
}

/// A delta cut at whole seconds, its bytes and packets shared by the
/// time it spent in each (the packets' own times are not kept): a table
/// read late (a busy loop, a slow socket table) must not pile seconds of
/// traffic into the last one, which the per-second rates show. Shares
/// add up to the delta exactly.
fn seconds_of(d: &FlowDelta) -> Vec<Part> {
    let (first, last) = (d.first_seen, d.last_seen.max(d.first_seen));
    let whole = Part {
        sec: last.as_secs(),
        bytes: d.bytes,
        packets: d.packets,
        first,
        last,
    };
    if first.as_secs() == last.as_secs() {
        return vec![whole];
    }
    let span = (last - first).as_nanos();
    let mut parts = Vec::new();
    let (mut bytes_left, mut packets_left) = (d.bytes, d.packets);
    for sec in first.as_secs()..=last.as_secs() {
        let start = first.max(Duration::from_secs(sec));
        let end = last.min(Duration::from_secs(sec + 1));
        let share = |n: u64| (u128::from(n) * (end - start).as_nanos() / span) as u64;
        let (bytes, packets) = if sec == last.as_secs() {
            (bytes_left, packets_left)
        } else {
            (
                share(d.bytes).min(bytes_left),
                share(d.packets).min(packets_left),
            )
        };
        bytes_left -= bytes;
        packets_left -= packets;
        parts.push(Part {
            sec,
            bytes,
            packets,
            first: start,
            last: end.min(last),
        });
    }
    parts
}

#[cfg(test)]
#[path = "deltas_tests.rs"]
mod tests;

//! Kernel counters' deltas into the engine (`delta.rs`): each one goes the
//! way a frame of its packets would, after decoding. Its interface is
//! counted by its direction, its sides by the host's addresses, its flows
//! get owners, seats and unknown reasons as frames' flows do; only DNS is
//! not read (a delta has no payload: the DNS packets come as frames).

use super::{Engine, Update};
use crate::decode::{IpPacket, TcpFlags};
use crate::delta::FlowDelta;

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
        if self.latest.is_zero() && self.table_at == Some(std::time::Duration::ZERO) {
            self.table_at = Some(d.first_seen);
        }
        self.latest = self.latest.max(d.last_seen);
        let sec = d.last_seen.as_secs();
        let amount = (d.bytes, d.packets);
        let Some(t) = d.tuple else {
            self.stats.non_ip_frames += d.packets;
            self.count_non_ip(d.ifindex, d.outgoing, amount, sec);
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
        let update = Update {
            bytes: d.bytes,
            packets: d.packets,
            sec,
            ts: d.last_seen,
            first: d.first_seen,
            ifindex: d.ifindex,
            tcp,
        };
        self.count_packet(sides, Some(d.outgoing), None, &update);
    }
}

#[cfg(test)]
#[path = "deltas_tests.rs"]
mod tests;

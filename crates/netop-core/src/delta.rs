//! Flow deltas: what a kernel counter hands the engine instead of frames.
//!
//! In kernel counting mode (Linux: a traffic-control eBPF program on each
//! interface, `netop-linux/src/counting*`) no packet is copied to netop.
//! The kernel adds each packet's bytes to a counter keyed by interface,
//! direction and the packet's addresses, ports and protocol, and netop
//! reads and clears the counters in batches. One [`FlowDelta`] is one such
//! counter: the packets of one key since the last read. The engine feeds
//! them through the same path as frames (`Engine::ingest_deltas`), so the
//! flow table, the interface accounts, owner searches, seats and unknown
//! reasons are the same; only the packets' payloads (DNS) are missing,
//! which is why DNS still comes as frames.

use std::net::IpAddr;
use std::time::Duration;

use crate::flow::Protocol;

/// The IP facts of a delta's packets, in the packets' own order (source
/// first), as a frame's IP layer would give them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeltaTuple {
    pub proto: Protocol,
    pub src: IpAddr,
    pub src_port: u16,
    pub dst: IpAddr,
    pub dst_port: u16,
}

impl DeltaTuple {
    /// The tuple a kernel counter keys a decoded packet's IP layer by.
    pub fn of(ip: &crate::decode::IpPacket<'_>) -> Self {
        DeltaTuple {
            proto: ip.proto,
            src: ip.src,
            src_port: ip.src_port,
            dst: ip.dst,
            dst_port: ip.dst_port,
        }
    }
}

/// TCP flags seen on any of a delta's packets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct SeenFlags {
    pub syn: bool,
    pub fin: bool,
    pub rst: bool,
}

/// The packets of one key counted since the last read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowDelta {
    /// The interface they crossed.
    pub ifindex: u32,
    /// Sent by the interface (egress), else received (ingress).
    pub outgoing: bool,
    /// `None`: frames that are not IP (ARP, LLDP, ...), which count on
    /// their interface and as unknown (kernel), as frames do.
    pub tuple: Option<DeltaTuple>,
    /// Bytes as the interface counters count them (the network layer
    /// plus the interface's link header: the decoder's `wire_len`).
    pub bytes: u64,
    pub packets: u64,
    /// The first and the last packet's time, since the Unix epoch.
    pub first_seen: Duration,
    pub last_seen: Duration,
    pub tcp: SeenFlags,
    /// The sending socket's cookie, when the kernel knew it (egress of a
    /// local socket): the engine takes the sending side's owner from it
    /// (`engine/cookies.rs`, [`crate::SocketResolver::cookie_owners`]).
    pub cookie: Option<u64>,
}

//! Which side of a packet is this host.
//!
//! A packet is "tx" when its source is one of the host's addresses and "rx"
//! when its destination is. Traffic between two local addresses (loopback)
//! is both: the sender's tx and the receiver's rx, which is also how the
//! kernel's loopback counters count it.
//!
//! When neither address is the host's (a container behind a veth, a
//! routed or bridged packet), the packet belongs to the end behind the
//! link it was captured on: received from the link, its sender (tx);
//! sent onto the link, its receiver (rx). The direction comes from the
//! kernel (`PACKET_OUTGOING` in cooked captures) or from the frame's
//! source MAC; without either, the receiver (rx). A packet seen on several
//! interfaces gives a flow update on each; the engine credits only one of
//! them (`engine/once.rs`).

use std::net::IpAddr;

use crate::decode::IpPacket;
use crate::flow::{Direction, FlowKey};
use crate::interfaces::InterfaceInfo;
use crate::socket::canonical_ip;

/// The host's own addresses, replaced whenever the backend reports a change.
/// Kept as plain integers per family: hosts have a handful of addresses,
/// and scanning a few integers beats hashing an `IpAddr` on every packet.
#[derive(Debug, Default, Clone)]
pub struct LocalAddrs {
    v4: Vec<u32>,
    v6: Vec<u128>,
}

/// The one or two flow updates a packet makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sides {
    pub first: (Direction, FlowKey),
    /// Set for traffic between two local addresses: the receiving side.
    pub second: Option<(Direction, FlowKey)>,
}

impl LocalAddrs {
    pub fn from_interfaces(interfaces: &[InterfaceInfo]) -> Self {
        let mut local = LocalAddrs::default();
        for ip in interfaces.iter().flat_map(|i| i.addrs.iter().copied()) {
            match canonical_ip(ip) {
                IpAddr::V4(v4) => local.v4.push(v4.to_bits()),
                IpAddr::V6(v6) => local.v6.push(v6.to_bits()),
            }
        }
        local.v4.sort_unstable();
        local.v4.dedup();
        local.v6.sort_unstable();
        local.v6.dedup();
        local
    }

    /// Whether `ip` is this host's. Every address is compared, with no
    /// early exit: whether a packet's end is local follows no pattern, and
    /// a loop that stopped at a match mispredicted its exit on about every
    /// other call in callgrind's branch simulation (`benches/ingest.rs`).
    pub fn contains(&self, ip: &IpAddr) -> bool {
        fn any<T: PartialEq + Copy>(addrs: &[T], ip: T) -> bool {
            addrs.iter().fold(false, |found, &a| found | (a == ip))
        }
        match ip {
            IpAddr::V4(v4) => v4.is_loopback() | any(&self.v4, v4.to_bits()),
            IpAddr::V6(v6) => v6.is_loopback() | any(&self.v6, v6.to_bits()),
        }
    }

    pub fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Decides direction and flow key(s) for a packet. Always inlined into
    /// the engine's packet path: out of line, its keys went back through
    /// memory, and a sampled profile (`perf -e cpu-clock`) put a third of
    /// its time on one load of the addresses just copied.
    #[inline(always)]
    pub fn sides(&self, ip: &IpPacket<'_>, outgoing: Option<bool>) -> Sides {
        let (src, dst) = (by_parts(&ip.src), by_parts(&ip.dst));
        let tx = (
            Direction::Tx,
            FlowKey {
                proto: ip.proto,
                local_ip: src,
                local_port: ip.src_port,
                remote_ip: dst,
                remote_port: ip.dst_port,
            },
        );
        let rx = (
            Direction::Rx,
            FlowKey {
                proto: ip.proto,
                local_ip: dst,
                local_port: ip.dst_port,
                remote_ip: src,
                remote_port: ip.src_port,
            },
        );
        let src_local = self.contains(&src);
        let dst_local = self.contains(&dst);
        match (src_local, dst_local) {
            (true, true) => Sides {
                first: tx,
                second: Some(rx),
            },
            (true, false) => Sides {
                first: tx,
                second: None,
            },
            (false, true) => Sides {
                first: rx,
                second: None,
            },
            (false, false) => Sides {
                first: if outgoing == Some(false) { tx } else { rx },
                second: None,
            },
        }
    }
}

/// A copy of `ip` read as its variant's address, not as its 17 bytes: an
/// address decode has just written (a tag byte and 4 bytes for IPv4) read
/// back with one 16-byte load cannot be forwarded from the stores, and
/// waits for them (a sampled profile put 18 % of `Engine::ingest` on it).
#[inline(always)]
#[allow(clippy::needless_match)] // The match is the point: see above.
fn by_parts(ip: &IpAddr) -> IpAddr {
    match *ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => IpAddr::V6(v6),
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::decode::TcpFlags;
    use crate::flow::Protocol;

    fn iface(addrs: &[IpAddr]) -> Vec<InterfaceInfo> {
        vec![InterfaceInfo {
            index: 2,
            name: "eth0".into(),
            up: true,
            addrs: addrs.to_vec(),
            ..Default::default()
        }]
    }

    fn pkt(src: [u8; 4], dst: [u8; 4]) -> IpPacket<'static> {
        IpPacket {
            src: IpAddr::V4(Ipv4Addr::from(src)),
            dst: IpAddr::V4(Ipv4Addr::from(dst)),
            proto: Protocol::Tcp,
            src_port: 1000,
            dst_port: 80,
            tcp: TcpFlags::default(),
            payload: &[],
        }
    }

    const ME: [u8; 4] = [192, 0, 2, 10];
    const PEER: [u8; 4] = [198, 51, 100, 7];

    #[test]
    fn source_local_is_tx_destination_local_is_rx() {
        let local = LocalAddrs::from_interfaces(&iface(&[IpAddr::from(ME)]));
        let s = local.sides(&pkt(ME, PEER), None);
        assert_eq!(s.first.0, Direction::Tx);
        assert_eq!(s.first.1.local_port, 1000);
        assert_eq!(s.second, None);
        let s = local.sides(&pkt(PEER, ME), Some(true));
        assert_eq!(s.first.0, Direction::Rx, "addresses beat the packet type");
        assert_eq!(s.first.1.local_port, 80);
        assert_eq!(s.first.1.remote_ip, IpAddr::from(PEER));
    }

    #[test]
    fn loopback_traffic_counts_on_both_sides() {
        let local = LocalAddrs::default();
        let s = local.sides(&pkt([127, 0, 0, 1], [127, 0, 0, 1]), Some(false));
        assert_eq!(s.first.0, Direction::Tx);
        assert_eq!(s.first.1.local_port, 1000);
        let second = s.second.expect("receiver side");
        assert_eq!(second.0, Direction::Rx);
        assert_eq!(second.1.local_port, 80);
    }

    #[test]
    fn neither_side_local_belongs_to_the_end_behind_the_link() {
        let local = LocalAddrs::from_interfaces(&iface(&[IpAddr::from(ME)]));
        let container = [10, 0, 3, 2];
        // Received from the container's link: the container sent it.
        let s = local.sides(&pkt(container, PEER), Some(false));
        assert_eq!(s.first.0, Direction::Tx);
        assert_eq!(s.first.1.local_ip, IpAddr::from(container));
        assert_eq!(s.first.1.local_port, 1000);
        // Sent onto the container's link: the container receives it.
        let s = local.sides(&pkt(PEER, container), Some(true));
        assert_eq!(s.first.0, Direction::Rx);
        assert_eq!(s.first.1.local_ip, IpAddr::from(container));
        assert_eq!(s.first.1.local_port, 80);
        assert_eq!(s.second, None, "credited once");
        assert_eq!(local.sides(&pkt(PEER, PEER), None).first.0, Direction::Rx);
    }

    #[test]
    fn address_changes_take_effect() {
        let mut local = LocalAddrs::from_interfaces(&iface(&[IpAddr::from(ME)]));
        assert_eq!(local.sides(&pkt(PEER, ME), None).first.0, Direction::Rx);
        local = LocalAddrs::from_interfaces(&iface(&[IpAddr::from(PEER)]));
        assert_eq!(local.sides(&pkt(PEER, ME), None).first.0, Direction::Tx);
    }

    #[test]
    fn ipv4_mapped_interface_addresses_match_ipv4_packets() {
        let mapped: IpAddr = "::ffff:192.0.2.10".parse().expect("addr");
        let local = LocalAddrs::from_interfaces(&iface(&[mapped]));
        assert_eq!(local.sides(&pkt(ME, PEER), None).first.0, Direction::Tx);
    }
}

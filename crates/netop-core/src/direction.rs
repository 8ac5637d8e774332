//! Which side of a packet is this host.
//!
//! A packet is "tx" when its source is one of the host's addresses and "rx"
//! when its destination is. Cooked captures also carry the kernel's own
//! verdict (`PACKET_OUTGOING`), used when neither address is local
//! (broadcast, forwarding, promiscuous capture). Traffic between two local
//! addresses (loopback) is both: the sender's tx and the receiver's rx,
//! which is also how the kernel's loopback counters count it.

use std::net::IpAddr;

use rustc_hash::FxHashSet;

use crate::decode::IpPacket;
use crate::flow::{Direction, FlowKey};
use crate::interfaces::InterfaceInfo;
use crate::socket::canonical_ip;

/// The host's own addresses, replaced whenever the backend reports a change.
#[derive(Debug, Default, Clone)]
pub struct LocalAddrs {
    addrs: FxHashSet<IpAddr>,
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
        let addrs = interfaces
            .iter()
            .flat_map(|i| i.addrs.iter().copied().map(canonical_ip))
            .collect();
        LocalAddrs { addrs }
    }

    pub fn contains(&self, ip: &IpAddr) -> bool {
        self.addrs.contains(ip) || ip.is_loopback()
    }

    pub fn len(&self) -> usize {
        self.addrs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.addrs.is_empty()
    }

    /// Decides direction and flow key(s) for a packet.
    pub fn sides(&self, ip: &IpPacket<'_>, outgoing: Option<bool>) -> Sides {
        let tx = (
            Direction::Tx,
            FlowKey {
                proto: ip.proto,
                local_ip: ip.src,
                local_port: ip.src_port,
                remote_ip: ip.dst,
                remote_port: ip.dst_port,
            },
        );
        let rx = (
            Direction::Rx,
            FlowKey {
                proto: ip.proto,
                local_ip: ip.dst,
                local_port: ip.dst_port,
                remote_ip: ip.src,
                remote_port: ip.src_port,
            },
        );
        let src_local = self.contains(&ip.src);
        let dst_local = self.contains(&ip.dst);
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
                first: if outgoing == Some(true) { tx } else { rx },
                second: None,
            },
        }
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
    fn neither_side_local_follows_the_packet_type() {
        let local = LocalAddrs::from_interfaces(&iface(&[IpAddr::from(ME)]));
        assert_eq!(
            local.sides(&pkt(PEER, PEER), Some(true)).first.0,
            Direction::Tx
        );
        assert_eq!(
            local.sides(&pkt(PEER, PEER), Some(false)).first.0,
            Direction::Rx
        );
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

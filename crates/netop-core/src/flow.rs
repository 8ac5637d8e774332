//! Flow identity and per-flow counters.
//!
//! A flow is one conversation as seen from this host: protocol plus the
//! local and the remote address and port. Both directions of a connection
//! land in the same flow, split into rx and tx.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use crate::history::FlowHistory;

/// Transport protocol of a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    Tcp,
    Udp,
    Icmp,
    Icmpv6,
    /// Any other IP protocol, by number.
    Other(u8),
}

impl Protocol {
    pub fn from_ip_number(n: u8) -> Self {
        match n {
            6 => Protocol::Tcp,
            17 => Protocol::Udp,
            1 => Protocol::Icmp,
            58 => Protocol::Icmpv6,
            other => Protocol::Other(other),
        }
    }

    /// The IP protocol number.
    pub fn number(self) -> u8 {
        match self {
            Protocol::Tcp => 6,
            Protocol::Udp => 17,
            Protocol::Icmp => 1,
            Protocol::Icmpv6 => 58,
            Protocol::Other(n) => n,
        }
    }

    /// True for protocols whose flows have ports.
    pub fn has_ports(self) -> bool {
        matches!(self, Protocol::Tcp | Protocol::Udp)
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Protocol::Tcp => f.write_str("TCP"),
            Protocol::Udp => f.write_str("UDP"),
            Protocol::Icmp => f.write_str("ICMP"),
            Protocol::Icmpv6 => f.write_str("ICMPv6"),
            Protocol::Other(n) => write!(f, "IP/{n}"),
        }
    }
}

/// (protocol, local address:port, remote address:port). Ports are 0 for
/// protocols without them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowKey {
    pub proto: Protocol,
    pub local_ip: IpAddr,
    pub local_port: u16,
    pub remote_ip: IpAddr,
    pub remote_port: u16,
}

impl FlowKey {
    /// The flow between `local` and `remote` (as the host sees them).
    pub fn new(proto: Protocol, local: SocketAddr, remote: SocketAddr) -> Self {
        FlowKey {
            proto,
            local_ip: local.ip(),
            local_port: local.port(),
            remote_ip: remote.ip(),
            remote_port: remote.port(),
        }
    }

    /// The local end, address and port.
    pub fn local(&self) -> SocketAddr {
        SocketAddr::new(self.local_ip, self.local_port)
    }

    /// The remote end, address and port.
    pub fn remote(&self) -> SocketAddr {
        SocketAddr::new(self.remote_ip, self.remote_port)
    }
}

/// A [`FlowKey`] as five integers, the flow table's own key: the table
/// hashes and compares a key for every packet, and integers make both a few
/// instructions (an `IpAddr` is an enum, compared branch by branch). Words
/// of 64 bits, not two `u128`s: 40 bytes instead of 48 in every slot of
/// the flow table. The flow table keeps no other copy of the key
/// ([`PackedKey::key`] gives it back).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct PackedKey(u64, [u64; 2], [u64; 2]);

fn words(bits: u128) -> [u64; 2] {
    [(bits >> 64) as u64, bits as u64]
}

fn unwords(w: [u64; 2]) -> u128 {
    u128::from(w[0]) << 64 | u128::from(w[1])
}

impl From<&FlowKey> for PackedKey {
    fn from(key: &FlowKey) -> Self {
        fn bits(ip: &IpAddr) -> (u128, u64) {
            match ip {
                IpAddr::V4(v4) => (u128::from(v4.to_bits()), 0),
                IpAddr::V6(v6) => (v6.to_bits(), 1),
            }
        }
        let proto = u64::from(key.proto.number());
        let (local, local_v6) = bits(&key.local_ip);
        let (remote, remote_v6) = bits(&key.remote_ip);
        PackedKey(
            local_v6 << 41
                | remote_v6 << 40
                | proto << 32
                | u64::from(key.local_port) << 16
                | u64::from(key.remote_port),
            words(local),
            words(remote),
        )
    }
}

impl PackedKey {
    /// The flow key this was made from.
    pub(crate) fn key(&self) -> FlowKey {
        fn ip(bits: u128, v6: bool) -> IpAddr {
            if v6 {
                IpAddr::V6(Ipv6Addr::from_bits(bits))
            } else {
                IpAddr::V4(Ipv4Addr::from_bits(bits as u32))
            }
        }
        let meta = self.0;
        FlowKey {
            proto: Protocol::from_ip_number((meta >> 32) as u8),
            local_ip: ip(unwords(self.1), meta >> 41 & 1 == 1),
            local_port: (meta >> 16) as u16,
            remote_ip: ip(unwords(self.2), meta >> 40 & 1 == 1),
            remote_port: meta as u16,
        }
    }

    /// The protocol alone, without rebuilding the key.
    pub(crate) fn proto(&self) -> Protocol {
        Protocol::from_ip_number((self.0 >> 32) as u8)
    }

    /// The key as its five words, for the flow table's hash: hashed one
    /// word at a time, not as the derived `Hash` does it (its arrays are
    /// hashed as a length and a byte slice, several times the work).
    #[inline]
    pub(crate) fn words(&self) -> [u64; 5] {
        [self.0, self.1[0], self.1[1], self.2[0], self.2[1]]
    }
}

impl fmt::Display for FlowKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} -> {}",
            self.proto,
            std::net::SocketAddr::new(self.local_ip, self.local_port),
            std::net::SocketAddr::new(self.remote_ip, self.remote_port)
        )
    }
}

/// Byte and packet counts in both directions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_packets: u64,
    pub tx_packets: u64,
}

impl Counters {
    pub fn add(&mut self, dir: Direction, bytes: u64) {
        self.add_n(dir, bytes, 1);
    }

    /// Adds `packets` packets of `bytes` bytes in all (a kernel counter's
    /// delta, `delta.rs`).
    #[inline]
    pub fn add_n(&mut self, dir: Direction, bytes: u64, packets: u64) {
        match dir {
            Direction::Rx => {
                self.rx_bytes += bytes;
                self.rx_packets += packets;
            }
            Direction::Tx => {
                self.tx_bytes += bytes;
                self.tx_packets += packets;
            }
        }
    }

    pub fn merge(&mut self, other: &Counters) {
        self.rx_bytes += other.rx_bytes;
        self.tx_bytes += other.tx_bytes;
        self.rx_packets += other.rx_packets;
        self.tx_packets += other.tx_packets;
    }

    /// Removes `other`, saturating at zero.
    pub fn remove(&mut self, other: &Counters) {
        self.rx_bytes = self.rx_bytes.saturating_sub(other.rx_bytes);
        self.tx_bytes = self.tx_bytes.saturating_sub(other.tx_bytes);
        self.rx_packets = self.rx_packets.saturating_sub(other.rx_packets);
        self.tx_packets = self.tx_packets.saturating_sub(other.tx_packets);
    }

    pub fn total_bytes(&self) -> u64 {
        self.rx_bytes + self.tx_bytes
    }
}

/// Which way a packet went, from this host's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    Rx,
    Tx,
}

/// One flow's state.
#[derive(Debug, Clone)]
pub struct Flow {
    pub counters: Counters,
    pub first_seen: Duration,
    pub last_seen: Duration,
    /// Interface of the most recent packet.
    pub ifindex: u32,
    /// A FIN or RST was seen: the flow may expire sooner.
    pub closing: bool,
    /// Who sent the first packet seen: `Tx` means this host opened it.
    pub opened_by: Direction,
    pub history: FlowHistory,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(local: &str, remote: &str) -> FlowKey {
        FlowKey::new(
            Protocol::Tcp,
            local.parse().expect("addr"),
            remote.parse().expect("addr"),
        )
    }

    #[test]
    fn a_packed_key_gives_its_key_back() {
        let mut keys = vec![
            key("10.0.0.1:1", "10.0.0.2:2"),
            key("[::a00:1]:65535", "10.0.0.2:0"),
            key("255.255.255.255:443", "[fe80::1:2:3:4]:53"),
            key("[ff02::fb]:5353", "[2001:db8::ffff:ffff]:40000"),
        ];
        for proto in [
            Protocol::Udp,
            Protocol::Icmp,
            Protocol::Icmpv6,
            Protocol::Other(47),
        ] {
            let mut k = keys[0];
            k.proto = proto;
            keys.push(k);
        }
        for k in keys {
            let packed = PackedKey::from(&k);
            assert_eq!(packed.key(), k);
            assert_eq!(packed.proto(), k.proto);
        }
        assert_eq!(std::mem::size_of::<PackedKey>(), 40);
    }

    #[test]
    fn packed_keys_are_distinct_when_keys_are() {
        let keys = [
            key("10.0.0.1:1", "10.0.0.2:2"),
            key("10.0.0.2:2", "10.0.0.1:1"),
            key("[::a00:1]:1", "10.0.0.2:2"),
            key("10.0.0.1:1", "[::a00:2]:2"),
            key("[fe80::1]:1", "[ff02::1]:2"),
            key("[fe80::1]:2", "[ff02::1]:1"),
        ];
        for (i, a) in keys.iter().enumerate() {
            for (j, b) in keys.iter().enumerate() {
                assert_eq!(
                    PackedKey::from(a) == PackedKey::from(b),
                    i == j,
                    "{a} vs {b}"
                );
            }
        }
        let mut udp = keys[0];
        udp.proto = Protocol::Udp;
        assert_ne!(PackedKey::from(&udp), PackedKey::from(&keys[0]));
    }
}

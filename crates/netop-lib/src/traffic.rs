//! The figures the library hands out: a process's traffic on one
//! interface, transport protocols, the host's interfaces.

use std::net::IpAddr;

/// One process's bytes and packets on one interface, since it was
/// watched (for [`Monitor::traffic`](crate::Monitor::traffic)) or since
/// the monitor started (in a [`Report`](crate::Report)).
///
/// Bytes are counted as the interface's kernel counters count them: the
/// IP packet plus the interface's link header.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Traffic {
    /// The interface's name (`lo`, `eth0`, ...).
    pub interface: String,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
    /// Packets received.
    pub rx_packets: u64,
    /// Packets sent.
    pub tx_packets: u64,
}

impl Traffic {
    /// Received plus sent bytes.
    ///
    /// ```
    /// let t = netop_lib::Traffic { rx_bytes: 3, tx_bytes: 4, ..Default::default() };
    /// assert_eq!(t.total_bytes(), 7);
    /// ```
    pub fn total_bytes(&self) -> u64 {
        self.rx_bytes + self.tx_bytes
    }

    pub(crate) fn of(interface: String, c: &netop_core::flow::Counters) -> Self {
        Traffic {
            interface,
            rx_bytes: c.rx_bytes,
            tx_bytes: c.tx_bytes,
            rx_packets: c.rx_packets,
            tx_packets: c.tx_packets,
        }
    }
}

/// A transport protocol with ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Proto {
    /// TCP (IP protocol 6).
    Tcp,
    /// UDP (IP protocol 17).
    Udp,
}

impl Proto {
    /// The IP protocol number (netprocmon's `P_TCP`, `P_UDP`).
    ///
    /// ```
    /// use netop_lib::Proto;
    /// assert_eq!((Proto::Tcp.number(), Proto::Udp.number()), (6, 17));
    /// assert_eq!(Proto::from_number(17), Some(Proto::Udp));
    /// ```
    pub fn number(self) -> u8 {
        match self {
            Proto::Tcp => 6,
            Proto::Udp => 17,
        }
    }

    /// The protocol with IP number `n`, if it is TCP or UDP.
    pub fn from_number(n: i64) -> Option<Self> {
        match n {
            6 => Some(Proto::Tcp),
            17 => Some(Proto::Udp),
            _ => None,
        }
    }

    pub(crate) fn of(p: netop_core::Protocol) -> Option<Self> {
        match p {
            netop_core::Protocol::Tcp => Some(Proto::Tcp),
            netop_core::Protocol::Udp => Some(Proto::Udp),
            _ => None,
        }
    }
}

impl std::fmt::Display for Proto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        })
    }
}

/// One of the host's network interfaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    /// Its name.
    pub name: String,
    /// The kernel's index.
    pub index: u32,
    /// Administratively up.
    pub up: bool,
    /// Its IPv4 and IPv6 addresses.
    pub addresses: Vec<IpAddr>,
}

impl Interface {
    pub(crate) fn of(i: &netop_core::InterfaceInfo) -> Self {
        Interface {
            name: i.name.clone(),
            index: i.index,
            up: i.up,
            addresses: i.addrs.clone(),
        }
    }
}

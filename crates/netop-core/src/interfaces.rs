//! The host's interfaces and addresses, as a backend reports them.
//!
//! Direction (rx or tx) is decided by comparing packet addresses with these,
//! so the engine asks for them again on every refresh: addresses change
//! (DHCP, VPNs coming up, test namespaces being made).

use std::net::IpAddr;

/// One network interface of the host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InterfaceInfo {
    pub index: u32,
    pub name: String,
    pub up: bool,
    pub addrs: Vec<IpAddr>,
    /// The kernel's own counters for the interface, when the backend can
    /// read them (the Interface view shows packets and errors from here).
    pub kernel: Option<KernelCounters>,
    /// DNS servers the system's configuration sends this interface's
    /// queries to (resolv.conf by route, systemd-resolved per link).
    pub dns_servers: Vec<IpAddr>,
    /// The link-layer (MAC) address, for telling this host's Ethernet
    /// frames from those it receives when the capture gives no direction.
    pub mac: Option<[u8; 6]>,
}

/// Kernel counters of one interface, since the interface appeared (not
/// since netop started).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KernelCounters {
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub rx_errors: u64,
    pub tx_errors: u64,
    pub rx_dropped: u64,
    pub tx_dropped: u64,
}

/// Lists the host's interfaces.
pub trait HostInterfaces {
    fn interfaces(&mut self) -> Result<Vec<InterfaceInfo>, crate::ResolveError>;
}

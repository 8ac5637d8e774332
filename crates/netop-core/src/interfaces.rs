//! The host's interfaces and addresses, as a backend reports them.
//!
//! Direction (rx or tx) is decided by comparing packet addresses with these,
//! so the engine asks for them again on every refresh: addresses change
//! (DHCP, VPNs coming up, test namespaces being made).

use std::net::IpAddr;

/// One network interface of the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceInfo {
    pub index: u32,
    pub name: String,
    pub up: bool,
    pub addrs: Vec<IpAddr>,
}

/// Lists the host's interfaces.
pub trait HostInterfaces {
    fn interfaces(&mut self) -> Result<Vec<InterfaceInfo>, crate::ResolveError>;
}

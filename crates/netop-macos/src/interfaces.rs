//! [`HostInterfaces`] for macOS: getifaddrs(3) entries grouped by name:
//! the AF_LINK entry gives the index, MAC and counters (`struct if_data`,
//! `ifdata.rs`), the AF_INET/AF_INET6 entries the addresses. Configured
//! DNS servers per interface (scoped resolvers) are not read yet.

use netop_core::{HostInterfaces, InterfaceInfo, ResolveError};

use crate::ifdata::if_data;
use crate::system::{IfAddr, IfAddrKind, System};

/// `IFF_UP`.
const IFF_UP: u32 = 0x1;

/// Groups getifaddrs entries into interfaces, in index order. Entries
/// whose `if_data` cannot be decoded keep no counters.
pub fn assemble(entries: &[IfAddr]) -> Vec<InterfaceInfo> {
    let mut out: Vec<InterfaceInfo> = Vec::new();
    for e in entries {
        let i = match out.iter().position(|i| i.name == e.name) {
            Some(i) => i,
            None => {
                out.push(InterfaceInfo {
                    name: e.name.clone(),
                    ..Default::default()
                });
                out.len() - 1
            }
        };
        let iface = &mut out[i];
        iface.up |= e.flags & IFF_UP != 0;
        match &e.kind {
            IfAddrKind::Ip(ip) => {
                if !iface.addrs.contains(ip) {
                    iface.addrs.push(*ip);
                }
            }
            IfAddrKind::Link {
                index,
                mac,
                if_data: bytes,
            } => {
                iface.index = *index;
                iface.mac = *mac;
                match if_data(bytes) {
                    Ok(c) => iface.kernel = Some(c),
                    Err(err) => tracing::debug!(interface = %e.name, error = %err, "if_data"),
                }
            }
        }
    }
    out.sort_by_key(|i| i.index);
    out
}

/// The host's interfaces through [`System::ifaddrs`].
#[derive(Debug)]
pub struct MacInterfaces<S> {
    system: S,
}

impl<S: System> MacInterfaces<S> {
    pub fn new(system: S) -> Self {
        MacInterfaces { system }
    }

    /// The interface names, for `--interface` checks and messages.
    pub fn names(&mut self) -> Vec<String> {
        self.interfaces()
            .map(|l| l.into_iter().map(|i| i.name).collect())
            .unwrap_or_default()
    }
}

impl<S: System> HostInterfaces for MacInterfaces<S> {
    fn interfaces(&mut self) -> Result<Vec<InterfaceInfo>, ResolveError> {
        let entries = self
            .system
            .ifaddrs()
            .map_err(|message| ResolveError::Failed {
                what: "interfaces (getifaddrs)".to_string(),
                message,
            })?;
        Ok(assemble(&entries))
    }
}

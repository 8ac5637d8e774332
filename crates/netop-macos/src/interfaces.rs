//! [`HostInterfaces`] for macOS: getifaddrs(3) entries grouped by name:
//! the AF_LINK entry gives the index, MAC and counters (`struct if_data`,
//! `ifdata.rs`), the AF_INET/AF_INET6 entries the addresses; each
//! interface's DNS servers from `scutil --dns` (`dns_config.rs`).

use std::time::{Duration, Instant};

use netop_core::clock::{Clock, SystemClock};
use netop_core::{HostInterfaces, InterfaceInfo, ResolveError};

use crate::dns_config::{fill_dns_servers, parse_scutil_dns, Resolver};
use crate::ifdata::if_data;

/// How long one `scutil --dns` answers: running it is a process spawn,
/// and interfaces are listed every refresh.
pub const DNS_CONFIG_REUSE: Duration = Duration::from_secs(30);
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
pub struct MacInterfaces<S> {
    system: S,
    clock: Box<dyn Clock + Send>,
    /// The last resolver configuration read, and when.
    dns: Option<(Instant, Vec<Resolver>)>,
}

impl<S> std::fmt::Debug for MacInterfaces<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MacInterfaces").finish_non_exhaustive()
    }
}

impl<S: System> MacInterfaces<S> {
    pub fn new(system: S) -> Self {
        Self::with_clock(system, Box::new(SystemClock))
    }

    /// With a clock of the caller's (tests move a fake one).
    pub fn with_clock(system: S, clock: Box<dyn Clock + Send>) -> Self {
        MacInterfaces {
            system,
            clock,
            dns: None,
        }
    }

    /// The resolver configuration, read again once it is
    /// [`DNS_CONFIG_REUSE`] old.
    fn resolvers(&mut self) -> &[Resolver] {
        let now = self.clock.now();
        let stale = self
            .dns
            .as_ref()
            .is_none_or(|(at, _)| now.saturating_duration_since(*at) >= DNS_CONFIG_REUSE);
        if stale {
            let parsed = self
                .system
                .dns_config()
                .map(|text| parse_scutil_dns(&text))
                .unwrap_or_default();
            self.dns = Some((now, parsed));
        }
        self.dns.as_ref().map_or(&[], |(_, r)| r.as_slice())
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
        let mut list = assemble(&entries);
        fill_dns_servers(&mut list, self.resolvers());
        Ok(list)
    }
}

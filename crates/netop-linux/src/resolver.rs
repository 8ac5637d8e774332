//! [`SocketResolver`] for Linux: sock_diag for sockets, `/proc` for owners.
//!
//! Glue only: it asks `sockdiag` for sockets (and `netns` for those in
//! other network namespaces or behind the host's NAT), `owners` for their
//! processes, and turns failures into [`ResolveError`]. Both parts keep
//! their state (the netlink socket, the owner index) across calls.

use netop_core::{FlowKey, Protocol, ResolveError, SocketEntry, SocketResolver, SocketTable};

use crate::netns::Elsewhere;
use crate::owners::OwnerIndex;
use crate::sockdiag::{Family, SockDiag, SockDiagError};

/// The Linux socket resolver.
#[derive(Debug)]
pub struct LinuxResolver {
    diag: SockDiag,
    owners: OwnerIndex,
    /// Other network namespaces and the host's NAT.
    elsewhere: Elsewhere,
}

impl LinuxResolver {
    /// Opens the netlink socket. Owners are found lazily.
    pub fn new() -> Result<Self, ResolveError> {
        Ok(LinuxResolver {
            diag: SockDiag::open().map_err(to_resolve_error)?,
            owners: OwnerIndex::new(),
            elsewhere: Elsewhere::new(),
        })
    }

    /// The owner index, e.g. for its [`crate::owners::ScanStats`].
    pub fn owners(&self) -> &OwnerIndex {
        &self.owners
    }

    /// Whether owners carry their container (`--containers`).
    pub fn set_containers(&mut self, on: bool) {
        self.owners.set_containers(on);
    }

    fn fill_owner(&mut self, entry: &mut SocketEntry, search: bool) {
        let pid = if search {
            self.owners.resolve(entry.inode, entry.uid)
        } else {
            self.owners.cached(entry.inode)
        };
        entry.owner = pid.and_then(|pid| self.owners.process_info(pid, entry.uid));
        entry.fd = entry
            .owner
            .as_ref()
            .and_then(|_| self.owners.fd_of(entry.inode));
    }
}

impl SocketResolver for LinuxResolver {
    fn sockets(&mut self) -> Result<SocketTable, ResolveError> {
        let mut entries = Vec::new();
        for proto in [Protocol::Tcp, Protocol::Udp] {
            for family in [Family::V4, Family::V6] {
                let dumped = self.diag.dump(proto, family).map_err(to_resolve_error)?;
                entries.extend(dumped);
            }
        }
        entries.extend(self.elsewhere.connected());
        let inodes: Vec<u64> = entries.iter().map(|e| e.inode).collect();
        self.owners.refresh_for(&inodes);
        for entry in &mut entries {
            self.fill_owner(entry, false);
        }
        Ok(SocketTable::new(entries))
    }

    fn lookup(&mut self, key: &FlowKey) -> Result<Option<SocketEntry>, ResolveError> {
        let found = match self.diag.lookup_one(key).map_err(to_resolve_error)? {
            Some(entry) => Some(entry),
            None => self.elsewhere.lookup(key)?,
        };
        let Some(mut entry) = found else {
            return Ok(None);
        };
        self.fill_owner(&mut entry, true);
        Ok(Some(entry))
    }
}

fn to_resolve_error(err: SockDiagError) -> ResolveError {
    let what = "sockets (netlink sock_diag)".to_string();
    if err.is_permission() {
        ResolveError::PermissionDenied { what }
    } else {
        ResolveError::Failed {
            what,
            message: err.to_string(),
        }
    }
}

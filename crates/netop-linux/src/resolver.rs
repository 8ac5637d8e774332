//! [`SocketResolver`] for Linux: sock_diag for sockets, `/proc` for owners,
//! and the eBPF event source's recent owners where it runs.
//!
//! Glue only: it asks `sockdiag` for sockets (and `netns` for those in
//! other network namespaces or behind the host's NAT), `owners` for their
//! processes, `events` for the owners the kernel told of, and turns
//! failures into [`ResolveError`]. Every part keeps its state (the netlink
//! sockets, the owner index, the owner cache) across calls. With events,
//! an answer the cache knows wins; without them (or for what they missed)
//! polling answers as before.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use netop_core::{
    FlowKey, OwnerMode, ProcessInfo, Protocol, ResolveError, SocketEntry, SocketResolver,
    SocketTable, TcpState,
};
use rustc_hash::FxHashSet;

use netop_core::socket::canonical;

use crate::events::{CachedOwner, EventSource, EventsUnavailable, OwnerCache};
use crate::netns::Elsewhere;
use crate::owners::OwnerIndex;
use crate::sockdiag::{Family, SockDiag, SockDiagError};

/// Sockets the event source saw within this long are added to a socket
/// table even when the kernel no longer has them: flows still waiting for
/// an owner are at most a few seconds old (the engine gives up after a few
/// tables), and older closed sockets would only crowd the monitor.
const GONE_SOCKETS_WITHIN: Duration = Duration::from_secs(15);

/// The Linux socket resolver.
#[derive(Debug)]
pub struct LinuxResolver {
    diag: SockDiag,
    owners: OwnerIndex,
    /// Other network namespaces and the host's NAT.
    elsewhere: Elsewhere,
    events: Option<EventSource>,
    cache: OwnerCache,
    mode: OwnerMode,
    /// Lost event records already warned about.
    lost_reported: u64,
    /// Sockets the events showed changing hands, not yet handed to the
    /// engine (see [`SocketResolver::owner_changes`]).
    changed: VecDeque<(Protocol, SocketAddr, SocketAddr)>,
}

/// Changes of hands kept between two [`SocketResolver::owner_changes`]
/// calls (one per capture batch); past this the oldest are dropped, and
/// the flows concerned keep their previous owner until the next change.
const MAX_CHANGES: usize = 4096;

impl LinuxResolver {
    /// Opens the netlink socket; polling only. Owners are found lazily.
    pub fn new() -> Result<Self, ResolveError> {
        Ok(LinuxResolver {
            diag: SockDiag::open().map_err(to_resolve_error)?,
            owners: OwnerIndex::new(),
            elsewhere: Elsewhere::new(),
            events: None,
            cache: OwnerCache::default(),
            mode: OwnerMode::Polling {
                reason: "not requested".to_string(),
            },
            lost_reported: 0,
            changed: VecDeque::new(),
        })
    }

    /// [`LinuxResolver::new`] plus, when `events` is true, the eBPF event
    /// source; if that cannot run, the resolver polls and
    /// [`LinuxResolver::event_mode`] says why.
    pub fn with_events(events: bool) -> Result<Self, ResolveError> {
        let mut resolver = Self::new()?;
        let opened = if events {
            EventSource::open()
        } else {
            Err(EventsUnavailable::Disabled)
        };
        match opened {
            Ok(source) => {
                if let Some(netns) = crate::events::own_netns() {
                    resolver.cache.set_home_netns(netns);
                }
                resolver.events = Some(source);
                resolver.mode = OwnerMode::Events;
            }
            Err(why) => {
                tracing::info!(reason = %why, "per-socket events unavailable; polling");
                resolver.mode = OwnerMode::Polling {
                    reason: why.to_string(),
                };
            }
        }
        Ok(resolver)
    }

    /// Whether owners come from events or from polling alone.
    pub fn event_mode(&self) -> OwnerMode {
        self.mode.clone()
    }

    /// The owner index, e.g. for its [`crate::owners::ScanStats`].
    pub fn owners(&self) -> &OwnerIndex {
        &self.owners
    }

    /// Whether owners carry their container (`--containers`).
    pub fn set_containers(&mut self, on: bool) {
        self.owners.set_containers(on);
    }

    /// The socket of netop's own namespace behind a flow the host's NAT
    /// translated (a socket bound to a bridge's address, masqueraded out
    /// of the uplink), when no other namespace had one. Without it the
    /// translation belongs to no socket here: another machine's traffic
    /// ([`SocketResolver::untranslated`]).
    fn own_inside(&mut self, key: &FlowKey) -> Result<Option<SocketEntry>, ResolveError> {
        let Some(inside) = self.elsewhere.unowned_translation(key) else {
            return Ok(None);
        };
        if self.events.is_some() {
            let hit = self
                .cache
                .find_socket(
                    inside.proto,
                    inside.local(),
                    inside.remote(),
                    Instant::now(),
                )
                .map(|hit| (hit.local, hit.remote, hit.owner.clone()));
            if let Some((local, remote, owner)) = hit {
                self.elsewhere.owned_after_all();
                return Ok(Some(self.cached_entry(
                    inside.proto,
                    local,
                    remote,
                    &owner,
                    true,
                )));
            }
        }
        let found = self.diag.lookup_one(&inside).map_err(to_resolve_error)?;
        if found.is_some() {
            self.elsewhere.owned_after_all();
        }
        Ok(found)
    }

    /// Moves the waiting events into the cache, noting sockets that
    /// changed hands.
    fn drain(&mut self) {
        let Some(source) = self.events.as_mut() else {
            return;
        };
        let (cache, changed) = (&mut self.cache, &mut self.changed);
        let now = Instant::now();
        source.drain_with(&mut |event| {
            if cache.insert(event, now) {
                if changed.len() >= MAX_CHANGES {
                    changed.pop_front();
                }
                changed.push_back((event.proto, canonical(event.local), canonical(event.remote)));
            }
        });
    }

    /// Warns once per growth of the kernel's count of records it could not
    /// queue (read with each table, not each lookup: it is a syscall).
    fn check_lost(&mut self) {
        let lost = self.lost_events();
        if lost > self.lost_reported {
            tracing::warn!(
                lost,
                "the event ring buffer overflowed; some short-lived sockets' owners may be unknown"
            );
            self.lost_reported = lost;
        }
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

    /// The process an event named: `/proc`'s name while it lives (the
    /// event's comm is the thread's), else the event's.
    fn process_of(&mut self, owner: &CachedOwner) -> ProcessInfo {
        if let Some(info) = self.owners.process_info(owner.pid, owner.uid) {
            return info;
        }
        ProcessInfo {
            pid: owner.pid,
            name: owner.comm.clone(),
            user: self.owners.user_name(owner.uid),
            container: None,
            start_time: 0,
        }
    }

    /// A socket table row for a socket only the event source knows: in
    /// use (`open`, a lookup for its flow's packets) or gone from the
    /// kernel's dump.
    fn cached_entry(
        &mut self,
        proto: Protocol,
        local: SocketAddr,
        remote: SocketAddr,
        owner: &CachedOwner,
        open: bool,
    ) -> SocketEntry {
        let state = match (proto, open) {
            (Protocol::Tcp, true) => TcpState::Established,
            (Protocol::Tcp, false) => TcpState::Close,
            _ => TcpState::None,
        };
        SocketEntry {
            proto,
            local,
            remote,
            state,
            inode: 0,
            uid: owner.uid,
            rtt_us: None,
            retrans: None,
            owner: Some(self.process_of(owner)),
            fd: None,
        }
    }
}

impl SocketResolver for LinuxResolver {
    /// Event records the kernel dropped (ring buffer full); 0 when polling.
    fn lost_events(&self) -> u64 {
        self.events.as_ref().map_or(0, EventSource::lost)
    }

    fn sockets(&mut self) -> Result<SocketTable, ResolveError> {
        self.drain();
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
        if self.events.is_none() {
            return Ok(SocketTable::new(entries));
        }
        self.check_lost();
        let now = Instant::now();
        self.cache.expire(now);
        let mut dumped = FxHashSet::default();
        for entry in &mut entries {
            let known = self
                .cache
                .find_exact(entry.proto, entry.local, entry.remote, now)
                .cloned();
            if let Some(owner) = known {
                let keep = entry.owner.as_ref().is_some_and(|o| o.pid == owner.pid);
                if !keep {
                    entry.owner = Some(self.process_of(&owner));
                }
            }
            dumped.insert((entry.proto, canonical(entry.local), canonical(entry.remote)));
        }
        let gone: Vec<_> = self
            .cache
            .entries(now)
            .filter(|(proto, local, remote, owner)| {
                now.saturating_duration_since(owner.seen) <= GONE_SOCKETS_WITHIN
                    && !dumped.contains(&(*proto, *local, *remote))
            })
            .map(|(proto, local, remote, owner)| (proto, local, remote, owner.clone()))
            .collect();
        for (proto, local, remote, owner) in gone {
            let entry = self.cached_entry(proto, local, remote, &owner, false);
            entries.push(entry);
        }
        Ok(SocketTable::new(entries))
    }

    fn lookup(&mut self, key: &FlowKey) -> Result<Option<SocketEntry>, ResolveError> {
        if self.events.is_some() {
            self.drain();
            let hit = self
                .cache
                .find_socket(key.proto, key.local(), key.remote(), Instant::now())
                .map(|hit| (hit.local, hit.remote, hit.owner.clone()));
            if let Some((local, remote, owner)) = hit {
                return Ok(Some(
                    self.cached_entry(key.proto, local, remote, &owner, true),
                ));
            }
        }
        let found = match self.diag.lookup_one(key).map_err(to_resolve_error)? {
            Some(entry) => Some(entry),
            None => match self.elsewhere.lookup(key)? {
                Some(entry) => Some(entry),
                None => self.own_inside(key)?,
            },
        };
        let Some(mut entry) = found else {
            return Ok(None);
        };
        self.fill_owner(&mut entry, true);
        Ok(Some(entry))
    }

    fn untranslated(&mut self, key: &FlowKey) -> Option<FlowKey> {
        self.elsewhere.unowned_translation(key)
    }

    fn owner_changes(&mut self) -> Vec<SocketEntry> {
        self.drain();
        if self.changed.is_empty() {
            return Vec::new();
        }
        let now = Instant::now();
        let changed = std::mem::take(&mut self.changed);
        let mut entries = Vec::with_capacity(changed.len());
        for (proto, local, remote) in changed {
            let owner = self.cache.find_exact(proto, local, remote, now).cloned();
            if let Some(owner) = owner {
                entries.push(self.cached_entry(proto, local, remote, &owner, true));
            }
        }
        entries
    }

    fn exited(&mut self, processes: &[(u32, u64)]) -> Vec<(u32, u64)> {
        let gone: Vec<(u32, u64)> = processes
            .iter()
            .copied()
            .filter(|&(pid, start)| has_exited(pid, start))
            .collect();
        for &(pid, _) in &gone {
            self.owners.forget(pid);
        }
        gone
    }
}

/// Gone, a zombie (exited, not yet reaped: it holds no descriptors), or
/// the pid is now another process's (`start`: clock ticks since boot, 0
/// when unknown).
fn has_exited(pid: u32, start: u64) -> bool {
    let Ok(pid) = i32::try_from(pid) else {
        return true;
    };
    match procfs::process::Process::new(pid).and_then(|p| p.stat()) {
        Ok(stat) => matches!(stat.state, 'Z' | 'X') || (start != 0 && stat.starttime != start),
        Err(_) => true,
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

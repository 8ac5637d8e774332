//! [`SocketResolver`] for Linux: sock_diag for sockets, `/proc` for owners,
//! and the eBPF event source's recent owners where it runs (else the
//! perf tracepoint's owners of outgoing TCP connections).
//!
//! Glue only: it asks `sockdiag` for sockets (and `netns` for those in
//! other network namespaces or behind the host's NAT), feeds what the
//! event source tells into the core's owner model
//! ([`netop_core::owners::Owners`], which searches `/proc` through
//! `procs` and answers from the event cache), and turns failures into
//! [`ResolveError`]. With events, an answer the cache knows wins; without
//! them (or for what they missed) the search answers.

use std::time::Instant;

use std::net::SocketAddr;

use netop_core::owners::{CachedOwner, OwnerCache, Owners, ScanStats};
use netop_core::{
    FlowKey, OwnerMode, OwnersChoice, ProcessInfo, Protocol, ResolveError, SocketEntry,
    SocketResolver, SocketTable,
};

use crate::events::{EventSource, EventsUnavailable};
use crate::netns::Elsewhere;
use crate::sockdiag::{Family, SockDiag, SockDiagError};
use crate::tracepoint::{TracepointSource, TracepointUnavailable};

/// The Linux socket resolver.
#[derive(Debug)]
pub struct LinuxResolver {
    diag: SockDiag,
    /// The core's owner model: the search over `/proc`, the event cache.
    owners: Owners,
    /// Other network namespaces and the host's NAT.
    elsewhere: Elsewhere,
    events: Option<EventSource>,
    /// The perf tracepoint, where the event source could not run; it
    /// stays here (drained on the owner thread, which may read `/proc`).
    tracepoint: Option<TracepointSource>,
    mode: OwnerMode,
    /// Lost event records already warned about.
    lost_reported: u64,
}

impl LinuxResolver {
    /// Opens the netlink socket; polling only. Owners are found lazily.
    pub fn new() -> Result<Self, ResolveError> {
        Ok(LinuxResolver {
            diag: SockDiag::open().map_err(to_resolve_error)?,
            owners: Owners::polling(crate::procs::live_index()),
            elsewhere: Elsewhere::new(),
            events: None,
            tracepoint: None,
            mode: OwnerMode::Polling {
                reason: "not requested".to_string(),
            },
            lost_reported: 0,
        })
    }

    /// [`LinuxResolver::new`] plus, when `events` is true, the eBPF event
    /// source; if that cannot run, the resolver polls and
    /// [`LinuxResolver::event_mode`] says why.
    pub fn with_events(events: bool) -> Result<Self, ResolveError> {
        let choice = if events {
            OwnersChoice::Events
        } else {
            OwnersChoice::Polling
        };
        Self::with_owners(choice, "--no-events")
    }

    /// [`LinuxResolver::new`] plus the owner sources `choice` asks for,
    /// each tried in turn (events, then the tracepoint, then polling);
    /// [`LinuxResolver::event_mode`] says which runs and why the others
    /// do not. `flag` names the option that turned sources off, for the
    /// reason.
    pub fn with_owners(choice: OwnersChoice, flag: &str) -> Result<Self, ResolveError> {
        Self::with_sources(choice, flag, EventSource::open, TracepointSource::open)
    }

    /// [`LinuxResolver::with_owners`] with the two openers given (tests
    /// refuse one to see the fallback).
    pub fn with_sources(
        choice: OwnersChoice,
        flag: &str,
        open_events: impl FnOnce() -> Result<EventSource, EventsUnavailable>,
        open_tracepoint: impl FnOnce() -> Result<TracepointSource, TracepointUnavailable>,
    ) -> Result<Self, ResolveError> {
        let mut resolver = Self::new()?;
        let events = match choice {
            OwnersChoice::Auto | OwnersChoice::Events => open_events(),
            OwnersChoice::Tracepoint => Err(EventsUnavailable::Skipped {
                flag: flag.to_string(),
            }),
            OwnersChoice::Polling => Err(EventsUnavailable::Disabled {
                flag: flag.to_string(),
            }),
        };
        let why_not_events = match events {
            Ok(source) => {
                resolver.owners = Owners::with_events(crate::procs::live_index(), home_cache());
                resolver.events = Some(source);
                resolver.mode = OwnerMode::Events;
                return Ok(resolver);
            }
            Err(why) => why,
        };
        let tracepoint = match choice {
            OwnersChoice::Auto | OwnersChoice::Tracepoint => open_tracepoint(),
            _ => Err(TracepointUnavailable::Disabled),
        };
        match tracepoint {
            Ok(source) => {
                tracing::info!(reason = %why_not_events, "per-socket events unavailable; perf tracepoint");
                resolver.owners = Owners::with_events(crate::procs::live_index(), home_cache());
                resolver.tracepoint = Some(source);
                resolver.mode = OwnerMode::Tracepoint {
                    reason: why_not_events.to_string(),
                };
            }
            Err(TracepointUnavailable::Disabled) => {
                tracing::info!(reason = %why_not_events, "per-socket events unavailable; polling");
                resolver.mode = OwnerMode::Polling {
                    reason: why_not_events.to_string(),
                };
            }
            Err(why) => {
                tracing::info!(events = %why_not_events, tracepoint = %why, "no owner events; polling");
                resolver.mode = OwnerMode::Polling {
                    reason: format!("{why_not_events}; {why}"),
                };
            }
        }
        Ok(resolver)
    }

    /// Whether sockets changed hands since [`SocketResolver::owner_changes`]
    /// last said (the owner thread tells its proxy).
    pub fn has_owner_changes(&self) -> bool {
        self.owners.has_changes()
    }

    /// The event ring's wake descriptor ([`EventSource::wake_fd`]), when
    /// owners come from eBPF events.
    pub fn events_wake_fd(&self) -> Option<std::os::fd::OwnedFd> {
        let source = self.events.as_ref()?;
        source
            .wake_fd()
            .map_err(|e| tracing::warn!(error = %e, "cannot wait on the event ring"))
            .ok()
    }

    /// Whether owners come from events or from polling alone.
    pub fn event_mode(&self) -> OwnerMode {
        self.mode.clone()
    }

    /// How much `/proc` work the owner search has done.
    pub fn scan_stats(&self) -> ScanStats {
        self.owners.stats()
    }

    /// Whether owners carry their container (`--containers`).
    pub fn set_containers(&mut self, on: bool) {
        self.owners.set_containers(on);
    }

    /// Whether the events' owners are also kept by socket cookie (for
    /// kernel counting, whose deltas carry cookies).
    pub fn keep_cookies(&mut self, on: bool) {
        self.owners.keep_cookies(on);
    }

    /// Takes the event source out, to be drained elsewhere (the capture
    /// thread: its ring is mapped memory) and its records handed back
    /// with [`LinuxResolver::told`]; the owner model stays in events mode.
    pub fn take_events(&mut self) -> Option<EventSource> {
        self.events.take()
    }

    /// Owners an event source told of (drained at `seen`), for a resolver
    /// whose source was taken out.
    pub fn told(&mut self, told: Vec<Told>) {
        for t in told {
            self.owners
                .told_socket(t.proto, t.local, t.remote, t.cookie, t.owner);
        }
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
        if let Some(entry) = self.owners.cached_answer(&inside, Instant::now()) {
            self.elsewhere.owned_after_all();
            return Ok(Some(entry));
        }
        let Some(mut entry) = self.diag.lookup_one(&inside).map_err(to_resolve_error)? else {
            return Ok(None);
        };
        self.elsewhere.owned_after_all();
        self.owners.fill_answer(&mut entry);
        Ok(Some(entry))
    }

    /// Hands the waiting events (of the event source, or the tracepoint)
    /// to the owner model.
    fn drain(&mut self) {
        let owners = &mut self.owners;
        let now = Instant::now();
        let mut tell = |event: &crate::events::SocketEvent| {
            owners.told_socket(
                event.proto,
                event.local,
                event.remote,
                event.cookie,
                event.owner(now),
            );
        };
        if let Some(source) = self.events.as_mut() {
            source.drain_with(&mut tell);
        }
        if let Some(source) = self.tracepoint.as_mut() {
            source.drain_with(&mut tell);
        }
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
}

impl SocketResolver for LinuxResolver {
    /// Event records the kernel dropped (ring buffer full); 0 when polling.
    fn lost_events(&self) -> u64 {
        self.events.as_ref().map_or(0, EventSource::lost)
            + self.tracepoint.as_ref().map_or(0, TracepointSource::lost)
    }

    fn sockets(&mut self) -> Result<SocketTable, ResolveError> {
        self.drain();
        let mut entries = Vec::new();
        for proto in [netop_core::Protocol::Tcp, netop_core::Protocol::Udp] {
            for family in [Family::V4, Family::V6] {
                let dumped = self.diag.dump(proto, family).map_err(to_resolve_error)?;
                entries.extend(dumped);
            }
        }
        entries.extend(self.elsewhere.connected());
        if self.events.is_some() || self.tracepoint.is_some() {
            self.check_lost();
        }
        self.owners.fill_table(&mut entries, Instant::now());
        Ok(SocketTable::new(entries))
    }

    fn lookup(&mut self, key: &FlowKey) -> Result<Option<SocketEntry>, ResolveError> {
        if !matches!(self.mode, OwnerMode::Polling { .. }) {
            self.drain();
            if let Some(entry) = self.owners.cached_answer(key, Instant::now()) {
                return Ok(Some(entry));
            }
        }
        let found = match self.diag.lookup_one(key).map_err(to_resolve_error)? {
            Some(entry) => Some(entry),
            None => match self.elsewhere.lookup(key)? {
                Some(entry) => Some(entry),
                None => return self.own_inside(key),
            },
        };
        let Some(mut entry) = found else {
            return Ok(None);
        };
        self.owners.fill_answer(&mut entry);
        Ok(Some(entry))
    }

    fn untranslated(&mut self, key: &FlowKey) -> Option<FlowKey> {
        self.elsewhere.unowned_translation(key)
    }

    fn owner_changes(&mut self) -> Vec<SocketEntry> {
        self.drain();
        self.owners.owner_changes(Instant::now())
    }

    /// Owners by socket cookie from the events' cache (no search): the
    /// kernel counter's cookies are the event source's.
    fn cookie_owners(&mut self, cookies: &[u64]) -> Vec<(u64, ProcessInfo)> {
        self.drain();
        self.owners.cookie_owners(cookies, Instant::now())
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

/// An owner cache that knows netop's own network namespace.
fn home_cache() -> OwnerCache {
    let mut cache = OwnerCache::default();
    if let Some(netns) = crate::events::own_netns() {
        cache.set_home_netns(netns);
    }
    cache
}

/// One owner an event told of: a socket and who used it.
#[derive(Debug, Clone)]
pub struct Told {
    pub proto: Protocol,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    /// The socket's cookie, when the record gave one.
    pub cookie: Option<u64>,
    pub owner: CachedOwner,
}

/// Drains what `source` has into `told`, each stamped `now`.
pub fn drain_into(source: &mut EventSource, told: &mut Vec<Told>, now: Instant) {
    source.drain_with(&mut |event| {
        told.push(Told {
            proto: event.proto,
            local: event.local,
            remote: event.remote,
            cookie: event.cookie,
            owner: event.owner(now),
        });
    });
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

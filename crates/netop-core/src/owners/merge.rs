//! A backend's socket answers with their owners: what the owner search
//! finds, and, where an event source runs, what the events told, which
//! wins (it names the process that used the socket last, even one that
//! has exited).
//!
//! [`Owners`] is the part of a resolver that is the same on every OS: the
//! backend dumps or looks up sockets its own way, hands them here to get
//! their owners, and feeds the events it reads into [`Owners::told`].

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustc_hash::{FxHashMap, FxHashSet};

use super::cache::{CachedOwner, OwnerCache};
use super::search::{OwnerIndex, ScanStats};
use crate::flow::{FlowKey, Protocol};
use crate::socket::{canonical, ProcessInfo, SocketEntry, TcpState};

/// Sockets the event source saw within this long are added to a socket
/// table even when the kernel no longer has them: a flow waits for its
/// owner through four tables, a second apart, so 5 s covers it. (It was
/// 15 s: under a churn of 4,000 short sockets a second that put 60,000
/// closed sockets in every table, most of the monitor's peak heap.)
const GONE_SOCKETS_WITHIN: Duration = Duration::from_secs(5);

/// Of those, one table takes the most recently seen this many. A flow
/// whose socket is left out is still found: its search asks the owner
/// cache itself. (Under a churn of 4,000 short sockets a second, 20,000
/// gone sockets in every table, with the table they replaced and their
/// copies, were 20 MB of a snapshot's 21 MB peak heap.)
const GONE_SOCKETS_KEPT: usize = 4_096;

/// Changes of hands kept between two [`Owners::owner_changes`] calls (one
/// per capture batch); past this the oldest are dropped, and the flows
/// concerned keep their previous owner until the next change.
const MAX_CHANGES: usize = 4096;

/// Owners of a backend's sockets; see the module doc.
#[derive(Debug)]
pub struct Owners {
    index: OwnerIndex,
    /// `None` without an event source.
    cache: Option<OwnerCache>,
    /// Sockets the events showed changing hands, not yet handed out.
    changed: VecDeque<(Protocol, SocketAddr, SocketAddr)>,
    /// The same, by cookie, for [`Owners::cookie_owners`].
    changed_cookies: VecDeque<u64>,
    /// Whether owners are kept by cookie too ([`Owners::keep_cookies`]).
    by_cookie: bool,
    /// The owners given out while one table is filled, by (pid, socket
    /// uid): every socket of a process shares one record.
    shared: FxHashMap<(u32, u32), Arc<ProcessInfo>>,
}

impl Owners {
    /// Owners from the search alone (polling).
    pub fn polling(index: OwnerIndex) -> Self {
        Owners {
            index,
            cache: None,
            changed: VecDeque::new(),
            changed_cookies: VecDeque::new(),
            by_cookie: true,
            shared: FxHashMap::default(),
        }
    }

    /// Owners from the search and an event source's cache.
    pub fn with_events(index: OwnerIndex, cache: OwnerCache) -> Self {
        Owners {
            index,
            cache: Some(cache),
            changed: VecDeque::new(),
            changed_cookies: VecDeque::new(),
            by_cookie: true,
            shared: FxHashMap::default(),
        }
    }

    /// Whether the events' owners are kept by socket cookie too (on by
    /// default): only a kernel counter's deltas carry cookies, so a run
    /// that counts packets turns it off and keeps no cookie index.
    pub fn keep_cookies(&mut self, on: bool) {
        self.by_cookie = on;
    }

    /// Whether owners carry their container.
    pub fn set_containers(&mut self, on: bool) {
        self.index.set_containers(on);
    }

    /// How much process reading the search has done.
    pub fn stats(&self) -> ScanStats {
        self.index.stats()
    }

    /// An event: `owner` used the socket (`proto`, `local`, `remote`).
    pub fn told(
        &mut self,
        proto: Protocol,
        local: SocketAddr,
        remote: SocketAddr,
        owner: CachedOwner,
    ) {
        self.told_socket(proto, local, remote, None, owner);
    }

    /// [`Owners::told`], with the socket's cookie when the event gave it.
    pub fn told_socket(
        &mut self,
        proto: Protocol,
        local: SocketAddr,
        remote: SocketAddr,
        cookie: Option<u64>,
        owner: CachedOwner,
    ) {
        let Some(cache) = self.cache.as_mut() else {
            return;
        };
        if let Some(cookie) = cookie.filter(|_| self.by_cookie) {
            if cache.insert_cookie(cookie, &owner) {
                if self.changed_cookies.len() >= MAX_CHANGES {
                    self.changed_cookies.pop_front();
                }
                self.changed_cookies.push_back(cookie);
            }
        }
        if cache.insert(proto, local, remote, owner) {
            if self.changed.len() >= MAX_CHANGES {
                self.changed.pop_front();
            }
            self.changed
                .push_back((proto, canonical(local), canonical(remote)));
        }
    }

    /// Gives a dump's sockets their owners (the search reads only what
    /// it has not placed yet); with events, the owner an event named wins,
    /// and sockets events saw lately that the dump no longer has are
    /// added (their flows may still wait for an owner).
    pub fn fill_table(&mut self, entries: &mut Vec<SocketEntry>, now: Instant) {
        let inodes: Vec<u64> = entries.iter().map(|e| e.inode).collect();
        self.index.refresh_for(&inodes);
        self.shared.clear();
        for entry in entries.iter_mut() {
            self.fill(entry, false);
        }
        // Not kept past the table: a process's details may change (a
        // rename, an exec) by the next one.
        self.shared = FxHashMap::default();
        let Some(cache) = self.cache.as_mut() else {
            return;
        };
        cache.expire(now);
        let mut dumped = FxHashSet::default();
        let mut told = Vec::new();
        for (i, entry) in entries.iter().enumerate() {
            if let Some(owner) = cache.find_exact(entry.proto, entry.local, entry.remote, now) {
                if entry.owner.as_ref().is_none_or(|o| o.pid != owner.pid) {
                    told.push((i, owner.clone()));
                }
            }
            dumped.insert((entry.proto, canonical(entry.local), canonical(entry.remote)));
        }
        let mut gone: Vec<_> = cache
            .entries(now)
            .filter(|(proto, local, remote, owner)| {
                now.saturating_duration_since(owner.seen) <= GONE_SOCKETS_WITHIN
                    && !dumped.contains(&(*proto, *local, *remote))
            })
            .collect();
        if gone.len() > GONE_SOCKETS_KEPT {
            gone.select_nth_unstable_by_key(GONE_SOCKETS_KEPT - 1, |g| std::cmp::Reverse(g.3.seen));
            gone.truncate(GONE_SOCKETS_KEPT);
        }
        let gone: Vec<_> = gone
            .into_iter()
            .map(|(proto, local, remote, owner)| (proto, local, remote, owner.clone()))
            .collect();
        for (i, owner) in told {
            entries[i].owner = Some(Arc::new(self.process_of(&owner)));
        }
        // Exactly: doubling a table of 10,000 sockets for a few gone ones
        // kept 2 MB of slack while the table lived.
        entries.reserve_exact(gone.len());
        for (proto, local, remote, owner) in gone {
            let entry = self.cached_entry(proto, local, remote, &owner, false);
            entries.push(entry);
        }
    }

    /// The owner of one socket a lookup found, searching processes for
    /// it if need be.
    pub fn fill_answer(&mut self, entry: &mut SocketEntry) {
        self.fill(entry, true);
        self.shared.clear();
    }

    /// A flow's socket as the events told of it, if they did.
    pub fn cached_answer(&mut self, key: &FlowKey, now: Instant) -> Option<SocketEntry> {
        let hit = self
            .cache
            .as_ref()?
            .find_socket(key.proto, key.local(), key.remote(), now)
            .map(|hit| (hit.local, hit.remote, hit.owner.clone()))?;
        let (local, remote, owner) = hit;
        Some(self.cached_entry(key.proto, local, remote, &owner, true))
    }

    /// Whether [`Owners::owner_changes`] has something to say.
    pub fn has_changes(&self) -> bool {
        !self.changed.is_empty()
    }

    /// Sockets that changed hands since the last call, with their new
    /// owners.
    pub fn owner_changes(&mut self, now: Instant) -> Vec<SocketEntry> {
        if self.changed.is_empty() {
            return Vec::new();
        }
        let changed = std::mem::take(&mut self.changed);
        let mut entries = Vec::with_capacity(changed.len());
        for (proto, local, remote) in changed {
            let owner = self
                .cache
                .as_ref()
                .and_then(|c| c.find_exact(proto, local, remote, now))
                .cloned();
            if let Some(owner) = owner {
                entries.push(self.cached_entry(proto, local, remote, &owner, true));
            }
        }
        entries
    }

    /// The owners of the sockets whose cookies are `cookies`, those the
    /// events told of, and of every socket that changed hands since the
    /// last call (asked or not: whoever remembered its old owner must
    /// learn the new one). No search: an unknown cookie has no answer.
    pub fn cookie_owners(&mut self, cookies: &[u64], now: Instant) -> Vec<(u64, ProcessInfo)> {
        let changed = std::mem::take(&mut self.changed_cookies);
        let Some(cache) = self.cache.as_ref() else {
            return Vec::new();
        };
        let mut seen = FxHashSet::default();
        let found: Vec<(u64, CachedOwner)> = cookies
            .iter()
            .chain(changed.iter())
            .filter(|&&c| seen.insert(c))
            .filter_map(|&c| cache.find_cookie(c, now).map(|o| (c, o)))
            .collect();
        found
            .into_iter()
            .map(|(c, owner)| (c, self.process_of(&owner)))
            .collect()
    }

    /// Forgets a process that has exited: its sockets are searched for
    /// again when asked about (they may live on in a child).
    pub fn forget(&mut self, pid: u32) {
        self.index.forget(pid);
    }

    /// `pid`'s details for a socket of `uid`, one record per table.
    fn shared_info(&mut self, pid: u32, uid: u32) -> Option<Arc<ProcessInfo>> {
        if let Some(info) = self.shared.get(&(pid, uid)) {
            return Some(Arc::clone(info));
        }
        let info = Arc::new(self.index.process_info(pid, uid)?);
        self.shared.insert((pid, uid), Arc::clone(&info));
        Some(info)
    }

    fn fill(&mut self, entry: &mut SocketEntry, search: bool) {
        let pid = if search {
            self.index.resolve(entry.inode, entry.uid)
        } else {
            self.index.cached(entry.inode)
        };
        entry.owner = pid.and_then(|pid| self.shared_info(pid, entry.uid));
        entry.fd = entry
            .owner
            .as_ref()
            .and_then(|_| self.index.fd_of(entry.inode));
    }

    /// The process an event named: the search's name for it while it
    /// lives (an event's name may be a thread's), else the event's.
    fn process_of(&mut self, owner: &CachedOwner) -> ProcessInfo {
        if let Some(info) = self.index.process_info(owner.pid, owner.uid) {
            return info;
        }
        ProcessInfo {
            pid: owner.pid,
            name: owner.comm.clone(),
            user: self.index.user_name(owner.uid),
            container: None,
            start_time: 0,
            exe: None,
        }
    }

    /// A socket table row for a socket only the events know: in use
    /// (`open`: a lookup for its flow's packets) or gone from the dump.
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
            owner: Some(Arc::new(self.process_of(owner))),
            fd: None,
        }
    }
}

#[cfg(test)]
#[path = "merge_tests.rs"]
mod tests;

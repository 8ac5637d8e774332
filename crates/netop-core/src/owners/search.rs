//! Which process owns a socket, by searching the processes' descriptor
//! tables: the owner-search policy, the same for every backend.
//!
//! A backend gives a [`ProcessSource`] (on Linux the fd tables in
//! `/proc`, on macOS libproc's per-process socket lists) that names each
//! socket by a kernel identity (the inode on Linux). The [`OwnerIndex`]
//! keeps `identity -> pid` up to date incrementally: a miss reads, in
//! order, (1) processes that appeared recently, newest first, (2) the
//! processes that already own sockets, same uid first, (3) every other
//! process, at most once per full-scan interval; then once more the
//! processes that appeared during the search. When every socket asked
//! about is known it reads nothing. It never fails: processes vanish and
//! hide (other users) all the time, and those are simply not owners.
//! Time comes from a [`Clock`], so the policy is tested without sleeping.
//!
//! With containers on ([`OwnerIndex::set_containers`]), a process's
//! container comes from its cgroup text (parsed by
//! [`crate::container::parse_cgroup`]), read and cached together with
//! its name.

use std::time::{Duration, Instant};

use rustc_hash::{FxHashMap, FxHashSet};

use crate::clock::{Clock, SystemClock};
use crate::socket::ProcessInfo;

/// What the owner search reads about processes: the backend's part.
pub trait ProcessSource {
    /// The pids of every process now.
    fn pids(&mut self) -> Vec<u32>;
    /// The process's uid and the socket identities among its open
    /// descriptors; `None` when it vanished or cannot be read.
    fn socket_inodes(&mut self, pid: u32) -> Option<ProcSockets>;
    /// The process's short name.
    fn comm(&mut self, pid: u32) -> Option<String>;
    /// The process's cgroup text (Linux's `/proc/PID/cgroup`); `None`
    /// where there is none.
    fn cgroup(&mut self, pid: u32) -> Option<String>;
    /// When the process started, in the unit of
    /// [`ProcessInfo::start_time`]: with the pid, the process's identity.
    fn start_time(&mut self, pid: u32) -> Option<u64> {
        let _ = pid;
        None
    }
    /// The name of user `uid`, when it has one.
    fn user_name(&mut self, uid: u32) -> Option<String> {
        let _ = uid;
        None
    }
    /// The path of the process's executable; `None` when it cannot be
    /// read (gone, a kernel thread, or not allowed).
    fn exe(&mut self, pid: u32) -> Option<String> {
        let _ = pid;
        None
    }
}

/// One process's sockets, as read from its descriptor table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcSockets {
    pub uid: u32,
    /// Socket identities (inodes on Linux).
    pub inodes: Vec<u64>,
    /// The fd number of each of `inodes`, in the same order.
    pub fds: Vec<u32>,
}

/// Minimum time between two scans of every process.
const FULL_SCAN_INTERVAL: Duration = Duration::from_millis(200);
/// Processes listed for less than this are re-read on every search.
const YOUNG: Duration = Duration::from_secs(5);
/// How long an inode no full scan could place is left alone. Such sockets
/// (kernel-owned, other pid namespaces, unreadable processes) would
/// otherwise cost a full scan on every refresh.
const ORPHAN_RETRY: Duration = Duration::from_secs(30);
/// How long a process name is trusted before `comm` is read again (it
/// changes on exec).
const INFO_TTL: Duration = Duration::from_secs(2);

/// What is known about one process that owns sockets.
#[derive(Debug, Clone)]
struct PidSockets {
    uid: u32,
    inodes: Vec<u64>,
}

/// The socket-owner index.
pub struct OwnerIndex {
    source: Box<dyn ProcessSource + Send>,
    clock: Box<dyn Clock + Send>,
    by_inode: FxHashMap<u64, u32>,
    /// The owner's fd number for each inode of `by_inode`.
    fds: FxHashMap<u64, u32>,
    /// Processes known to own sockets ("network-active").
    sockets_of: FxHashMap<u32, PidSockets>,
    /// Pids listed for less than this are re-read on every search.
    young: Duration,
    /// Every pid of the last listing, with when it was first listed.
    known_pids: FxHashMap<u32, Instant>,
    /// Inodes a complete scan did not find, and when.
    orphans: FxHashMap<u64, Instant>,
    last_full_scan: Option<Instant>,
    full_scan_interval: Duration,
    info: FxHashMap<u32, (ProcessInfo, Instant)>,
    users: FxHashMap<u32, String>,
    /// Whether process info carries the container (one more `/proc`
    /// read per process).
    containers: bool,
    stats: ScanStats,
}

/// Counters of `/proc` work, for tests and debugging.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScanStats {
    /// Process fd tables read.
    pub pid_scans: u64,
    /// Listings of `/proc`.
    pub listings: u64,
    /// Scans of every process.
    pub full_scans: u64,
}

impl std::fmt::Debug for OwnerIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OwnerIndex")
            .field("inodes", &self.by_inode.len())
            .field("active_pids", &self.sockets_of.len())
            .field("known_pids", &self.known_pids.len())
            .field("orphans", &self.orphans.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl OwnerIndex {
    /// An empty index over `source`, on the system clock.
    pub fn new(source: Box<dyn ProcessSource + Send>) -> Self {
        Self::with_clock(source, Box::new(SystemClock), FULL_SCAN_INTERVAL, YOUNG)
    }

    /// An empty index over `source` and `clock`, scanning every process
    /// at most every `full_scan_interval` and re-reading processes listed
    /// for less than `young` on every search.
    pub fn with_clock(
        source: Box<dyn ProcessSource + Send>,
        clock: Box<dyn Clock + Send>,
        full_scan_interval: Duration,
        young: Duration,
    ) -> Self {
        OwnerIndex {
            young,
            source,
            clock,
            by_inode: FxHashMap::default(),
            fds: FxHashMap::default(),
            sockets_of: FxHashMap::default(),
            known_pids: FxHashMap::default(),
            orphans: FxHashMap::default(),
            last_full_scan: None,
            full_scan_interval,
            info: FxHashMap::default(),
            users: FxHashMap::default(),
            containers: false,
            stats: ScanStats::default(),
        }
    }

    /// Whether [`Self::process_info`] finds each process's container. Off
    /// by default; turning it on or off forgets the cached process info.
    pub fn set_containers(&mut self, on: bool) {
        if self.containers != on {
            self.containers = on;
            self.info.clear();
        }
    }

    /// How much `/proc` work the index has done so far.
    pub fn stats(&self) -> ScanStats {
        self.stats
    }

    /// The cached owner of `inode`, without any `/proc` work.
    pub fn cached(&self, inode: u64) -> Option<u32> {
        self.by_inode.get(&inode).copied()
    }

    /// The owner's fd number for socket `inode`, when the index has placed
    /// it.
    pub fn fd_of(&self, inode: u64) -> Option<u32> {
        self.fds.get(&inode).copied()
    }

    /// The pid owning socket `inode` (whose socket uid is `uid`), searching
    /// incrementally on a miss.
    pub fn resolve(&mut self, inode: u64, uid: u32) -> Option<u32> {
        if inode == 0 {
            return None;
        }
        if let Some(pid) = self.cached(inode) {
            return Some(pid);
        }
        if self.is_fresh_orphan(inode, self.clock.now()) {
            return None;
        }
        self.search(vec![inode], Some(uid));
        self.cached(inode)
    }

    /// Brings the index in line with the current socket inodes: forgets the
    /// inodes that are gone and searches for the new ones. Does no `/proc`
    /// work when every inode is already placed.
    pub fn refresh_for(&mut self, inodes: &[u64]) {
        let live: FxHashSet<u64> = inodes.iter().copied().filter(|&i| i != 0).collect();
        self.by_inode.retain(|inode, _| live.contains(inode));
        self.fds.retain(|inode, _| live.contains(inode));
        self.sockets_of.retain(|_, s| {
            s.inodes.retain(|inode| live.contains(inode));
            !s.inodes.is_empty()
        });
        self.orphans.retain(|inode, _| live.contains(inode));
        let now = self.clock.now();
        self.info
            .retain(|_, (_, at)| now.saturating_duration_since(*at) < INFO_TTL * 30);
        crate::maps::shrink_sparse(&mut self.by_inode);
        crate::maps::shrink_sparse(&mut self.fds);
        crate::maps::shrink_sparse(&mut self.sockets_of);
        crate::maps::shrink_sparse(&mut self.orphans);
        crate::maps::shrink_sparse(&mut self.info);
        let missing: Vec<u64> = live
            .iter()
            .copied()
            .filter(|i| !self.by_inode.contains_key(i) && !self.is_fresh_orphan(*i, now))
            .collect();
        if !missing.is_empty() {
            self.search(missing, None);
        }
    }

    /// Name, user and (when on) container of `pid`; `uid` (the socket's)
    /// names the user when the process's own uid is unknown. `None` when
    /// the process is gone.
    pub fn process_info(&mut self, pid: u32, uid: u32) -> Option<ProcessInfo> {
        let now = self.clock.now();
        if let Some((info, at)) = self.info.get(&pid) {
            if now.duration_since(*at) < INFO_TTL {
                return Some(info.clone());
            }
        }
        let name = self.source.comm(pid)?;
        let uid = self.sockets_of.get(&pid).map_or(uid, |s| s.uid);
        let user = self.user_name(uid);
        let container = if self.containers {
            self.source
                .cgroup(pid)
                .and_then(|text| crate::container::parse_cgroup(&text))
        } else {
            None
        };
        let info = ProcessInfo {
            pid,
            name,
            user,
            container,
            start_time: self.source.start_time(pid).unwrap_or(0),
            exe: self.source.exe(pid).map(Into::into),
        };
        self.info.insert(pid, (info.clone(), now));
        Some(info)
    }

    /// The name of user `uid`, or the number when it has none (cached).
    pub fn user_name(&mut self, uid: u32) -> String {
        if let Some(name) = self.users.get(&uid) {
            return name.clone();
        }
        let name = self
            .source
            .user_name(uid)
            .unwrap_or_else(|| uid.to_string());
        self.users.insert(uid, name.clone());
        name
    }

    fn is_fresh_orphan(&self, inode: u64, now: Instant) -> bool {
        self.orphans
            .get(&inode)
            .is_some_and(|at| now.duration_since(*at) < ORPHAN_RETRY)
    }

    /// The three-tier search for `missing` inodes.
    fn search(&mut self, missing: Vec<u64>, uid: Option<u32>) {
        let mut missing: FxHashSet<u64> = missing.into_iter().collect();
        let mut scanned: FxHashSet<u32> = FxHashSet::default();

        // (1) Processes that appeared recently: the likeliest owners of a
        // new socket (a short-lived client), few, and cheap to read. They
        // go first because a slow pass over a busy process could outlast
        // a client that lives a few milliseconds.
        let pids = self.source.pids();
        self.stats.listings += 1;
        let listed: FxHashSet<u32> = pids.iter().copied().collect();
        let gone: Vec<u32> = self
            .known_pids
            .keys()
            .copied()
            .filter(|pid| !listed.contains(pid))
            .collect();
        for pid in gone {
            self.forget_pid(pid);
        }
        // Young processes are read again too: a pid first listed while it
        // was a shell's fork, before exec and connect, owns its socket only
        // now.
        let now = self.clock.now();
        let mut young: Vec<u32> = pids
            .iter()
            .copied()
            .filter(|pid| {
                self.known_pids
                    .get(pid)
                    .is_none_or(|first| now.duration_since(*first) < self.young)
            })
            .collect();
        // Newest first.
        young.sort_unstable_by(|a, b| b.cmp(a));
        let previous = std::mem::take(&mut self.known_pids);
        self.known_pids = listed
            .iter()
            .map(|&pid| (pid, previous.get(&pid).copied().unwrap_or(now)))
            .collect();
        for pid in young {
            if self.scan_until_found(pid, &mut scanned, &mut missing) {
                return;
            }
        }

        // (2) Processes that already own sockets: same uid first, then the
        // ones with fewer sockets (cheaper to read).
        let mut active: Vec<(bool, usize, u32)> = self
            .sockets_of
            .iter()
            .map(|(&pid, s)| (Some(s.uid) != uid, s.inodes.len(), pid))
            .collect();
        active.sort_unstable();
        for (_, _, pid) in active {
            if self.scan_until_found(pid, &mut scanned, &mut missing) {
                return;
            }
        }

        // (3) Everyone else, rate-limited.
        let rest: Vec<u32> = pids.into_iter().filter(|p| !scanned.contains(p)).collect();
        if !rest.is_empty() {
            let now = self.clock.now();
            let allowed = self
                .last_full_scan
                .is_none_or(|at| now.duration_since(at) >= self.full_scan_interval);
            if !allowed {
                tracing::debug!(missing = missing.len(), "full /proc scan rate-limited");
                return;
            }
            self.last_full_scan = Some(now);
            self.stats.full_scans += 1;
            for pid in rest {
                if self.scan_until_found(pid, &mut scanned, &mut missing) {
                    return;
                }
            }
        }

        // A process that appeared during the search may hold them now (a
        // parent that connected, forked and exited while we read it): one
        // more listing, and the newcomers are read before giving up.
        let newcomers: Vec<u32> = self
            .source
            .pids()
            .into_iter()
            .filter(|p| !listed.contains(p))
            .collect();
        self.stats.listings += 1;
        for pid in newcomers {
            if self.scan_until_found(pid, &mut scanned, &mut missing) {
                return;
            }
        }

        // Every process was read and these are still nowhere.
        let now = self.clock.now();
        tracing::debug!(count = missing.len(), "socket inodes without an owner");
        for inode in missing {
            self.orphans.insert(inode, now);
        }
    }

    /// Scans `pid` unless this search already did; true once nothing is
    /// missing any more.
    fn scan_until_found(
        &mut self,
        pid: u32,
        scanned: &mut FxHashSet<u32>,
        missing: &mut FxHashSet<u64>,
    ) -> bool {
        if scanned.insert(pid) {
            if let Some(inodes) = self.scan_pid(pid) {
                for inode in inodes {
                    missing.remove(&inode);
                }
            }
        }
        missing.is_empty()
    }

    /// Rereads `pid`'s fds and replaces what the index knew about it.
    /// Returns the inodes it holds now (`None` if it is gone).
    fn scan_pid(&mut self, pid: u32) -> Option<Vec<u64>> {
        self.stats.pid_scans += 1;
        let Some(found) = self.source.socket_inodes(pid) else {
            self.forget_pid(pid);
            return None;
        };
        tracing::trace!(pid, sockets = found.inodes.len(), "process fds read");
        self.drop_sockets_of(pid);
        for (&inode, &fd) in found.inodes.iter().zip(&found.fds) {
            // A socket shared across fork stays with whoever had it first.
            if *self.by_inode.entry(inode).or_insert(pid) == pid {
                self.fds.insert(inode, fd);
            }
            self.orphans.remove(&inode);
        }
        if !found.inodes.is_empty() {
            self.sockets_of.insert(
                pid,
                PidSockets {
                    uid: found.uid,
                    inodes: found.inodes.clone(),
                },
            );
        }
        Some(found.inodes)
    }

    /// Forgets the inodes `pid` was the owner of.
    fn drop_sockets_of(&mut self, pid: u32) {
        if let Some(old) = self.sockets_of.remove(&pid) {
            for inode in old.inodes {
                if self.by_inode.get(&inode) == Some(&pid) {
                    self.by_inode.remove(&inode);
                    self.fds.remove(&inode);
                }
            }
        }
    }

    /// Forgets a process that has exited: its sockets are searched for
    /// again when asked about (they may live on in a child).
    pub fn forget(&mut self, pid: u32) {
        self.forget_pid(pid);
    }

    fn forget_pid(&mut self, pid: u32) {
        self.drop_sockets_of(pid);
        self.info.remove(&pid);
    }
}

#[cfg(test)]
#[path = "search_tests.rs"]
mod tests;

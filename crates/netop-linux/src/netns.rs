//! Sockets in the host's other network namespaces (containers, pods,
//! `ip netns`, nspawn machines).
//!
//! sock_diag answers only for the namespace its netlink socket was made
//! in. So for every other namespace this keeps one netlink socket, made by
//! a short-lived thread that joins the namespace (`setns`), opens it, and
//! exits; the socket stays bound to that namespace and is then used from
//! the capture thread like the host's own. Namespaces are found from
//! `/proc/*/ns/net` and `/run/netns/*`, rescanned at most every
//! [`RESCAN`], and their sockets are dropped when they vanish so netop
//! never keeps a deleted namespace alive.
//!
//! Owners need nothing special: socket inodes are global, so the `/proc`
//! owner index finds a container's process like any other.

use std::fs::File;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use netop_core::rate::RateLimit;
use netop_core::{FlowKey, Protocol, ResolveError, SocketEntry};
use rustc_hash::FxHashMap;

use crate::conntrack::Conntrack;
use crate::sockdiag::{Family, SockDiag};

/// Minimum time between two scans for namespaces.
const RESCAN: Duration = Duration::from_millis(250);

/// Where `ip netns` keeps named namespaces.
const NAMED: &str = "/run/netns";

/// One other namespace, readable through its own netlink socket.
#[derive(Debug)]
struct Namespace {
    diag: SockDiag,
    /// Seen in the last scan.
    alive: bool,
}

/// The host's other network namespaces.
#[derive(Debug)]
pub struct Namespaces {
    /// The namespace netop itself runs in.
    own: Option<u64>,
    others: FxHashMap<u64, Namespace>,
    /// Namespaces that could not be entered, and why (for diagnostics).
    unreadable: FxHashMap<u64, String>,
    last_scan: Option<Instant>,
}

impl Default for Namespaces {
    fn default() -> Self {
        Self::new()
    }
}

impl Namespaces {
    pub fn new() -> Self {
        Namespaces {
            own: ns_inode(Path::new("/proc/self/ns/net")),
            others: FxHashMap::default(),
            unreadable: FxHashMap::default(),
            last_scan: None,
        }
    }

    /// True when some namespace could not be entered (its sockets are
    /// invisible).
    pub fn has_unreadable(&self) -> bool {
        !self.unreadable.is_empty()
    }

    /// Finds namespaces that appeared and forgets those that went, unless
    /// that was done less than [`RESCAN`] ago. True when a namespace was
    /// added.
    pub fn rescan(&mut self) -> bool {
        let now = Instant::now();
        if self
            .last_scan
            .is_some_and(|at| now.duration_since(at) < RESCAN)
        {
            return false;
        }
        let mut added = false;
        self.last_scan = Some(now);
        for ns in self.others.values_mut() {
            ns.alive = false;
        }
        let mut seen_unreadable = FxHashMap::default();
        for path in candidates() {
            let Some(inode) = ns_inode(&path) else {
                continue;
            };
            if Some(inode) == self.own {
                continue;
            }
            if let Some(ns) = self.others.get_mut(&inode) {
                ns.alive = true;
                continue;
            }
            if seen_unreadable.contains_key(&inode) {
                continue;
            }
            match open_in(&path) {
                Ok(diag) => {
                    tracing::debug!(inode, path = %path.display(), "reading another network namespace");
                    self.others.insert(inode, Namespace { diag, alive: true });
                    added = true;
                }
                Err(why) => {
                    tracing::debug!(inode, path = %path.display(), %why, "cannot enter network namespace");
                    seen_unreadable.insert(inode, why);
                }
            }
        }
        self.others.retain(|_, ns| ns.alive);
        self.unreadable = seen_unreadable;
        added
    }

    /// The socket of one flow in any other namespace.
    pub fn lookup(&mut self, key: &FlowKey) -> Option<SocketEntry> {
        for (inode, ns) in &mut self.others {
            match ns.diag.lookup_one(key) {
                Ok(Some(entry)) => return Some(entry),
                Ok(None) => {}
                Err(err) => tracing::debug!(inode, %err, "namespace lookup failed"),
            }
        }
        None
    }

    /// The connected sockets of every other namespace that can carry
    /// traffic across the host's interfaces (loopback ones cannot).
    pub fn connected(&mut self) -> Vec<SocketEntry> {
        let mut out = Vec::new();
        for (inode, ns) in &mut self.others {
            for proto in [Protocol::Tcp, Protocol::Udp] {
                for family in [Family::V4, Family::V6] {
                    match ns.diag.dump(proto, family) {
                        Ok(entries) => out.extend(entries.into_iter().filter(|e| {
                            !e.is_unconnected()
                                && !e.local.ip().is_loopback()
                                && !e.remote.ip().is_loopback()
                        })),
                        Err(err) => tracing::debug!(inode, %err, "namespace dump failed"),
                    }
                }
            }
        }
        out
    }
}

/// Searches elsewhere per second at most, after a burst: a conntrack
/// query and one sock_diag query per other namespace each, several times
/// an ordinary lookup. A flood of new flows to closed ports would
/// otherwise run them all for every flow; past the limit a flow is not
/// searched for elsewhere this time (the engine asks again on a later
/// packet, and a socket table also lists other namespaces' sockets).
const ELSEWHERE_PER_SECOND: u32 = 1000;
const ELSEWHERE_BURST: u32 = 250;

/// Sockets that are not in netop's own namespace: in another namespace,
/// directly or behind the host's NAT.
#[derive(Debug)]
pub struct Elsewhere {
    namespaces: Namespaces,
    /// `None` when conntrack cannot be read (no module, no privilege).
    conntrack: Option<Conntrack>,
    limit: RateLimit,
    /// The last lookup's flow and its inside tuple, when conntrack
    /// translated it and no other namespace has a socket for it.
    unowned: Option<(FlowKey, FlowKey)>,
}

impl Default for Elsewhere {
    fn default() -> Self {
        Self::new()
    }
}

impl Elsewhere {
    pub fn new() -> Self {
        let conntrack = match Conntrack::open() {
            Ok(ct) => Some(ct),
            Err(err) => {
                tracing::debug!(%err, "conntrack unavailable: translated flows stay unknown");
                None
            }
        };
        let mut namespaces = Namespaces::new();
        namespaces.rescan();
        Elsewhere {
            namespaces,
            conntrack,
            limit: RateLimit::new(ELSEWHERE_PER_SECOND, ELSEWHERE_BURST),
            unowned: None,
        }
    }

    /// The socket of a flow netop's namespace has no socket for: through
    /// the host's NAT if conntrack translated it, in any other namespace.
    /// The entry has the socket's own tuple, which differs from the flow's
    /// when translated.
    pub fn lookup(&mut self, key: &FlowKey) -> Result<Option<SocketEntry>, ResolveError> {
        self.unowned = None;
        if !self.limit.allow(Instant::now()) {
            tracing::trace!(flow = %key, denied = self.limit.denied(), "search elsewhere rate-limited");
            return Ok(None);
        }
        let inner = self.conntrack.as_mut().and_then(|ct| ct.inner(key));
        let wanted = inner.unwrap_or(*key);
        if let Some(entry) = self.namespaces.lookup(&wanted) {
            return Ok(Some(entry));
        }
        // A namespace may have appeared since the last scan; the others
        // were just asked.
        if self.namespaces.rescan() {
            if let Some(entry) = self.namespaces.lookup(&wanted) {
                return Ok(Some(entry));
            }
        }
        if inner.is_some() && self.namespaces.has_unreadable() {
            return Err(ResolveError::Namespace {
                what: wanted.to_string(),
                message: "a network namespace could not be entered".to_string(),
            });
        }
        self.unowned = inner.map(|inner| (*key, inner));
        Ok(None)
    }

    /// The inside tuple of `key` when the last [`Elsewhere::lookup`] was of
    /// `key`, conntrack had translated it and no other namespace had a
    /// socket for it: another machine's flow through the host's NAT, or
    /// (the caller checks) a socket of netop's own namespace behind it.
    pub fn unowned_translation(&self, key: &FlowKey) -> Option<FlowKey> {
        self.unowned
            .filter(|(asked, _)| asked == key)
            .map(|(_, inner)| inner)
    }

    /// The last lookup's translation turned out to be owned after all.
    pub fn owned_after_all(&mut self) {
        self.unowned = None;
    }

    /// Connected sockets of the other namespaces, for the socket table.
    pub fn connected(&mut self) -> Vec<SocketEntry> {
        self.namespaces.rescan();
        self.namespaces.connected()
    }
}

/// Paths naming network namespaces: every process's, and `ip netns`'s.
fn candidates() -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(dir) = std::fs::read_dir(NAMED) {
        out.extend(dir.flatten().map(|e| e.path()));
    }
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let name = entry.file_name();
            if name.to_str().and_then(crate::procs::parse_pid).is_some() {
                out.push(entry.path().join("ns/net"));
            }
        }
    }
    out
}

/// The namespace inode behind a `/proc/PID/ns/net` link or an `ip netns`
/// bind mount.
fn ns_inode(path: &Path) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| m.ino())
}

/// Opens a sock_diag socket inside the namespace at `path`, from a thread
/// that exits right after (`setns` changes only the calling thread).
fn open_in(path: &Path) -> Result<SockDiag, String> {
    let file = File::open(path).map_err(|e| format!("open {}: {e}", path.display()))?;
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                nix::sched::setns(file.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET)
                    .map_err(|errno| format!("setns: {}", errno.desc()))?;
                SockDiag::open().map_err(|e| e.to_string())
            })
            .join()
            .map_err(|_| "namespace thread panicked".to_string())?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_namespace_is_known_and_never_an_other() {
        let mut ns = Namespaces::new();
        assert!(ns.own.is_some());
        ns.rescan();
        assert!(!ns.others.contains_key(&ns.own.expect("own")));
    }

    #[test]
    fn a_missing_path_is_not_a_namespace() {
        assert_eq!(ns_inode(Path::new("/proc/0/ns/net")), None);
        assert!(open_in(Path::new("/nonexistent/ns")).is_err());
    }
}

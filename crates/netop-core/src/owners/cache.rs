//! Recent socket owners a backend was told of, by tuple.
//!
//! An event source (Linux's eBPF programs; on macOS, PKTAP headers name
//! processes the same way) tells which process used which socket, often
//! after the socket and the process are gone. The cache outlives both: a
//! connection of a few milliseconds, or a process that exited, is still
//! answered here for [`DEFAULT_MAX_AGE`] after it was last seen, which is
//! what lets the engine move such flows' bytes from unknown to their
//! owner.
//!
//! Sockets are matched by the rule of [`crate::tuples`] (exact tuple, a
//! bind to the flow's address, then a wildcard bind: only in netop's own
//! network namespace, since another namespace's wildcard socket does not
//! take this namespace's flows). Other namespaces' loopback sockets are
//! not kept (their traffic never reaches this namespace's capture). The
//! cache is bounded: past its capacity it drops entries older than the
//! age limit, then the oldest quarter. Time is passed in, never read here.
//!
//! Beside the tuples, the cache keeps owners by socket cookie (Linux: a
//! number the kernel gives each socket, unique while it runs), when the
//! event told one: a kernel counter reads the same number from a socket's
//! egress packets, so such a flow's owner is one hash lookup away, with
//! no matching rule, no search and no namespace question (a cookie names
//! one socket of the host's kernel, whatever its namespace). The cookie
//! index has the tuples' lifetime rules (the same age limit, the oldest
//! quarter dropped when full, a record naming another process is a change
//! of hands) with a bound of its own, a quarter of the tuples': it is
//! asked about sockets seen in the last batches only.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rustc_hash::FxHashMap;

use crate::flow::{FlowKey, Protocol};
use crate::maps::shrink_sparse;
use crate::socket::canonical;
use crate::tuples::{is_unconnected, TupleIndex, Via};

/// Entries kept at most.
pub const DEFAULT_CAPACITY: usize = 65_536;
/// How long an owner is remembered after its socket was last seen.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(60);
/// The cookie index keeps this share of the tuples' capacity (16,384 of
/// 65,536): a kernel counter asks about a cookie within a batch or two of
/// its socket's first packet, so the index needs the last few seconds'
/// sockets, and a full one costs about 2 MB rather than 8.
const COOKIE_SHARE: usize = 4;
/// Unconnected sockets kept per (protocol, port): one per local address
/// and namespace in practice.
const MAX_PER_PORT: usize = 8;

/// The process that last used a socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedOwner {
    pub pid: u32,
    /// The name the event gave (a thread's name on Linux).
    pub comm: String,
    pub uid: u32,
    /// The socket's network namespace (an inode on Linux; 0 where the
    /// OS has one namespace).
    pub netns: u64,
    /// When the event source last told of it.
    pub seen: Instant,
}

/// A [`CachedOwner`] in the cookie index: the same facts with the
/// command in place, no heap allocation, so a full index (65,536) costs
/// about 3 MB rather than 7.
#[derive(Debug, Clone, Copy)]
struct CookieOwner {
    pid: u32,
    uid: u32,
    netns: u64,
    seen: Instant,
    comm: [u8; 16],
    comm_len: u8,
}

impl CookieOwner {
    fn of(owner: &CachedOwner) -> Self {
        // A command is at most 15 bytes (16 if the kernel's had no end);
        // a longer one (invalid UTF-8 made wider) is cut at a character.
        let mut end = owner.comm.len().min(16);
        while !owner.comm.is_char_boundary(end) {
            end -= 1;
        }
        let mut comm = [0u8; 16];
        comm[..end].copy_from_slice(&owner.comm.as_bytes()[..end]);
        CookieOwner {
            pid: owner.pid,
            uid: owner.uid,
            netns: owner.netns,
            seen: owner.seen,
            comm,
            comm_len: end as u8,
        }
    }

    fn owner(&self) -> CachedOwner {
        CachedOwner {
            pid: self.pid,
            comm: String::from_utf8_lossy(&self.comm[..usize::from(self.comm_len)]).into_owned(),
            uid: self.uid,
            netns: self.netns,
            seen: self.seen,
        }
    }
}

/// A socket the cache knows, and its owner.
#[derive(Debug, Clone, Copy)]
pub struct Hit<'a> {
    pub local: SocketAddr,
    /// Unspecified with port 0 for an unconnected socket.
    pub remote: SocketAddr,
    pub owner: &'a CachedOwner,
}

/// Recent owners by tuple; see the module doc.
#[derive(Debug)]
pub struct OwnerCache {
    index: TupleIndex<CachedOwner>,
    /// The same owners by socket cookie, for those the event named one.
    cookies: FxHashMap<u64, CookieOwner>,
    capacity: usize,
    /// Cookies kept at most: a quarter of the tuples' (see the module doc).
    cookie_capacity: usize,
    max_age: Duration,
    /// netop's own network namespace: wildcard binds match only there.
    home_netns: Option<u64>,
}

impl Default for OwnerCache {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY, DEFAULT_MAX_AGE)
    }
}

impl OwnerCache {
    pub fn new(capacity: usize, max_age: Duration) -> Self {
        OwnerCache {
            index: TupleIndex::default(),
            cookies: FxHashMap::default(),
            capacity: capacity.max(1),
            cookie_capacity: (capacity / COOKIE_SHARE).max(1),
            max_age,
            home_netns: None,
        }
    }

    /// Sets netop's own network namespace.
    pub fn set_home_netns(&mut self, netns: u64) {
        self.home_netns = Some(netns);
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    fn is_home(&self, netns: u64) -> bool {
        self.home_netns.is_none_or(|home| home == netns)
    }

    fn fresh(&self, owner: &CachedOwner, now: Instant) -> bool {
        now.saturating_duration_since(owner.seen) <= self.max_age
    }

    /// Remembers that `owner` used the socket (`proto`, `local`,
    /// `remote`; remote unspecified with port 0 when unconnected). Returns
    /// true when the socket was known with another process: it changed
    /// hands.
    pub fn insert(
        &mut self,
        proto: Protocol,
        local: SocketAddr,
        remote: SocketAddr,
        owner: CachedOwner,
    ) -> bool {
        let (local, remote) = (canonical(local), canonical(remote));
        if !self.is_home(owner.netns) && local.ip().is_loopback() {
            return false;
        }
        let (pid, now, netns) = (owner.pid, owner.seen, owner.netns);
        if let Some(old) = self.index.insert(proto, local, remote, netns, owner) {
            return old.pid != pid;
        }
        if is_unconnected(&remote) && self.index.bound_on(proto, local.port()) > MAX_PER_PORT {
            self.index.evict_bound(proto, local.port(), |o| o.seen);
        }
        if self.index.len() > self.capacity {
            self.make_room(now);
        }
        false
    }

    /// Remembers that `owner` used the socket whose cookie is `cookie`.
    /// Returns true when the cookie was known with another process: the
    /// socket changed hands.
    pub fn insert_cookie(&mut self, cookie: u64, owner: &CachedOwner) -> bool {
        let (pid, now) = (owner.pid, owner.seen);
        if let Some(old) = self.cookies.insert(cookie, CookieOwner::of(owner)) {
            return old.pid != pid;
        }
        if self.cookies.len() > self.cookie_capacity {
            self.make_room_for_cookies(now);
        }
        false
    }

    /// The owner of the socket whose cookie is `cookie`, unless older than
    /// the age limit.
    pub fn find_cookie(&self, cookie: u64, now: Instant) -> Option<CachedOwner> {
        self.cookies
            .get(&cookie)
            .filter(|o| now.saturating_duration_since(o.seen) <= self.max_age)
            .map(CookieOwner::owner)
    }

    /// Owners known by cookie.
    pub fn cookies_len(&self) -> usize {
        self.cookies.len()
    }

    /// [`OwnerCache::make_room`] for the cookie index.
    fn make_room_for_cookies(&mut self, now: Instant) {
        self.expire_cookies(now);
        if self.cookies.len() <= self.cookie_capacity {
            return;
        }
        let mut times: Vec<Instant> = self.cookies.values().map(|o| o.seen).collect();
        let quarter = (times.len() / 4).max(1);
        let (_, &mut cutoff, _) = times.select_nth_unstable(quarter - 1);
        self.cookies.retain(|_, o| o.seen > cutoff);
    }

    /// Drops what is too old, then, if still full, the oldest quarter.
    fn make_room(&mut self, now: Instant) {
        self.expire(now);
        if self.index.len() <= self.capacity {
            return;
        }
        let mut times: Vec<Instant> = self.index.iter().map(|(_, _, _, o)| o.seen).collect();
        let quarter = (times.len() / 4).max(1);
        let (_, &mut cutoff, _) = times.select_nth_unstable(quarter - 1);
        self.index.retain(|o| o.seen > cutoff);
    }

    /// Forgets owners not seen for longer than the age limit.
    pub fn expire(&mut self, now: Instant) {
        let max_age = self.max_age;
        self.index
            .retain(|o| now.saturating_duration_since(o.seen) <= max_age);
        self.expire_cookies(now);
    }

    /// Forgets cookies not seen for longer than the age limit. A wave of
    /// short-lived sockets grows the cookie index to its capacity (about
    /// 3 MB); once they have aged out it gives the room back.
    fn expire_cookies(&mut self, now: Instant) {
        let max_age = self.max_age;
        self.cookies
            .retain(|_, o| now.saturating_duration_since(o.seen) <= max_age);
        shrink_sparse(&mut self.cookies);
    }

    /// The owner of a flow's socket by the rule (a wildcard bind only in
    /// netop's namespace); owners older than the age limit are not
    /// answered.
    pub fn find(
        &self,
        proto: Protocol,
        local: SocketAddr,
        remote: SocketAddr,
        now: Instant,
    ) -> Option<&CachedOwner> {
        self.find_socket(proto, local, remote, now)
            .map(|hit| hit.owner)
    }

    /// [`OwnerCache::find`], with the matched socket's own addresses (an
    /// unconnected socket's local address may be the wildcard).
    pub fn find_socket(
        &self,
        proto: Protocol,
        local: SocketAddr,
        remote: SocketAddr,
        now: Instant,
    ) -> Option<Hit<'_>> {
        self.index
            .find(
                proto,
                local,
                remote,
                |o, via| self.fresh(o, now) && (via != Via::Wildcard || self.is_home(o.netns)),
                |o| o.seen,
            )
            .map(|found| Hit {
                local: found.local,
                remote: found.remote,
                owner: found.value,
            })
    }

    /// The owner of exactly this socket: connected with this tuple, or
    /// unconnected and bound to exactly `local` in netop's namespace (no
    /// wildcard fallback).
    pub fn find_exact(
        &self,
        proto: Protocol,
        local: SocketAddr,
        remote: SocketAddr,
        now: Instant,
    ) -> Option<&CachedOwner> {
        let connected = !is_unconnected(&canonical(remote));
        self.index.get(
            proto,
            local,
            remote,
            |o| self.fresh(o, now) && (connected || self.is_home(o.netns)),
            |o| o.seen,
        )
    }

    /// [`OwnerCache::find`] for a flow.
    pub fn find_flow(&self, key: &FlowKey, now: Instant) -> Option<&CachedOwner> {
        self.find(key.proto, key.local(), key.remote(), now)
    }

    /// Every owner still fresh at `now`, with its socket's (protocol,
    /// local, remote); remote is unspecified with port 0 for unconnected
    /// sockets.
    pub fn entries(
        &self,
        now: Instant,
    ) -> impl Iterator<Item = (Protocol, SocketAddr, SocketAddr, &CachedOwner)> + '_ {
        self.index
            .iter()
            .filter(move |(_, _, _, o)| self.fresh(o, now))
    }
}

#[cfg(test)]
#[path = "cache_tests.rs"]
mod tests;

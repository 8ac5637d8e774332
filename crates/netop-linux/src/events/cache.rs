//! Recent socket owners told by the event source, by tuple.
//!
//! The cache outlives the sockets and processes it names: a connection of
//! a few milliseconds, or a process that exited, is still answered here
//! for [`DEFAULT_MAX_AGE`] after it was last seen, which is what lets the
//! engine move such flows' bytes from unknown to their owner.
//!
//! Connected sockets are kept by exact (protocol, local, remote);
//! unconnected ones (UDP binds, remote port 0) by (protocol, local port)
//! and matched like the socket table does: the exact local address first,
//! then a wildcard bind. Addresses are canonical (IPv4-mapped IPv6 is
//! IPv4). The cache is bounded: past its capacity it drops entries older
//! than the age limit, then the oldest quarter. Time is passed in, never
//! read here, so the tests need no sleeping.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use netop_core::socket::canonical;
use netop_core::{FlowKey, Protocol};
use rustc_hash::FxHashMap;

use super::record::SocketEvent;

/// Entries kept at most.
pub const DEFAULT_CAPACITY: usize = 65_536;
/// How long an owner is remembered after its socket was last seen.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(60);
/// Unconnected sockets kept per (protocol, port): one per local address
/// and namespace in practice.
const MAX_PER_PORT: usize = 8;

/// The process that last used a socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedOwner {
    pub pid: u32,
    pub comm: String,
    pub uid: u32,
    pub netns: u64,
    /// When the event source last told of it.
    pub seen: Instant,
}

#[derive(Debug, Clone)]
struct Bound {
    local_ip: IpAddr,
    owner: CachedOwner,
}

type Exact = (Protocol, SocketAddr, SocketAddr);

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
    exact: FxHashMap<Exact, CachedOwner>,
    bound: FxHashMap<(Protocol, u16), Vec<Bound>>,
    bound_len: usize,
    capacity: usize,
    max_age: Duration,
    /// netop's own network namespace: wildcard binds match only there,
    /// and other namespaces' loopback sockets are not kept (their
    /// traffic never reaches this namespace's capture).
    home_netns: Option<u64>,
}

impl Default for OwnerCache {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY, DEFAULT_MAX_AGE)
    }
}

/// The unspecified address of `ip`'s family, port 0: an unconnected
/// socket's remote end.
fn unspecified(ip: IpAddr) -> SocketAddr {
    let any = if ip.is_ipv4() {
        IpAddr::from([0u8; 4])
    } else {
        IpAddr::from([0u8; 16])
    };
    SocketAddr::new(any, 0)
}

fn is_unconnected(remote: &SocketAddr) -> bool {
    remote.port() == 0 && remote.ip().is_unspecified()
}

impl OwnerCache {
    pub fn new(capacity: usize, max_age: Duration) -> Self {
        OwnerCache {
            exact: FxHashMap::default(),
            bound: FxHashMap::default(),
            bound_len: 0,
            capacity: capacity.max(1),
            max_age,
            home_netns: None,
        }
    }

    /// Sets netop's own network namespace (the inode of
    /// `/proc/self/ns/net`).
    pub fn set_home_netns(&mut self, netns: u64) {
        self.home_netns = Some(netns);
    }

    pub fn len(&self) -> usize {
        self.exact.len() + self.bound_len
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn is_home(&self, netns: u64) -> bool {
        self.home_netns.is_none_or(|home| home == netns)
    }

    fn fresh(&self, owner: &CachedOwner, now: Instant) -> bool {
        now.saturating_duration_since(owner.seen) <= self.max_age
    }

    /// Remembers the owner an event names, as of `now`. Returns true when
    /// the socket was known with another process: it changed hands.
    pub fn insert(&mut self, event: &SocketEvent, now: Instant) -> bool {
        let local = canonical(event.local);
        let remote = canonical(event.remote);
        if !self.is_home(event.netns) && local.ip().is_loopback() {
            return false;
        }
        let owner = CachedOwner {
            pid: event.pid,
            comm: event.comm.clone(),
            uid: event.uid,
            netns: event.netns,
            seen: now,
        };
        if is_unconnected(&remote) {
            return self.insert_bound(event.proto, local, owner, now);
        }
        let key = (event.proto, local, remote);
        if let Some(slot) = self.exact.get_mut(&key) {
            let changed = slot.pid != owner.pid;
            *slot = owner;
            return changed;
        }
        self.make_room(now);
        self.exact.insert(key, owner);
        false
    }

    fn insert_bound(
        &mut self,
        proto: Protocol,
        local: SocketAddr,
        owner: CachedOwner,
        now: Instant,
    ) -> bool {
        let key = (proto, local.port());
        if let Some(list) = self.bound.get_mut(&key) {
            if let Some(b) = list
                .iter_mut()
                .find(|b| b.local_ip == local.ip() && b.owner.netns == owner.netns)
            {
                let changed = b.owner.pid != owner.pid;
                b.owner = owner;
                return changed;
            }
        }
        self.make_room(now);
        let list = self.bound.entry(key).or_default();
        if list.len() >= MAX_PER_PORT {
            if let Some(oldest) = (0..list.len()).min_by_key(|&i| list[i].owner.seen) {
                list.swap_remove(oldest);
                self.bound_len -= 1;
            }
        }
        list.push(Bound {
            local_ip: local.ip(),
            owner,
        });
        self.bound_len += 1;
        false
    }

    /// Keeps one free place: drops what is too old, then, if still full,
    /// the oldest quarter.
    fn make_room(&mut self, now: Instant) {
        if self.len() < self.capacity {
            return;
        }
        self.expire(now);
        if self.len() < self.capacity {
            return;
        }
        let mut times: Vec<Instant> = self.exact.values().map(|o| o.seen).collect();
        times.extend(self.bound.values().flatten().map(|b| b.owner.seen));
        let quarter = (times.len() / 4).max(1);
        let (_, &mut cutoff, _) = times.select_nth_unstable(quarter - 1);
        self.retain(|o| o.seen > cutoff);
    }

    /// Forgets owners not seen for longer than the age limit.
    pub fn expire(&mut self, now: Instant) {
        let max_age = self.max_age;
        self.retain(|o| now.saturating_duration_since(o.seen) <= max_age);
    }

    fn retain(&mut self, mut keep: impl FnMut(&CachedOwner) -> bool) {
        self.exact.retain(|_, o| keep(o));
        let mut bound_len = 0;
        self.bound.retain(|_, list| {
            list.retain(|b| keep(&b.owner));
            bound_len += list.len();
            !list.is_empty()
        });
        self.bound_len = bound_len;
    }

    /// The owner of a socket by its tuple: the connected socket with
    /// exactly this tuple, else an unconnected one bound to the local port
    /// on the local address (any namespace) or on the wildcard address
    /// (netop's namespace only). Owners older than the age limit are not
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
        let local = canonical(local);
        let remote = canonical(remote);
        if let Some(o) = self.exact.get(&(proto, local, remote)) {
            if self.fresh(o, now) {
                return Some(Hit {
                    local,
                    remote,
                    owner: o,
                });
            }
        }
        let list = self.bound.get(&(proto, local.port()))?;
        let newest = |wanted: &dyn Fn(&Bound) -> bool| {
            list.iter()
                .filter(|b| wanted(b) && self.fresh(&b.owner, now))
                .max_by_key(|b| b.owner.seen)
        };
        let bound = newest(&|b| b.local_ip == local.ip()).or_else(|| {
            newest(&|b| {
                b.local_ip.is_unspecified()
                    && (b.local_ip.is_ipv6() || local.is_ipv4())
                    && self.is_home(b.owner.netns)
            })
        })?;
        Some(Hit {
            local: SocketAddr::new(bound.local_ip, local.port()),
            remote: unspecified(bound.local_ip),
            owner: &bound.owner,
        })
    }

    /// The owner of exactly this socket: connected with this tuple, or
    /// unconnected and bound to exactly `local` (no wildcard fallback).
    pub fn find_exact(
        &self,
        proto: Protocol,
        local: SocketAddr,
        remote: SocketAddr,
        now: Instant,
    ) -> Option<&CachedOwner> {
        let local = canonical(local);
        let remote = canonical(remote);
        let owner = if is_unconnected(&remote) {
            self.bound
                .get(&(proto, local.port()))?
                .iter()
                .filter(|b| b.local_ip == local.ip() && self.is_home(b.owner.netns))
                .max_by_key(|b| b.owner.seen)
                .map(|b| &b.owner)
        } else {
            self.exact.get(&(proto, local, remote))
        }?;
        self.fresh(owner, now).then_some(owner)
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
        let exact = self
            .exact
            .iter()
            .map(|(&(proto, local, remote), o)| (proto, local, remote, o));
        let bound = self.bound.iter().flat_map(|(&(proto, port), list)| {
            list.iter().map(move |b| {
                let local = SocketAddr::new(b.local_ip, port);
                (proto, local, unspecified(b.local_ip), &b.owner)
            })
        });
        exact
            .chain(bound)
            .filter(move |(_, _, _, o)| self.fresh(o, now))
    }
}

#[cfg(test)]
#[path = "cache_tests.rs"]
mod tests;

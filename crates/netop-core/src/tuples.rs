//! The one rule that says which socket a flow belongs to, and an index
//! of sockets (or of their owners) by it.
//!
//! The rule: a connected socket matches the flow with exactly its tuple;
//! an unconnected one (a listener, an unbound or bound-only UDP socket)
//! matches every flow on its local port, at its local address or, bound to
//! the wildcard address, at any address of its family (an IPv6 wildcard
//! takes IPv4 flows too: dual-stack). The exact tuple wins over a bind to
//! the flow's address, which wins over a wildcard. Addresses are compared
//! canonical: IPv4-mapped IPv6 is IPv4.
//!
//! The socket table, the owner cache and the check of a kernel's answer to
//! an exact lookup all use it, so a flow finds the same socket however the
//! backend learnt of it.

use std::net::{IpAddr, SocketAddr};

use rustc_hash::FxHashMap;

use crate::flow::Protocol;
use crate::maps::shrink_sparse;
use crate::socket::canonical;

/// How a socket matched a flow, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Via {
    /// A connected socket with the flow's tuple.
    Exact,
    /// An unconnected socket bound to the flow's local address.
    Local,
    /// An unconnected socket bound to the wildcard address.
    Wildcard,
}

/// True for the remote end of an unconnected socket: unspecified, port 0.
pub fn is_unconnected(remote: &SocketAddr) -> bool {
    remote.port() == 0 && remote.ip().is_unspecified()
}

/// The unspecified address of `ip`'s family, port 0: an unconnected
/// socket's remote end.
pub fn unconnected_remote(ip: IpAddr) -> SocketAddr {
    let any = if ip.is_ipv4() {
        IpAddr::from([0u8; 4])
    } else {
        IpAddr::from([0u8; 16])
    };
    SocketAddr::new(any, 0)
}

/// Whether an unconnected socket bound to `bound` takes a flow whose
/// local address is `local` (both canonical, same port).
fn bind_takes(bound: IpAddr, local: IpAddr) -> Option<Via> {
    if bound == local {
        Some(Via::Local)
    } else if bound.is_unspecified() && (bound.is_ipv6() || local.is_ipv4()) {
        Some(Via::Wildcard)
    } else {
        None
    }
}

/// How the socket (`sock_local`, `sock_remote`) matches the flow
/// (`local`, `remote`), if it does: the rule of the module doc.
pub fn matches(
    sock_local: SocketAddr,
    sock_remote: SocketAddr,
    local: SocketAddr,
    remote: SocketAddr,
) -> Option<Via> {
    let (sock_local, sock_remote) = (canonical(sock_local), canonical(sock_remote));
    let (local, remote) = (canonical(local), canonical(remote));
    if sock_local.port() != local.port() {
        return None;
    }
    if is_unconnected(&sock_remote) {
        return bind_takes(sock_local.ip(), local.ip());
    }
    (sock_local == local && sock_remote == remote).then_some(Via::Exact)
}

/// A match found in a [`TupleIndex`]: the socket's own addresses (an
/// unconnected socket's local address may be the wildcard, its remote is
/// unspecified) and its value.
#[derive(Debug, Clone, Copy)]
pub struct Found<'a, V> {
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub via: Via,
    pub value: &'a V,
}

#[derive(Debug, Clone)]
struct Bound<V> {
    ip: IpAddr,
    /// Tells apart unconnected sockets on one address and port (sockets
    /// sharing it with SO_REUSEPORT, or the same address in two network
    /// namespaces): an insert with the same one replaces.
    tag: u64,
    value: V,
}

type Exact = (Protocol, SocketAddr, SocketAddr);

/// Sockets (or anything known about them) by tuple, found by the rule.
#[derive(Debug, Clone)]
pub struct TupleIndex<V> {
    exact: FxHashMap<Exact, V>,
    bound: FxHashMap<(Protocol, u16), Vec<Bound<V>>>,
    bound_len: usize,
}

impl<V> Default for TupleIndex<V> {
    fn default() -> Self {
        TupleIndex {
            exact: FxHashMap::default(),
            bound: FxHashMap::default(),
            bound_len: 0,
        }
    }
}

impl<V> TupleIndex<V> {
    pub fn len(&self) -> usize {
        self.exact.len() + self.bound_len
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds a socket; one already there (the same tuple, or unconnected
    /// with the same local address and `tag`) is replaced and returned.
    pub fn insert(
        &mut self,
        proto: Protocol,
        local: SocketAddr,
        remote: SocketAddr,
        tag: u64,
        value: V,
    ) -> Option<V> {
        let (local, remote) = (canonical(local), canonical(remote));
        if !is_unconnected(&remote) {
            return self.exact.insert((proto, local, remote), value);
        }
        let list = self.bound.entry((proto, local.port())).or_default();
        if let Some(b) = list.iter_mut().find(|b| b.ip == local.ip() && b.tag == tag) {
            return Some(std::mem::replace(&mut b.value, value));
        }
        if list.is_empty() {
            // Most ports have one unconnected socket: a list of one, not
            // the four a first push reserves (20,000 short-lived UDP
            // sockets cost 3.7 MB more in the owner cache that way).
            list.reserve_exact(1);
        }
        list.push(Bound {
            ip: local.ip(),
            tag,
            value,
        });
        self.bound_len += 1;
        None
    }

    /// The unconnected sockets on one port, for a caller that bounds them.
    pub fn bound_on(&self, proto: Protocol, port: u16) -> usize {
        self.bound.get(&(proto, port)).map_or(0, Vec::len)
    }

    /// The socket of a flow by the rule, among the values `usable` accepts
    /// (it is told how each would match); of several matching the same
    /// way, the one `rank` puts highest (the first inserted on a tie).
    pub fn find<K: Ord>(
        &self,
        proto: Protocol,
        local: SocketAddr,
        remote: SocketAddr,
        usable: impl Fn(&V, Via) -> bool,
        rank: impl Fn(&V) -> K,
    ) -> Option<Found<'_, V>> {
        let (local, remote) = (canonical(local), canonical(remote));
        if let Some(value) = self.exact.get(&(proto, local, remote)) {
            if usable(value, Via::Exact) {
                return Some(Found {
                    local,
                    remote,
                    via: Via::Exact,
                    value,
                });
            }
        }
        let list = self.bound.get(&(proto, local.port()))?;
        let mut best: Option<(Via, K, &Bound<V>)> = None;
        for b in list {
            let Some(via) = bind_takes(b.ip, local.ip()) else {
                continue;
            };
            if !usable(&b.value, via) {
                continue;
            }
            let k = rank(&b.value);
            let better = match &best {
                None => true,
                Some((v, bk, _)) => via < *v || (via == *v && k > *bk),
            };
            if better {
                best = Some((via, k, b));
            }
        }
        best.map(|(via, _, b)| Found {
            local: SocketAddr::new(b.ip, local.port()),
            remote: unconnected_remote(b.ip),
            via,
            value: &b.value,
        })
    }

    /// The value of exactly this socket: connected with this tuple, or
    /// unconnected on exactly `local` (no wildcard), among those `usable`
    /// accepts; of several, the one `rank` puts highest.
    pub fn get<K: Ord>(
        &self,
        proto: Protocol,
        local: SocketAddr,
        remote: SocketAddr,
        usable: impl Fn(&V) -> bool,
        rank: impl Fn(&V) -> K,
    ) -> Option<&V> {
        let (local, remote) = (canonical(local), canonical(remote));
        if !is_unconnected(&remote) {
            return self
                .exact
                .get(&(proto, local, remote))
                .filter(|v| usable(v));
        }
        self.bound
            .get(&(proto, local.port()))?
            .iter()
            .filter(|b| b.ip == local.ip() && usable(&b.value))
            .max_by_key(|b| rank(&b.value))
            .map(|b| &b.value)
    }

    /// Keeps the values `keep` accepts; after a burst has gone, gives
    /// back the room it made.
    pub fn retain(&mut self, mut keep: impl FnMut(&V) -> bool) {
        self.exact.retain(|_, v| keep(v));
        let mut bound_len = 0;
        self.bound.retain(|_, list| {
            list.retain(|b| keep(&b.value));
            bound_len += list.len();
            !list.is_empty()
        });
        self.bound_len = bound_len;
        shrink_sparse(&mut self.exact);
        shrink_sparse(&mut self.bound);
    }

    /// Drops the lowest-ranked unconnected socket on `proto`/`port`.
    pub fn evict_bound<K: Ord>(&mut self, proto: Protocol, port: u16, rank: impl Fn(&V) -> K) {
        if let Some(list) = self.bound.get_mut(&(proto, port)) {
            if let Some(i) = (0..list.len()).min_by_key(|&i| rank(&list[i].value)) {
                list.swap_remove(i);
                self.bound_len -= 1;
            }
            if list.is_empty() {
                self.bound.remove(&(proto, port));
            }
        }
    }

    /// Every socket: (protocol, local, remote, value); an unconnected
    /// one's remote is unspecified with port 0.
    pub fn iter(&self) -> impl Iterator<Item = (Protocol, SocketAddr, SocketAddr, &V)> + '_ {
        let exact = self
            .exact
            .iter()
            .map(|(&(proto, local, remote), v)| (proto, local, remote, v));
        let bound = self.bound.iter().flat_map(|(&(proto, port), list)| {
            list.iter().map(move |b| {
                (
                    proto,
                    SocketAddr::new(b.ip, port),
                    unconnected_remote(b.ip),
                    &b.value,
                )
            })
        });
        exact.chain(bound)
    }
}

#[cfg(test)]
#[path = "tuples_tests.rs"]
mod tests;

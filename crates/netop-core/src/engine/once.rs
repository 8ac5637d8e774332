//! Each byte once: a packet that crosses several interfaces of this host
//! is credited to its owner at one of its sightings only.
//!
//! Captured on `any`, one packet from a container behind a bridge and a
//! masquerade is seen on the container's veth, on the bridge device and,
//! translated, on the uplink. Every sighting counts on its own interface
//! (the Interface view equals the kernel's counters), but only one may
//! count for the owner, or a per-process monitor shows containers' traffic
//! two or three times.
//!
//! The rule: every flow key belongs to one *identity*, the thing its bytes
//! are credited to:
//! - owned flows: the owning socket's end, (process, protocol, the
//!   socket's own port, its peer) as the socket sees it, so a flow
//!   translated by NAT (the resolver maps it through conntrack to the same
//!   socket) is the same identity as the untranslated one;
//! - forwarded flows (no local socket, neither end local): the path, the
//!   two ends sorted, so the packet entering on one interface (its
//!   sender's side) and leaving on another (its receiver's side) is one;
//!   a path a local socket owns (a container's routed traffic, seen
//!   owned on its veth and as forwarded on the uplink) is never credited
//!   as forwarded;
//! - any other unowned flow: its own key.
//!
//! Per identity and per direction of travel, the first sighting holds the
//! *seat*: that flow key on that interface (when another key already holds
//! the other direction, that key gets this one too, at its first sighting
//! this way, so a connection is shown under one key). A packet is credited
//! when it is seen at the seat, and only counted on its interface
//! elsewhere. Every
//! packet of a flow crosses its seat as long as a direction keeps its path
//! (routes and bridges do), so each is credited exactly once. On a single
//! captured interface each flow key is its own first sighting, so nothing
//! changes there: processes plus unknown equal the interface's counters.
//!
//! Seats are decided once per flow and direction: the flow entry caches
//! the answer in 8 bytes (the interface, or [`UNDECIDED`]/[`ELSEWHERE`]),
//! so a packet pays one comparison, not a second hash lookup, and the flow
//! table's slots stay small; identities live here, beside the table.

use std::hash::{BuildHasher, Hash};
use std::net::{IpAddr, Ipv4Addr};

use rustc_hash::FxHashMap;

use crate::flow::{Direction, FlowKey, PackedKey};
use crate::maps::shrink_sparse;
use crate::socket::{canonical, canonical_ip, SocketEntry};

/// What a flow's bytes are credited to, for the once-only rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Identity {
    /// A local socket's end: the owner's process slot and (protocol, the
    /// socket's port, its peer) with the local address left out (NAT
    /// changes it, the socket's port and peer it does not).
    Socket(u64, PackedKey),
    /// A forwarded path: the two ends, sorted.
    Path(PackedKey),
    /// An unowned flow that is not forwarded: itself.
    Key(PackedKey),
}

/// A flow's cached answer for one direction: not decided yet (no packet
/// this way since it got its identity). Any other value but
/// [`ELSEWHERE`] is the interface where this flow key credits.
pub(super) const UNDECIDED: u32 = u32::MAX;
/// Credited on another flow key: this one is only a sighting.
pub(super) const ELSEWHERE: u32 = u32::MAX - 1;

/// A 64-bit tag standing for a flow key or an identity in the seats
/// (foldhash's quality hash with a fixed seed, never 0, which means
/// "none"). Tags keep the seats small (a flow costs about 100 bytes
/// here, not the 1 KB that whole keys cost); two different keys of one
/// host sharing a tag is a 2^-64 event. Computed only when a seat is
/// decided, never per packet, but that is every packet of a flood of new
/// flows: there SipHash, the tag's hash before, took 16 % of netop's
/// time (docs/PERFORMANCE.md, "Answered"). Neither keyed nor secret,
/// both leave a crafted collision at the birthday bound of 64 bits.
fn tag(value: &impl Hash) -> u64 {
    foldhash::quality::FixedState::with_seed(TAG_SEED)
        .hash_one(value)
        .max(1)
}

/// Any fixed seed: tags live only in memory, within one run.
const TAG_SEED: u64 = 0x6e65_746f_7000_0001;

/// A flow key's place in the rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Membership {
    /// The tag of its identity.
    id: u64,
    /// Its directions are swapped in the identity's seats (a forwarded
    /// path whose local end is the higher one).
    flip: bool,
    /// The tag of the path its owning socket sees (marked owned while it
    /// lives), or 0.
    owned_path: u64,
}

impl Membership {
    pub(super) fn new(identity: &Identity, flip: bool, owned_path: Option<&PackedKey>) -> Self {
        Membership {
            id: tag(identity),
            flip,
            owned_path: owned_path.map_or(0, |p| tag(&Identity::Path(*p))),
        }
    }
}

/// The flow key and interface where an identity's packets are credited,
/// per direction of travel (tags; 0 is none), and how many flows have it.
#[derive(Debug, Clone, Default)]
struct Seat {
    holder: [u64; 2],
    /// The holder's interface, or [`UNDECIDED`] when the direction is
    /// reserved for the key holding the other one and not seen yet.
    at: [u32; 2],
    flows: u32,
}

/// The seats of every identity with a flow in the table, the paths local
/// sockets own, and each flow key's membership.
#[derive(Debug, Clone, Default)]
pub(super) struct Seats {
    seats: FxHashMap<u64, Seat>,
    /// Owned paths (their tags) and how many owned flows mark each.
    owned: FxHashMap<u64, u32>,
    members: FxHashMap<u64, Membership>,
}

impl Seats {
    /// A flow key takes its place (after leaving any earlier one).
    pub(super) fn enter(&mut self, key: &PackedKey, m: Membership) {
        self.exit(key);
        self.seats.entry(m.id).or_default().flows += 1;
        if m.owned_path != 0 {
            *self.owned.entry(m.owned_path).or_default() += 1;
        }
        self.members.insert(tag(key), m);
    }

    /// A flow key leaves (expired, or about to get another identity).
    /// Returns its identity's tag and whether it held a seat, which is
    /// then free for the identity's other flows.
    pub(super) fn exit(&mut self, key: &PackedKey) -> Option<(u64, bool)> {
        let k = tag(key);
        let m = self.members.remove(&k)?;
        if m.owned_path != 0 {
            if let Some(n) = self.owned.get_mut(&m.owned_path) {
                *n -= 1;
                if *n == 0 {
                    self.owned.remove(&m.owned_path);
                }
            }
        }
        let Some(seat) = self.seats.get_mut(&m.id) else {
            return Some((m.id, false));
        };
        let mut released = false;
        for holder in &mut seat.holder {
            if *holder == k {
                *holder = 0;
                released = true;
            }
        }
        seat.flows = seat.flows.saturating_sub(1);
        if seat.flows == 0 {
            self.seats.remove(&m.id);
        }
        Some((m.id, released))
    }

    /// Whether flows of the identity `id` (a tag) are left.
    pub(super) fn has_flows(&self, id: u64) -> bool {
        self.seats.contains_key(&id)
    }

    /// The identity tag of a flow key.
    pub(super) fn identity(&self, key: &PackedKey) -> Option<u64> {
        self.members.get(&tag(key)).map(|m| m.id)
    }

    /// True when flow key `key` belongs to `identity`.
    pub(super) fn is_member(&self, key: &PackedKey, identity: &Identity) -> bool {
        self.identity(key) == Some(tag(identity))
    }

    /// The tag of a forwarded path's identity.
    pub(super) fn path_id(path: &PackedKey) -> u64 {
        tag(&Identity::Path(*path))
    }

    /// A socket is about to own `path` (its flow enters with it as its
    /// `owned_path`): from then on it is never credited as forwarded.
    /// True when forwarded flows held its seats: the caller takes their
    /// bytes back (they are the flows whose identity is the path's).
    pub(super) fn own_path(&mut self, path: &PackedKey) -> bool {
        match self.seats.get_mut(&Self::path_id(path)) {
            Some(seat) if seat.holder != [0, 0] => {
                seat.holder = [0, 0];
                true
            }
            _ => false,
        }
    }

    /// True when some other flow than `key` holds a seat of `identity`.
    pub(super) fn held_by_other(&self, identity: &Identity, key: &PackedKey) -> bool {
        let k = tag(key);
        self.seats
            .get(&tag(identity))
            .is_some_and(|seat| seat.holder.iter().any(|&h| h != 0 && h != k))
    }

    /// True when some other flow key than `key` holds a seat of `key`'s
    /// identity.
    pub(super) fn seat_taken(&self, key: &PackedKey) -> bool {
        let k = tag(key);
        self.members
            .get(&k)
            .and_then(|m| self.seats.get(&m.id))
            .is_some_and(|seat| seat.holder.iter().any(|&h| h != 0 && h != k))
    }

    /// Where the packets of flow `key` travelling `dir` are credited:
    /// the interface of its seat, or [`ELSEWHERE`]; takes the seat for
    /// `key` on `ifindex` if it is free. A key with no membership credits
    /// where it is seen.
    pub(super) fn decide(&mut self, key: &PackedKey, dir: Direction, ifindex: u32) -> u32 {
        let k = tag(key);
        let Some(m) = self.members.get(&k).copied() else {
            return ifindex;
        };
        if self.owned.contains_key(&m.id) {
            return ELSEWHERE;
        }
        let side = side(dir, m.flip);
        let seat = self.seats.entry(m.id).or_default();
        match seat.holder[side] {
            // One connection is credited under one flow key when it can
            // be: the key holding the other side gets this one too, at
            // its first sighting this way.
            0 => {
                let other = seat.holder[1 - side];
                if other != 0 && other != k {
                    seat.holder[side] = other;
                    seat.at[side] = UNDECIDED;
                    ELSEWHERE
                } else {
                    seat.holder[side] = k;
                    seat.at[side] = ifindex;
                    ifindex
                }
            }
            h if h == k => {
                if seat.at[side] == UNDECIDED {
                    seat.at[side] = ifindex;
                }
                seat.at[side]
            }
            _ => ELSEWHERE,
        }
    }

    /// Gives back the room a flood of flows made once they have left.
    pub(super) fn shrink(&mut self) {
        shrink_sparse(&mut self.seats);
        shrink_sparse(&mut self.owned);
        shrink_sparse(&mut self.members);
    }

    /// Identities, owned paths and members held (none once every flow
    /// has left).
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.seats.len() + self.owned.len() + self.members.len()
    }
}

/// Index of a direction in [`Seat::holder`] (and, unflipped, in a flow's
/// cached answers).
pub(super) fn side(dir: Direction, flip: bool) -> usize {
    let d = match dir {
        Direction::Tx => 0,
        Direction::Rx => 1,
    };
    d ^ usize::from(flip)
}

/// The flow as the owning socket sees it: its own port (and address, when
/// bound to one) and its peer, which differ from the packet's under NAT.
/// An unconnected socket (a listener, an unconnected UDP socket) has no
/// peer of its own: the packet's is the socket's.
pub(super) fn socket_view(entry: &SocketEntry, key: &FlowKey) -> FlowKey {
    let local = canonical(entry.local);
    let (remote_ip, remote_port) = if entry.is_unconnected() {
        (key.remote_ip, key.remote_port)
    } else {
        let r = canonical(entry.remote);
        (r.ip(), r.port())
    };
    FlowKey {
        proto: key.proto,
        local_ip: if local.ip().is_unspecified() {
            key.local_ip
        } else {
            canonical_ip(local.ip())
        },
        local_port: if local.port() == 0 {
            key.local_port
        } else {
            local.port()
        },
        remote_ip,
        remote_port,
    }
}

/// The identity of a flow owned by the process `process` (its pid and
/// start time, see `Engine::process_key`), whose socket sees it as `view`.
pub(super) fn socket_identity(process: u64, view: &FlowKey) -> Identity {
    let mut end = *view;
    end.local_ip = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    Identity::Socket(process, PackedKey::from(&end))
}

/// A flow's path with its ends sorted, and whether its local end is the
/// higher one (so its sides are swapped in the path's seats).
pub(super) fn path_of(key: &FlowKey) -> (PackedKey, bool) {
    let local = (key.local_ip, key.local_port);
    let remote = (key.remote_ip, key.remote_port);
    if local <= remote {
        (PackedKey::from(key), false)
    } else {
        let sorted = FlowKey {
            proto: key.proto,
            local_ip: key.remote_ip,
            local_port: key.remote_port,
            remote_ip: key.local_ip,
            remote_port: key.local_port,
        };
        (PackedKey::from(&sorted), true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::Protocol;

    fn key(local: &str, remote: &str) -> FlowKey {
        FlowKey::new(
            Protocol::Tcp,
            local.parse().expect("addr"),
            remote.parse().expect("addr"),
        )
    }

    #[test]
    fn the_first_sighting_holds_the_seat_per_direction() {
        let mut seats = Seats::default();
        let a = PackedKey::from(&key("10.0.0.2:1000", "192.0.2.1:80"));
        let b = PackedKey::from(&key("192.0.2.9:1000", "192.0.2.1:80"));
        let id = Identity::Key(a);
        seats.enter(&a, Membership::new(&id, false, None));
        seats.enter(&b, Membership::new(&id, false, None));
        let (tx, rx) = (Direction::Tx, Direction::Rx);
        assert_eq!(seats.decide(&a, tx, 7), 7);
        assert_eq!(seats.decide(&a, tx, 8), 7, "same key");
        assert_eq!(seats.decide(&b, tx, 9), ELSEWHERE);
        assert_eq!(
            seats.decide(&b, rx, 9),
            ELSEWHERE,
            "the other way is kept for the key that holds this way"
        );
        assert_eq!(seats.decide(&a, rx, 8), 8);
        assert!(seats.held_by_other(&id, &b));
        assert_eq!(seats.exit(&a), Some((tag(&id), true)), "held a seat");
        assert!(!seats.held_by_other(&id, &b));
        assert_eq!(seats.decide(&b, tx, 9), 9, "freed");
        assert_eq!(seats.exit(&b), Some((tag(&id), true)));
        assert_eq!(seats.len(), 0, "forgotten with its last flow");
        assert_eq!(seats.decide(&b, tx, 4), 4, "no membership: credited");
    }

    #[test]
    fn an_owned_path_is_never_credited_as_forwarded() {
        let mut seats = Seats::default();
        let (path, _) = path_of(&key("192.0.2.1:80", "10.0.0.2:1000"));
        let fwd = PackedKey::from(&key("192.0.2.1:80", "10.0.0.2:1000"));
        let owned = PackedKey::from(&key("10.0.0.2:1000", "192.0.2.1:80"));
        seats.enter(&fwd, Membership::new(&Identity::Path(path), false, None));
        assert_eq!(seats.identity(&fwd), Some(Seats::path_id(&path)));
        assert_eq!(seats.decide(&fwd, Direction::Rx, 3), 3);
        assert!(seats.own_path(&path), "its holder is taken back");
        let socket = Identity::Socket(1, owned);
        seats.enter(&owned, Membership::new(&socket, false, Some(&path)));
        assert!(!seats.own_path(&path), "nothing more to take back");
        assert_eq!(seats.decide(&fwd, Direction::Rx, 3), ELSEWHERE);
        assert_eq!(seats.decide(&fwd, Direction::Tx, 3), ELSEWHERE);
        // The owner leaves: its path is forwarded again.
        seats.exit(&owned);
        assert_eq!(seats.decide(&fwd, Direction::Tx, 3), 3);
        seats.exit(&fwd);
        assert_eq!(seats.len(), 0);
    }

    #[test]
    fn both_ends_of_a_path_sort_to_one_key_with_swapped_sides() {
        let there = key("10.0.0.2:1000", "192.0.2.1:80");
        let back = key("192.0.2.1:80", "10.0.0.2:1000");
        let (p1, f1) = path_of(&there);
        let (p2, f2) = path_of(&back);
        assert_eq!(p1, p2);
        assert_ne!(f1, f2);
        // The container's packet: sent by its end (Tx on `there`), and
        // received by the other end (Rx on `back`): the same side.
        assert_eq!(side(Direction::Tx, f1), side(Direction::Rx, f2));
    }

    #[test]
    fn a_translated_flow_and_its_socket_share_an_identity() {
        let socket = crate::testing::socket(
            Protocol::Tcp,
            "10.0.3.2:40000",
            "198.51.100.7:443",
            42,
            "curl",
        );
        let inside = key("10.0.3.2:40000", "198.51.100.7:443");
        let masqueraded = key("192.0.2.10:40000", "198.51.100.7:443");
        let a = socket_identity(1, &socket_view(&socket, &inside));
        let b = socket_identity(1, &socket_view(&socket, &masqueraded));
        assert_eq!(a, b);
        assert_eq!(socket_view(&socket, &masqueraded), inside);
        // A published port: the listener has no peer; the packet's is kept,
        // and the socket's port replaces the published one.
        let listener =
            crate::testing::socket(Protocol::Tcp, "0.0.0.0:5001", "0.0.0.0:0", 7, "sink");
        let outer = key("192.0.2.10:8080", "203.0.113.5:33000");
        let inner = key("10.0.3.2:5001", "203.0.113.5:33000");
        assert_eq!(
            socket_identity(2, &socket_view(&listener, &outer)),
            socket_identity(2, &socket_view(&listener, &inner))
        );
        assert_ne!(
            socket_identity(2, &socket_view(&listener, &inner)),
            socket_identity(3, &socket_view(&listener, &inner)),
            "another process's socket is another end"
        );
    }
}

//! The owner cache: exact tuples, binds, namespaces, age and bounds.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::{FlowKey, Protocol};

use super::{CachedOwner, OwnerCache, DEFAULT_MAX_AGE};

/// What an event source tells: a process used a socket.
#[derive(Debug, Clone)]
struct SocketEvent {
    netns: u64,
    proto: Protocol,
    local: SocketAddr,
    remote: SocketAddr,
    pid: u32,
    comm: String,
    uid: u32,
}

trait Tell {
    fn tell(&mut self, event: &SocketEvent, now: Instant) -> bool;
}

impl Tell for OwnerCache {
    fn tell(&mut self, e: &SocketEvent, now: Instant) -> bool {
        let owner = CachedOwner {
            pid: e.pid,
            comm: e.comm.clone(),
            uid: e.uid,
            netns: e.netns,
            seen: now,
        };
        self.insert(e.proto, e.local, e.remote, owner)
    }
}

const HOME: u64 = 4026531840;
const OTHER: u64 = 4026532999;

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("socket address")
}

fn event(proto: Protocol, local: &str, remote: &str, pid: u32) -> SocketEvent {
    SocketEvent {
        netns: HOME,
        proto,
        local: addr(local),
        remote: addr(remote),
        pid,
        comm: format!("p{pid}"),
        uid: 1000,
    }
}

fn cache() -> OwnerCache {
    let mut c = OwnerCache::default();
    c.set_home_netns(HOME);
    c
}

fn pid_of(c: &OwnerCache, proto: Protocol, local: &str, remote: &str, now: Instant) -> Option<u32> {
    c.find(proto, addr(local), addr(remote), now).map(|o| o.pid)
}

#[test]
fn exact_tuple_is_found_and_a_later_owner_replaces_it() {
    let t0 = Instant::now();
    let mut c = cache();
    c.tell(
        &event(Protocol::Tcp, "10.0.0.1:40000", "10.0.0.2:80", 7),
        t0,
    );
    assert_eq!(
        pid_of(&c, Protocol::Tcp, "10.0.0.1:40000", "10.0.0.2:80", t0),
        Some(7)
    );
    assert_eq!(
        pid_of(&c, Protocol::Udp, "10.0.0.1:40000", "10.0.0.2:80", t0),
        None
    );
    assert_eq!(
        pid_of(&c, Protocol::Tcp, "10.0.0.1:40001", "10.0.0.2:80", t0),
        None
    );
    c.tell(
        &event(Protocol::Tcp, "10.0.0.1:40000", "10.0.0.2:80", 8),
        t0,
    );
    assert_eq!(
        pid_of(&c, Protocol::Tcp, "10.0.0.1:40000", "10.0.0.2:80", t0),
        Some(8)
    );
    assert_eq!(c.len(), 1);
}

#[test]
fn ipv4_mapped_addresses_match_ipv4_flows() {
    let t0 = Instant::now();
    let mut c = cache();
    c.tell(
        &event(
            Protocol::Tcp,
            "[::ffff:10.0.0.1]:40000",
            "[::ffff:10.0.0.2]:80",
            7,
        ),
        t0,
    );
    let key = FlowKey {
        proto: Protocol::Tcp,
        local_ip: "10.0.0.1".parse().expect("ip"),
        local_port: 40000,
        remote_ip: "10.0.0.2".parse().expect("ip"),
        remote_port: 80,
    };
    assert_eq!(c.find_flow(&key, t0).map(|o| o.pid), Some(7));
}

#[test]
fn unconnected_udp_matches_by_port_exact_address_before_wildcard() {
    let t0 = Instant::now();
    let mut c = cache();
    c.tell(&event(Protocol::Udp, "0.0.0.0:5353", "0.0.0.0:0", 1), t0);
    c.tell(&event(Protocol::Udp, "10.0.0.1:5353", "0.0.0.0:0", 2), t0);
    assert_eq!(
        pid_of(&c, Protocol::Udp, "10.0.0.1:5353", "8.8.8.8:53", t0),
        Some(2)
    );
    assert_eq!(
        pid_of(&c, Protocol::Udp, "10.0.0.9:5353", "8.8.8.8:53", t0),
        Some(1)
    );
    assert_eq!(
        pid_of(&c, Protocol::Udp, "10.0.0.9:5354", "8.8.8.8:53", t0),
        None
    );
    // A v6 wildcard takes IPv4 too; a v4 wildcard does not take IPv6.
    c.tell(&event(Protocol::Udp, "[::]:6000", "[::]:0", 3), t0);
    c.tell(&event(Protocol::Udp, "0.0.0.0:6001", "0.0.0.0:0", 4), t0);
    assert_eq!(
        pid_of(&c, Protocol::Udp, "10.0.0.1:6000", "10.0.0.2:1", t0),
        Some(3)
    );
    assert_eq!(
        pid_of(&c, Protocol::Udp, "[fd00::1]:6001", "[fd00::2]:1", t0),
        None
    );
    // An exact tuple beats the bound socket on its port.
    c.tell(&event(Protocol::Udp, "10.0.0.1:5353", "8.8.8.8:53", 5), t0);
    assert_eq!(
        pid_of(&c, Protocol::Udp, "10.0.0.1:5353", "8.8.8.8:53", t0),
        Some(5)
    );
}

#[test]
fn other_namespaces_match_by_address_not_by_wildcard_and_their_loopback_is_dropped() {
    let t0 = Instant::now();
    let mut c = cache();
    let mut foreign = event(Protocol::Udp, "0.0.0.0:53", "0.0.0.0:0", 1);
    foreign.netns = OTHER;
    c.tell(&foreign, t0);
    assert_eq!(
        pid_of(&c, Protocol::Udp, "10.0.0.1:53", "10.0.0.2:999", t0),
        None
    );
    let mut foreign = event(Protocol::Udp, "10.9.0.2:53", "0.0.0.0:0", 2);
    foreign.netns = OTHER;
    c.tell(&foreign, t0);
    assert_eq!(
        pid_of(&c, Protocol::Udp, "10.9.0.2:53", "10.9.0.1:999", t0),
        Some(2)
    );
    let mut lo = event(Protocol::Tcp, "127.0.0.1:1000", "127.0.0.1:2000", 3);
    lo.netns = OTHER;
    c.tell(&lo, t0);
    assert_eq!(
        pid_of(&c, Protocol::Tcp, "127.0.0.1:1000", "127.0.0.1:2000", t0),
        None
    );
    let mut tcp = event(Protocol::Tcp, "10.9.0.2:1000", "10.9.0.1:2000", 4);
    tcp.netns = OTHER;
    c.tell(&tcp, t0);
    assert_eq!(
        pid_of(&c, Protocol::Tcp, "10.9.0.2:1000", "10.9.0.1:2000", t0),
        Some(4)
    );
}

#[test]
fn owners_age_out_after_the_limit() {
    let t0 = Instant::now();
    let mut c = cache();
    c.tell(&event(Protocol::Tcp, "10.0.0.1:1", "10.0.0.2:2", 7), t0);
    c.tell(&event(Protocol::Udp, "0.0.0.0:3", "0.0.0.0:0", 8), t0);
    let later = t0 + DEFAULT_MAX_AGE;
    assert_eq!(
        pid_of(&c, Protocol::Tcp, "10.0.0.1:1", "10.0.0.2:2", later),
        Some(7)
    );
    let too_late = later + Duration::from_millis(1);
    assert_eq!(
        pid_of(&c, Protocol::Tcp, "10.0.0.1:1", "10.0.0.2:2", too_late),
        None
    );
    assert_eq!(
        pid_of(&c, Protocol::Udp, "10.0.0.1:3", "10.0.0.2:2", too_late),
        None
    );
    assert_eq!(c.entries(too_late).count(), 0);
    assert_eq!(c.len(), 2);
    c.expire(too_late);
    assert!(c.is_empty());
}

#[test]
fn a_full_cache_drops_its_oldest_entries_first() {
    let t0 = Instant::now();
    let mut c = OwnerCache::new(100, DEFAULT_MAX_AGE);
    for i in 0..100u16 {
        let local = format!("10.0.0.1:{}", 1000 + i);
        let at = t0 + Duration::from_millis(u64::from(i));
        c.tell(
            &event(Protocol::Tcp, &local, "10.0.0.2:80", u32::from(i)),
            at,
        );
    }
    assert_eq!(c.len(), 100);
    let now = t0 + Duration::from_secs(1);
    c.tell(
        &event(Protocol::Tcp, "10.0.0.1:9999", "10.0.0.2:80", 999),
        now,
    );
    assert!(c.len() <= 100, "{} entries", c.len());
    assert_eq!(
        pid_of(&c, Protocol::Tcp, "10.0.0.1:9999", "10.0.0.2:80", now),
        Some(999)
    );
    assert_eq!(
        pid_of(&c, Protocol::Tcp, "10.0.0.1:1099", "10.0.0.2:80", now),
        Some(99)
    );
    assert_eq!(
        pid_of(&c, Protocol::Tcp, "10.0.0.1:1000", "10.0.0.2:80", now),
        None
    );
}

#[test]
fn bound_sockets_per_port_are_capped() {
    let t0 = Instant::now();
    let mut c = cache();
    for i in 0..20u8 {
        let local = format!("10.0.1.{i}:53");
        c.tell(
            &event(Protocol::Udp, &local, "0.0.0.0:0", u32::from(i)),
            t0 + Duration::from_millis(u64::from(i)),
        );
    }
    assert!(c.len() <= 8);
    let now = t0 + Duration::from_secs(1);
    assert_eq!(
        pid_of(&c, Protocol::Udp, "10.0.1.19:53", "1.1.1.1:9", now),
        Some(19)
    );
    assert_eq!(
        pid_of(&c, Protocol::Udp, "10.0.1.0:53", "1.1.1.1:9", now),
        None
    );
}

#[test]
fn entries_list_connected_and_unconnected_owners() {
    let t0 = Instant::now();
    let mut c = cache();
    c.tell(&event(Protocol::Tcp, "10.0.0.1:1", "10.0.0.2:2", 7), t0);
    c.tell(&event(Protocol::Udp, "[::]:3", "[::]:0", 8), t0);
    let mut listed: Vec<_> = c
        .entries(t0)
        .map(|(proto, local, remote, o)| (proto, local, remote, o.pid))
        .collect();
    listed.sort_by_key(|e| e.3);
    assert_eq!(
        listed,
        [
            (Protocol::Tcp, addr("10.0.0.1:1"), addr("10.0.0.2:2"), 7),
            (Protocol::Udp, addr("[::]:3"), addr("[::]:0"), 8),
        ]
    );
}

#[test]
fn insert_says_when_a_socket_changed_hands() {
    let t0 = Instant::now();
    let mut c = cache();
    let first = event(Protocol::Tcp, "10.0.0.1:40000", "10.0.0.2:80", 7);
    assert!(!c.tell(&first, t0), "a new socket is not a change");
    assert!(!c.tell(&first, t0), "the same owner again is not a change");
    let child = event(Protocol::Tcp, "10.0.0.1:40000", "10.0.0.2:80", 8);
    assert!(c.tell(&child, t0), "another process: changed hands");
    let bound = event(Protocol::Udp, "0.0.0.0:5353", "0.0.0.0:0", 7);
    assert!(!c.tell(&bound, t0));
    let bound_child = event(Protocol::Udp, "0.0.0.0:5353", "0.0.0.0:0", 9);
    assert!(c.tell(&bound_child, t0), "a bound socket changes hands too");
}

fn owner(pid: u32, seen: Instant) -> CachedOwner {
    CachedOwner {
        pid,
        comm: format!("p{pid}"),
        uid: 1000,
        netns: OTHER,
        seen,
    }
}

#[test]
fn cookies_are_found_in_any_namespace_and_a_later_owner_is_a_change_of_hands() {
    let t0 = Instant::now();
    let mut c = cache();
    assert!(
        !c.insert_cookie(77, &owner(7, t0)),
        "a new cookie is no change"
    );
    assert!(
        !c.insert_cookie(77, &owner(7, t0)),
        "nor the same owner again"
    );
    assert_eq!(c.find_cookie(77, t0).map(|o| o.pid), Some(7));
    assert_eq!(c.find_cookie(78, t0), None);
    assert!(
        c.insert_cookie(77, &owner(8, t0)),
        "another process: changed hands"
    );
    assert_eq!(c.find_cookie(77, t0), Some(owner(8, t0)), "all of it kept");
    // A command made wider by invalid UTF-8 is cut at a character.
    let mut wide = owner(9, t0);
    wide.comm = "\u{fffd}".repeat(6);
    c.insert_cookie(78, &wide);
    assert_eq!(
        c.find_cookie(78, t0).map(|o| o.comm),
        Some("\u{fffd}".repeat(5))
    );
    // Tuples and cookies are separate indexes.
    assert!(c.is_empty());
    assert_eq!(c.cookies_len(), 2);
}

#[test]
fn cookies_age_and_are_bounded_like_tuples() {
    let t0 = Instant::now();
    let mut c = OwnerCache::new(8, DEFAULT_MAX_AGE);
    c.insert_cookie(1, &owner(1, t0));
    let later = t0 + DEFAULT_MAX_AGE + Duration::from_secs(1);
    assert_eq!(c.find_cookie(1, later), None, "too old to answer");
    c.expire(later);
    assert_eq!(c.cookies_len(), 0, "expired with the tuples");
    for i in 0..100u64 {
        c.insert_cookie(i, &owner(2, t0 + Duration::from_millis(i)));
    }
    assert!(c.cookies_len() <= 2, "a quarter of 8: {}", c.cookies_len());
    let newest = t0 + Duration::from_millis(99);
    assert_eq!(
        c.find_cookie(99, newest).map(|o| o.pid),
        Some(2),
        "the newest stays"
    );
    assert_eq!(c.find_cookie(0, newest), None, "the oldest went first");
}

#[test]
fn the_cookie_index_gives_back_the_room_a_wave_of_sockets_took() {
    let t0 = Instant::now();
    let mut c = cache();
    for cookie in 0..10_000 {
        c.insert_cookie(cookie, &owner(100, t0));
    }
    let room = c.cookies.capacity();
    let later = t0 + DEFAULT_MAX_AGE + Duration::from_secs(1);
    c.insert_cookie(1 << 40, &owner(7, later));
    c.expire(later);
    assert_eq!(c.cookies_len(), 1, "only the fresh one is kept");
    assert!(
        c.cookies.capacity() < room / 4,
        "room given back: {} of {room}",
        c.cookies.capacity()
    );
}

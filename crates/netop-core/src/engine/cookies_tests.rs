//! Owners by socket cookie: fake kernel deltas carrying cookies, a fake
//! resolver answering by cookie, and the tuple search as the fallback.

use std::net::IpAddr;
use std::time::Duration;

use crate::clock::SystemClock;
use crate::delta::{DeltaTuple, FlowDelta, SeenFlags};
use crate::engine::{Engine, EngineConfig, EngineReport};
use crate::flow::Protocol;
use crate::interfaces::InterfaceInfo;
use crate::socket::{ProcessInfo, SocketResolver};
use crate::testing::{socket, StaticResolver};

use super::MAX_ASKS;

const ME: &str = "192.0.2.10";
const COOKIE: u64 = 0x1000_0000_0042;

fn engine() -> Engine {
    let mut e = Engine::new(EngineConfig::default());
    e.set_interfaces(&[InterfaceInfo {
        index: 2,
        name: "eth0".into(),
        up: true,
        addrs: vec![ME.parse::<IpAddr>().expect("ip")],
        ..Default::default()
    }]);
    e
}

fn at(ms: u64) -> Duration {
    Duration::from_millis(1_700_000_000_000 + ms)
}

fn process(pid: u32, name: &str) -> ProcessInfo {
    ProcessInfo {
        pid,
        name: name.into(),
        user: "alice".into(),
        ..ProcessInfo::default()
    }
}

/// 1,000 bytes in 10 packets that `ME:local_port` sent to `remote_port`
/// at `ms`, from the socket `cookie`.
fn sent(
    proto: Protocol,
    local_port: u16,
    remote_port: u16,
    cookie: Option<u64>,
    ms: u64,
) -> FlowDelta {
    FlowDelta {
        ifindex: 2,
        outgoing: true,
        tuple: Some(DeltaTuple {
            proto,
            src: ME.parse().expect("ip"),
            src_port: local_port,
            dst: "198.51.100.1".parse().expect("ip"),
            dst_port: remote_port,
        }),
        bytes: 1_000,
        packets: 10,
        first_seen: at(ms),
        last_seen: at(ms + 50),
        tcp: SeenFlags::default(),
        cookie,
    }
}

/// One turn of the capture loop (`netop-lib/src/collect.rs`): changes of
/// hands and cookies, a batch, the queued searches.
fn batch(e: &mut Engine, r: &mut StaticResolver, deltas: Vec<FlowDelta>) {
    e.update_owners(r);
    let mut deltas = deltas;
    e.ingest_deltas(&mut deltas);
    if e.pending_lookups() > 0 {
        e.resolve_pending(r, &SystemClock, Duration::MAX);
    }
}

fn tx_of(report: &EngineReport, pid: u32) -> u64 {
    report
        .processes
        .iter()
        .find(|p| p.pid == Some(pid))
        .map_or(0, |p| p.counters.tx_bytes)
}

#[test]
fn a_flow_nobody_else_knows_gets_its_owner_from_the_cookie_index() {
    // No socket table and no lookup knows the tuple: only the cookie does.
    let mut r = StaticResolver::new(vec![]);
    r.cookies = vec![(COOKIE, process(30, "sender"))];
    let mut e = engine();
    batch(
        &mut e,
        &mut r,
        vec![sent(Protocol::Tcp, 40000, 443, Some(COOKIE), 0)],
    );
    let report = e.report();
    assert_eq!(
        tx_of(&report, 30),
        1_000,
        "the first batch's bytes moved to it"
    );
    let unknown: u64 = report
        .processes
        .iter()
        .filter(|p| p.pid.is_none())
        .map(|p| p.counters.tx_bytes)
        .sum();
    assert_eq!(unknown, 0);
    assert_eq!(r.lookups, 0, "no tuple search ran");
    assert_eq!(r.cookies_asked, vec![COOKIE]);
    assert_eq!(e.stats().cookie_owners, 1);
    // Known from now on: credited at once, not asked again.
    batch(
        &mut e,
        &mut r,
        vec![sent(Protocol::Tcp, 40000, 443, Some(COOKIE), 100)],
    );
    batch(&mut e, &mut r, vec![]);
    assert_eq!(tx_of(&e.report(), 30), 2_000);
    assert_eq!(r.cookies_asked, vec![COOKIE]);
    assert_eq!((r.lookups, e.stats().cookie_owners), (0, 1));
}

#[test]
fn the_cookie_beats_a_stale_tuple_owner_and_follows_changes_of_hands() {
    // The socket table says the parent; the socket is the child's now.
    let local = format!("{ME}:40000");
    let mut r = StaticResolver::new(vec![socket(
        Protocol::Tcp,
        &local,
        "198.51.100.1:443",
        10,
        "parent",
    )]);
    r.cookies = vec![(COOKIE, process(11, "child"))];
    let mut e = engine();
    e.refresh(r.sockets().expect("table"));
    // A flow first seen with a cookie waits for the cookie's answer
    // rather than take the table's.
    let mut fresh = engine();
    fresh.refresh(r.sockets().expect("table"));
    batch(
        &mut fresh,
        &mut r,
        vec![sent(Protocol::Tcp, 40000, 443, Some(COOKIE), 0)],
    );
    let report = fresh.report();
    assert_eq!((tx_of(&report, 10), tx_of(&report, 11)), (0, 1_000));
    assert_eq!(r.lookups, 0);
    // A flow the table placed before any cookie came (its first packets
    // were received) is handed to the cookie's owner.
    let mut received = sent(Protocol::Tcp, 40000, 443, None, 0);
    received.outgoing = false;
    if let Some(t) = received.tuple.as_mut() {
        std::mem::swap(&mut t.src, &mut t.dst);
        std::mem::swap(&mut t.src_port, &mut t.dst_port);
    }
    batch(&mut e, &mut r, vec![received]);
    let rx_of = |report: &EngineReport, pid: u32| {
        report
            .processes
            .iter()
            .find(|p| p.pid == Some(pid))
            .map_or(0, |p| p.counters.rx_bytes)
    };
    assert_eq!(rx_of(&e.report(), 10), 1_000, "the table's owner");
    batch(
        &mut e,
        &mut r,
        vec![sent(Protocol::Tcp, 40000, 443, Some(COOKIE), 100)],
    );
    batch(
        &mut e,
        &mut r,
        vec![sent(Protocol::Tcp, 40000, 443, Some(COOKIE), 150)],
    );
    let report = e.report();
    assert_eq!(rx_of(&report, 10), 1_000, "the parent keeps what it had");
    assert_eq!(
        tx_of(&report, 10),
        1_000,
        "and the batch counted before the cookie's answer came"
    );
    assert_eq!(
        tx_of(&report, 11),
        1_000,
        "the cookie's owner gets the rest"
    );
    assert_eq!(e.stats().handovers, 1);
    // The socket passes on; the resolver reports the cookie unasked.
    r.cookie_changes = vec![(COOKIE, process(12, "grandchild"))];
    batch(
        &mut e,
        &mut r,
        vec![sent(Protocol::Tcp, 40000, 443, Some(COOKIE), 200)],
    );
    let report = e.report();
    assert_eq!(tx_of(&report, 11), 1_000);
    assert_eq!(tx_of(&report, 12), 1_000);
    assert_eq!(e.stats().cookie_owners, 2);
    assert_eq!(e.stats().handovers, 2);
    // A tuple-based change of hands that contradicts the cookie is
    // overruled by the next delta's cookie.
    r.changes = vec![socket(
        Protocol::Tcp,
        &local,
        "198.51.100.1:443",
        10,
        "parent",
    )];
    batch(
        &mut e,
        &mut r,
        vec![sent(Protocol::Tcp, 40000, 443, Some(COOKIE), 300)],
    );
    assert_eq!(tx_of(&e.report(), 12), 2_000);
    assert_eq!(tx_of(&e.report(), 10), 1_000);
}

#[test]
fn sockets_sharing_a_port_are_told_apart_by_their_cookies() {
    // SO_REUSEPORT: two processes' UDP sockets bound to one port; by
    // tuple both flows match the first wildcard bind.
    let mut r = StaticResolver::new(vec![
        socket(
            Protocol::Udp,
            &format!("{ME}:5000"),
            "0.0.0.0:0",
            20,
            "first",
        ),
        socket(
            Protocol::Udp,
            &format!("{ME}:5000"),
            "0.0.0.0:0",
            21,
            "second",
        ),
    ]);
    r.cookies = vec![(1, process(20, "first")), (2, process(21, "second"))];
    let mut e = engine();
    e.refresh(r.sockets().expect("table"));
    for ms in [0, 100, 200] {
        batch(
            &mut e,
            &mut r,
            vec![
                sent(Protocol::Udp, 5000, 7001, Some(1), ms),
                sent(Protocol::Udp, 5000, 7002, Some(2), ms),
            ],
        );
    }
    let report = e.report();
    // Neither flow took the table's answer (the same socket for both):
    // each waited for its cookie's.
    assert_eq!(tx_of(&report, 20), 3_000, "{:?}", report.processes);
    assert_eq!(tx_of(&report, 21), 3_000, "{:?}", report.processes);
    assert_eq!(e.stats().cookie_owners, 2);
}

#[test]
fn an_unknown_cookie_falls_back_to_the_tuple_search_and_is_asked_a_few_times() {
    // Only an exact lookup knows this socket; the cookie index does not.
    let mut r = StaticResolver {
        live: vec![socket(
            Protocol::Tcp,
            &format!("{ME}:40000"),
            "198.51.100.1:443",
            42,
            "curl",
        )],
        ..StaticResolver::default()
    };
    let mut e = engine();
    for i in 0..(u64::from(MAX_ASKS) + 3) {
        batch(
            &mut e,
            &mut r,
            vec![sent(Protocol::Tcp, 40000, 443, Some(COOKIE), i * 100)],
        );
    }
    let report = e.report();
    assert_eq!(tx_of(&report, 42), 1_000 * (u64::from(MAX_ASKS) + 3));
    assert_eq!(r.lookups, 1, "the tuple search found it");
    assert_eq!(e.stats().cookie_owners, 0);
    assert_eq!(
        r.cookies_asked.len(),
        usize::from(MAX_ASKS),
        "asked, then left alone"
    );
}

#[test]
fn deltas_without_cookies_or_received_ask_nothing() {
    let mut r = StaticResolver::new(vec![socket(
        Protocol::Tcp,
        &format!("{ME}:40000"),
        "198.51.100.1:443",
        42,
        "curl",
    )]);
    let mut e = engine();
    e.refresh(r.sockets().expect("table"));
    let mut received = sent(Protocol::Tcp, 40000, 443, Some(COOKIE), 0);
    received.outgoing = false;
    if let Some(t) = received.tuple.as_mut() {
        std::mem::swap(&mut t.src, &mut t.dst);
        std::mem::swap(&mut t.src_port, &mut t.dst_port);
    }
    batch(
        &mut e,
        &mut r,
        vec![sent(Protocol::Tcp, 40000, 443, None, 0), received],
    );
    batch(&mut e, &mut r, vec![]);
    assert!(r.cookies_asked.is_empty());
    let report = e.report();
    assert_eq!(tx_of(&report, 42), 1_000);
    assert_eq!(e.stats().cookie_owners, 0);
}

#[test]
fn the_memo_forgets_the_cookies_of_forgotten_processes_and_gives_back_its_room() {
    // A wave of short-lived senders, each known by its socket's cookie.
    const WAVE: u32 = 4_000;
    let cookie = |i: u32| COOKIE + u64::from(i);
    let mut r = StaticResolver::new(vec![]);
    r.cookies = (0..WAVE)
        .map(|i| (cookie(i), process(1_000 + i, "short")))
        .collect();
    let mut e = Engine::new(EngineConfig {
        forget_exited_after: Some(Duration::from_secs(60)),
        ..EngineConfig::default()
    });
    e.set_interfaces(&engine().host_interfaces);
    let deltas = (0..WAVE)
        .map(|i| sent(Protocol::Udp, 20_000 + i as u16, 53, Some(cookie(i)), 0))
        .collect();
    batch(&mut e, &mut r, deltas);
    assert_eq!(e.cookies.known.len(), WAVE as usize);
    let room = e.cookies.known.capacity();
    // A cookie no answer came for is counted.
    batch(
        &mut e,
        &mut r,
        vec![sent(Protocol::Udp, 60_000, 53, Some(7), 0)],
    );
    assert_eq!(e.cookies.unanswered.len(), 1);

    // They exit; the lifecycle marks them, then forgets them.
    r.exited = (0..WAVE).map(|i| 1_000 + i).collect();
    e.age_processes(at(10_000), &mut r);
    e.age_processes(at(80_000), &mut r);
    assert_eq!(e.stats().processes_forgotten, u64::from(WAVE));
    assert!(
        e.cookies.known.is_empty(),
        "no cookie of a forgotten process"
    );
    assert!(e.cookies.unanswered.is_empty());
    assert!(
        e.cookies.known.capacity() < room / 4,
        "the room is given back: {} of {room}",
        e.cookies.known.capacity()
    );
}

#[test]
fn a_kept_processs_cookie_stays_known_when_others_are_forgotten() {
    let mut r = StaticResolver::new(vec![]);
    r.cookies = vec![
        (COOKIE, process(30, "daemon")),
        (COOKIE + 1, process(31, "short")),
    ];
    let mut e = Engine::new(EngineConfig {
        forget_exited_after: Some(Duration::from_secs(60)),
        ..EngineConfig::default()
    });
    e.set_interfaces(&engine().host_interfaces);
    batch(
        &mut e,
        &mut r,
        vec![
            sent(Protocol::Tcp, 40000, 443, Some(COOKIE), 0),
            sent(Protocol::Tcp, 40001, 443, Some(COOKIE + 1), 0),
        ],
    );
    r.exited = vec![31];
    e.age_processes(at(10_000), &mut r);
    e.age_processes(at(80_000), &mut r);
    assert_eq!(e.stats().processes_forgotten, 1);
    assert_eq!(e.cookies.known.len(), 1);
    // Still credited at once, without asking.
    let asked = r.cookies_asked.len();
    batch(
        &mut e,
        &mut r,
        vec![sent(Protocol::Tcp, 40000, 443, Some(COOKIE), 90_000)],
    );
    assert_eq!(r.cookies_asked.len(), asked);
    assert_eq!(tx_of(&e.report(), 30), 2_000);
}

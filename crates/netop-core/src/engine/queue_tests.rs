//! The owner-search queue: nothing searched on the packet path, searches
//! within the budget between batches, oldest first, bounded.

use std::net::IpAddr;
use std::time::Duration;

use crate::clock::Clock;
use crate::engine::{Engine, EngineConfig, SearchPacer};
use crate::flow::{FlowKey, Protocol};
use crate::interfaces::InterfaceInfo;
use crate::socket::{ResolveError, SocketEntry, SocketResolver, SocketTable};
use crate::testing::{socket, FakeClock, PacketSpec, StaticResolver};

fn engine() -> Engine {
    let mut e = Engine::new(EngineConfig::default());
    e.set_interfaces(&[InterfaceInfo {
        index: 2,
        name: "eth0".into(),
        up: true,
        addrs: vec!["192.0.2.10".parse::<IpAddr>().expect("ip")],
        ..Default::default()
    }]);
    e
}

fn at(ms: u64) -> Duration {
    Duration::from_millis(1_700_000_000_000 + ms)
}

fn local(port: u16) -> String {
    format!("192.0.2.10:{port}")
}

const REMOTE: &str = "198.51.100.1:443";

/// A resolver whose every lookup takes `cost` on the fake clock.
struct Slow {
    inner: StaticResolver,
    clock: FakeClock,
    cost: Duration,
    asked: Vec<u16>,
}

impl SocketResolver for Slow {
    fn sockets(&mut self) -> Result<SocketTable, ResolveError> {
        self.inner.sockets()
    }

    fn lookup(&mut self, key: &FlowKey) -> Result<Option<SocketEntry>, ResolveError> {
        self.clock.advance(self.cost);
        self.asked.push(key.local_port);
        self.inner.lookup(key)
    }
}

/// One outgoing packet from local port `port` at `ms`.
fn send(e: &mut Engine, port: u16, ms: u64) {
    let f = PacketSpec::tcp(&local(port), REMOTE, 100).sll2(at(ms), 2, true, 128);
    e.ingest(&f.as_frame());
}

fn tx_of(e: &Engine, pid: Option<u32>) -> u64 {
    e.report()
        .processes
        .iter()
        .find(|p| p.pid == pid)
        .map_or(0, |p| p.counters.tx_bytes)
}

fn slow(ports: std::ops::Range<u16>, cost_ms: u64) -> Slow {
    let sockets = ports
        .map(|p| socket(Protocol::Tcp, &local(p), REMOTE, u32::from(p), "client"))
        .collect();
    Slow {
        // Lookups find them; no table has them.
        inner: StaticResolver {
            live: sockets,
            ..StaticResolver::default()
        },
        clock: FakeClock::default(),
        cost: Duration::from_millis(cost_ms),
        asked: Vec::new(),
    }
}

#[test]
fn the_packet_path_searches_nothing_and_the_bytes_wait_as_unknown() {
    let mut e = engine();
    let mut r = slow(40000..40001, 1);
    send(&mut e, 40000, 0);
    send(&mut e, 40000, 1);
    assert!(r.asked.is_empty());
    assert_eq!(e.pending_lookups(), 1, "one flow queued once");
    let waiting = tx_of(&e, None);
    assert!(waiting > 0);
    let clock = r.clock.clone();
    let done = e.resolve_pending(&mut r, &clock, Duration::from_millis(5));
    assert_eq!(
        (done.searched, done.found, done.left, done.took),
        (1, 1, 0, Duration::from_millis(1))
    );
    assert_eq!(r.asked, vec![40000]);
    assert_eq!((tx_of(&e, Some(40000)), tx_of(&e, None)), (waiting, 0));
}

#[test]
fn searches_stop_when_the_budget_is_spent_and_resume_oldest_first() {
    let mut e = engine();
    let mut r = slow(41000..41010, 1);
    for (i, port) in (41000..41010).enumerate() {
        send(&mut e, port, i as u64);
    }
    let clock = r.clock.clone();
    // 1 ms a search, 3 ms of budget: three searches, seven left.
    let first = e.resolve_pending(&mut r, &clock, Duration::from_millis(3));
    assert_eq!((first.searched, first.found, first.left), (3, 3, 7));
    assert_eq!(r.asked, vec![41000, 41001, 41002]);
    let rest = e.resolve_pending(&mut r, &clock, Duration::from_millis(100));
    assert_eq!((rest.searched, rest.left), (7, 0));
    assert_eq!(r.asked, (41000..41010).collect::<Vec<_>>());
    for port in 41000u16..41010 {
        assert!(tx_of(&e, Some(u32::from(port))) > 0, "port {port}");
    }
    assert_eq!(tx_of(&e, None), 0);
}

#[test]
fn a_search_slower_than_the_budget_still_moves_the_queue() {
    let mut e = engine();
    let mut r = slow(42000..42002, 50);
    send(&mut e, 42000, 0);
    send(&mut e, 42001, 1);
    let clock = r.clock.clone();
    let done = e.resolve_pending(&mut r, &clock, Duration::from_millis(1));
    assert_eq!((done.searched, done.left), (1, 1));
}

#[test]
fn a_flood_of_new_flows_fills_the_queue_only_to_its_bound() {
    let mut e = engine();
    let flows = super::MAX_QUEUED + 100;
    for i in 0..flows {
        let port = 1024 + (i % 60_000) as u16;
        let host = 1 + i / 60_000;
        let f = PacketSpec::tcp(&local(port), &format!("198.51.100.{host}:80"), 0).sll2(
            at(i as u64),
            2,
            true,
            128,
        );
        e.ingest(&f.as_frame());
    }
    assert_eq!(e.pending_lookups(), super::MAX_QUEUED);
    assert_eq!(e.lookups_overflowed(), 100);
    assert_eq!(e.flow_count(), flows);
    // Those not queued are searched on a later packet.
    let mut r = StaticResolver::default();
    let clock = FakeClock::default();
    e.resolve_pending(&mut r, &clock, Duration::MAX);
    assert_eq!(r.lookups, super::MAX_QUEUED);
}

#[test]
fn a_flow_the_table_explains_is_never_queued() {
    let mut e = engine();
    let mut r = StaticResolver::new(vec![socket(
        Protocol::Tcp,
        &local(43000),
        REMOTE,
        7,
        "known",
    )]);
    e.refresh(r.sockets().expect("table"));
    send(&mut e, 43000, 0);
    assert_eq!(e.pending_lookups(), 0);
    assert!(tx_of(&e, Some(7)) > 0);
}

#[test]
fn a_failed_search_is_queued_again_on_a_later_packet_up_to_the_limit() {
    let mut e = engine();
    let mut r = StaticResolver::default();
    let clock = FakeClock::default();
    for i in 0..10 {
        send(&mut e, 44000, i * 100);
        e.resolve_pending(&mut r, &clock, Duration::MAX);
    }
    assert_eq!(r.lookups, usize::from(crate::engine::MAX_TRIES));
}

#[test]
fn the_pacer_gives_searches_a_share_of_the_time_and_saves_up_a_little() {
    let clock = FakeClock::default();
    let mut pacer = SearchPacer::new(0.25, Duration::from_millis(4));
    // Idle: the whole saving at once.
    assert_eq!(pacer.budget(clock.now()), Duration::from_millis(4));
    pacer.spent(Duration::from_millis(4));
    // Busy: 10 ms of capture earn 2.5 ms of searches.
    clock.advance(Duration::from_millis(10));
    assert_eq!(pacer.budget(clock.now()), Duration::from_micros(2500));
    pacer.spent(Duration::from_millis(3));
    assert_eq!(pacer.budget(clock.now()), Duration::ZERO);
    // A long pause saves no more than the most.
    clock.advance(Duration::from_secs(60));
    assert_eq!(pacer.budget(clock.now()), Duration::from_millis(4));
}

/// Puts `n` outgoing flows (no owner known yet) in the search queue.
fn back_up_the_queue(e: &mut Engine, n: usize) {
    for i in 0..n {
        let f = PacketSpec::tcp(&local(50_000 + i as u16), REMOTE, 0).sll2(at(0), 2, true, 128);
        e.ingest(&f.as_frame());
    }
}

#[test]
fn under_pressure_a_flow_to_a_port_a_fresh_table_shows_closed_is_not_searched() {
    let mut e = engine();
    let mut r = StaticResolver::new(Vec::new());
    let clock = FakeClock::default();
    let probe = |e: &mut Engine, port: u16, ms: u64| {
        let f = PacketSpec::tcp("198.51.100.9:40000", &local(port), 0).sll2(at(ms), 2, false, 128);
        e.ingest(&f.as_frame());
    };
    e.refresh(r.sockets().expect("table"));
    // No pressure: a closed port cannot be told from a published one
    // (DNAT) without asking, so it is searched.
    probe(&mut e, 9, 0);
    assert_eq!(e.pending_lookups(), 1);
    e.resolve_pending(&mut r, &clock, Duration::MAX);
    assert_eq!(r.lookups, 1);
    // The queue backs up: probes of closed ports wait for no search.
    back_up_the_queue(&mut e, super::super::SEARCH_PRESSURE);
    let waiting = e.pending_lookups();
    probe(&mut e, 10, 100);
    probe(&mut e, 11, 200);
    assert_eq!(e.pending_lookups(), waiting);
    // Three seconds on, the table is stale: searched again.
    probe(&mut e, 12, 3_500);
    assert_eq!(e.pending_lookups(), waiting + 1);
}

#[test]
fn under_pressure_a_reset_from_a_closed_port_is_not_searched_either() {
    let mut e = engine();
    let r = StaticResolver::new(Vec::new());
    e.refresh(SocketTable::new(r.dump.clone()));
    back_up_the_queue(&mut e, super::super::SEARCH_PRESSURE);
    let waiting = e.pending_lookups();
    let mut rst = PacketSpec::tcp(&local(7), "198.51.100.9:40000", 0);
    rst.rst = true;
    e.ingest(&rst.sll2(at(0), 2, true, 128).as_frame());
    assert_eq!(e.pending_lookups(), waiting);
    let report = e.report();
    let unknown = report
        .processes
        .iter()
        .find(|p| p.pid.is_none())
        .expect("unknown");
    assert!(
        unknown
            .reasons
            .iter()
            .any(|(why, c)| *why == crate::unknown::UnknownReason::NoListener && c.tx_packets == 1),
        "{:?}",
        unknown.reasons
    );
}

#[test]
fn under_a_flood_of_probes_to_closed_ports_the_flow_table_stays_bounded() {
    let mut e = engine();
    let r = StaticResolver::new(Vec::new());
    e.refresh(SocketTable::new(r.dump.clone()));
    let limit = super::super::PROBES_KEPT_UNTIL;
    let probes = limit + 1000;
    for i in 0..probes {
        let port = 1 + (i % 60_000) as u16;
        let host = 1 + i / 60_000;
        let spec = PacketSpec::tcp(&format!("198.51.100.{host}:40000"), &local(port), 0);
        let f = spec.sll2(at(i as u64 / 100), 2, false, 128);
        e.ingest(&f.as_frame());
    }
    assert_eq!(e.flow_count(), limit);
    assert_eq!(e.stats().probes_without_flow, 1000);
    // Searched until the queue backed up, then no more.
    assert_eq!(e.pending_lookups(), super::super::SEARCH_PRESSURE);
    let report = e.report();
    let unknown = report
        .processes
        .iter()
        .find(|p| p.pid.is_none())
        .map_or(0, |p| p.counters.rx_bytes);
    let wire = report
        .interfaces
        .iter()
        .find(|i| i.index == 2)
        .map_or(0, |i| i.counters.rx_bytes);
    assert!(wire > 0);
    assert_eq!(unknown, wire, "every probe's bytes still count");
}

/// Finds every UDP flow's socket: unconnected, of one sender.
struct Unconnected;

impl SocketResolver for Unconnected {
    fn sockets(&mut self) -> Result<SocketTable, ResolveError> {
        Ok(SocketTable::default())
    }

    fn lookup(&mut self, key: &FlowKey) -> Result<Option<SocketEntry>, ResolveError> {
        let local = std::net::SocketAddr::new(key.local_ip, key.local_port).to_string();
        Ok(Some(socket(
            Protocol::Udp,
            &local,
            "0.0.0.0:0",
            7,
            "sender",
        )))
    }
}

/// Answers for unconnected sockets join the table (a later flow of the
/// same socket needs no search), but one table takes only so many: 5,000
/// short-lived UDP sockets with one flow each leave at most
/// `UNCONNECTED_ANSWERS_KEPT` answers, every flow is still credited, and
/// a fresh table starts the count again.
#[test]
fn one_table_keeps_a_bounded_number_of_unconnected_answers() {
    use crate::engine::UNCONNECTED_ANSWERS_KEPT;
    let mut e = Engine::new(EngineConfig {
        keep_answers: false,
        ..EngineConfig::default()
    });
    e.set_interfaces(&[InterfaceInfo {
        index: 2,
        name: "eth0".into(),
        up: true,
        addrs: vec!["192.0.2.10".parse::<IpAddr>().expect("ip")],
        ..Default::default()
    }]);
    let clock = FakeClock::default();
    let send_from = |e: &mut Engine, port: u16, ms: u64| {
        let f = PacketSpec::udp(&local(port), REMOTE, 36).sll2(at(ms), 2, true, 128);
        e.ingest(&f.as_frame());
        e.resolve_pending(&mut Unconnected, &clock, Duration::from_millis(5));
    };
    for (i, port) in (30_000..35_000u16).enumerate() {
        send_from(&mut e, port, i as u64);
    }
    assert_eq!(e.socket_count(), UNCONNECTED_ANSWERS_KEPT);
    assert_eq!(tx_of(&e, None), 0, "every flow credited");
    let report = e.report();
    let sender = report.processes.iter().find(|p| p.pid == Some(7));
    assert_eq!(sender.map(|p| p.counters.tx_packets), Some(5_000));
    e.refresh(SocketTable::default());
    send_from(&mut e, 40_000, 10_000);
    assert_eq!(e.socket_count(), 1, "a fresh table takes answers again");
}

//! Engine tests: attribution (table, exact lookup, late refresh), direction,
//! aggregation per process and interface, expiry, filtering, sorting.

use std::net::IpAddr;
use std::time::Duration;

use super::*;
use crate::flow::Protocol;
use crate::testing::{socket, OwnedFrame, PacketSpec, StaticResolver};

const ME: &str = "192.0.2.10";

fn interfaces() -> Vec<InterfaceInfo> {
    vec![
        InterfaceInfo {
            index: 1,
            name: "lo".into(),
            up: true,
            addrs: vec!["127.0.0.1".parse().expect("ip")],
            ..Default::default()
        },
        InterfaceInfo {
            index: 2,
            name: "eth0".into(),
            up: true,
            addrs: vec![ME.parse::<IpAddr>().expect("ip")],
            ..Default::default()
        },
    ]
}

fn engine() -> Engine {
    let mut e = Engine::new(EngineConfig::default());
    e.set_interfaces(&interfaces());
    e
}

fn at(ms: u64) -> Duration {
    Duration::from_millis(1_700_000_000_000 + ms)
}

/// Sends `n` frames of `spec` at `ms` on eth0.
fn feed(
    e: &mut Engine,
    r: &mut StaticResolver,
    spec: PacketSpec,
    outgoing: bool,
    n: usize,
    ms: u64,
) {
    for i in 0..n {
        let f: OwnedFrame = spec.sll2(at(ms + i as u64), 2, outgoing, 128);
        e.ingest_resolved(&f.as_frame(), r);
    }
}

fn row(report: &EngineReport, pid: Option<u32>) -> &ProcessReport {
    report
        .processes
        .iter()
        .find(|p| p.pid == pid)
        .unwrap_or_else(|| panic!("no row for {pid:?} in {:#?}", report.processes))
}

#[test]
fn bytes_go_to_the_socket_owner_in_both_directions() {
    let mut r = StaticResolver::new(vec![socket(
        Protocol::Tcp,
        "192.0.2.10:40000",
        "198.51.100.1:443",
        42,
        "curl",
    )]);
    let mut e = engine();
    e.refresh(r.sockets().expect("table"));
    let out = PacketSpec::tcp("192.0.2.10:40000", "198.51.100.1:443", 100);
    let back = PacketSpec::tcp("198.51.100.1:443", "192.0.2.10:40000", 1000);
    feed(&mut e, &mut r, out, true, 3, 0);
    feed(&mut e, &mut r, back, false, 2, 10);
    let report = e.report();
    let curl = row(&report, Some(42));
    assert_eq!(curl.name, "curl");
    assert_eq!(curl.user, "alice");
    // Wire bytes: IP length plus the 14-byte Ethernet header.
    let out_len = out.ip_bytes().len() as u64 + 14;
    let back_len = back.ip_bytes().len() as u64 + 14;
    assert_eq!(curl.counters.tx_bytes, 3 * out_len);
    assert_eq!(curl.counters.rx_bytes, 2 * back_len);
    assert_eq!((curl.counters.tx_packets, curl.counters.rx_packets), (3, 2));
    assert_eq!(
        report.processes.len(),
        1,
        "no unknown row when all is known"
    );
    assert_eq!(r.lookups, 0, "the table knew the flow: no exact lookup");
}

#[test]
fn the_executable_s_path_reaches_the_report_and_an_answer_without_it_keeps_it() {
    let mut with_path = socket(
        Protocol::Tcp,
        "192.0.2.10:40000",
        "198.51.100.1:443",
        42,
        "curl",
    );
    if let Some(owner) = with_path.owner.as_mut().map(std::sync::Arc::make_mut) {
        owner.exe = Some("/usr/bin/curl".into());
    }
    // The same process, known for its second socket only from an event
    // (no path read).
    let without = socket(
        Protocol::Tcp,
        "192.0.2.10:40002",
        "198.51.100.1:443",
        42,
        "curl",
    );
    let mut r = StaticResolver::new(vec![with_path]);
    let mut e = engine();
    e.refresh(r.sockets().expect("table"));
    let out = PacketSpec::tcp("192.0.2.10:40000", "198.51.100.1:443", 100);
    feed(&mut e, &mut r, out, true, 1, 0);
    assert_eq!(
        row(&e.report(), Some(42)).exe.as_deref(),
        Some("/usr/bin/curl")
    );
    let mut r = StaticResolver::new(vec![without]);
    e.refresh(r.sockets().expect("table"));
    let second = PacketSpec::tcp("192.0.2.10:40002", "198.51.100.1:443", 100);
    feed(&mut e, &mut r, second, true, 1, 10);
    let report = e.report();
    let curl = row(&report, Some(42));
    assert_eq!(curl.counters.tx_packets, 2);
    assert_eq!(curl.exe.as_deref(), Some("/usr/bin/curl"));
}

#[test]
fn a_flow_the_table_missed_is_looked_up_once_when_first_seen() {
    // The socket lived a few milliseconds: never in a dump, but alive when
    // its first packet was captured.
    let mut r = StaticResolver::new(vec![]);
    r.live = vec![socket(
        Protocol::Tcp,
        "192.0.2.10:40001",
        "198.51.100.1:80",
        7,
        "short",
    )];
    let mut e = engine();
    e.refresh(r.sockets().expect("table"));
    feed(
        &mut e,
        &mut r,
        PacketSpec::tcp("192.0.2.10:40001", "198.51.100.1:80", 0),
        true,
        5,
        0,
    );
    r.live.clear();
    feed(
        &mut e,
        &mut r,
        PacketSpec::tcp("198.51.100.1:80", "192.0.2.10:40001", 0),
        false,
        5,
        5,
    );
    assert_eq!(r.lookups, 1);
    let report = e.report();
    assert_eq!(row(&report, Some(7)).counters.tx_packets, 5);
    assert_eq!(row(&report, Some(7)).counters.rx_packets, 5);
    assert_eq!(e.stats().lookup_hits, 1);
}

#[test]
fn bytes_seen_before_the_owner_is_known_move_to_it_later() {
    let mut r = StaticResolver::new(vec![]);
    let mut e = engine();
    let spec = PacketSpec::udp("192.0.2.10:5000", "198.51.100.9:9000", 200);
    feed(&mut e, &mut r, spec, true, 4, 0);
    let before = e.report();
    assert_eq!(row(&before, None).counters.tx_packets, 4);
    assert_eq!(row(&before, None).name, "unknown");

    // A later table knows the (unconnected, wildcard-bound) socket.
    let mut s = socket(Protocol::Udp, "0.0.0.0:5000", "0.0.0.0:0", 9, "app");
    s.state = crate::socket::TcpState::None;
    e.refresh(SocketTable::new(vec![s]));
    feed(&mut e, &mut r, spec, true, 1, 100);
    let after = e.report();
    assert_eq!(row(&after, Some(9)).counters.tx_packets, 5);
    assert!(
        after.processes.iter().all(|p| p.pid.is_some()),
        "unknown emptied"
    );
}

#[test]
fn traffic_without_an_owner_is_unknown() {
    let mut r = StaticResolver::new(vec![]);
    let mut e = engine();
    feed(
        &mut e,
        &mut r,
        PacketSpec::tcp("198.51.100.2:443", "192.0.2.10:1234", 10),
        false,
        2,
        0,
    );
    let report = e.report();
    let unknown = row(&report, None);
    assert_eq!(unknown.counters.rx_packets, 2);
    assert_eq!(unknown.counters.tx_packets, 0);
}

#[test]
fn loopback_traffic_credits_sender_tx_and_receiver_rx() {
    let mut r = StaticResolver::new(vec![
        socket(
            Protocol::Tcp,
            "127.0.0.1:50000",
            "127.0.0.1:8080",
            1,
            "client",
        ),
        socket(
            Protocol::Tcp,
            "127.0.0.1:8080",
            "127.0.0.1:50000",
            2,
            "server",
        ),
    ]);
    let mut e = engine();
    e.refresh(r.sockets().expect("table"));
    let spec = PacketSpec::tcp("127.0.0.1:50000", "127.0.0.1:8080", 500);
    let f = spec.sll2(at(0), 1, false, 128);
    e.ingest_resolved(&f.as_frame(), &mut r);
    let report = e.report();
    let len = spec.ip_bytes().len() as u64 + 14;
    assert_eq!(row(&report, Some(1)).counters.tx_bytes, len);
    assert_eq!(row(&report, Some(1)).counters.rx_bytes, 0);
    assert_eq!(row(&report, Some(2)).counters.rx_bytes, len);
    // The loopback interface counts the frame once each way, like the kernel.
    let lo = report
        .interfaces
        .iter()
        .find(|i| i.name == "lo")
        .expect("lo");
    assert_eq!((lo.counters.tx_bytes, lo.counters.rx_bytes), (len, len));
}

#[test]
fn processes_plus_unknown_add_up_to_interface_totals() {
    let mut r = StaticResolver::new(vec![socket(
        Protocol::Tcp,
        "192.0.2.10:40000",
        "198.51.100.1:443",
        42,
        "curl",
    )]);
    let mut e = engine();
    e.refresh(r.sockets().expect("table"));
    feed(
        &mut e,
        &mut r,
        PacketSpec::tcp("192.0.2.10:40000", "198.51.100.1:443", 10),
        true,
        10,
        0,
    );
    feed(
        &mut e,
        &mut r,
        PacketSpec::udp("198.51.100.3:53", "192.0.2.10:999", 60),
        false,
        3,
        0,
    );
    // A non-IP frame (ARP) and a garbage frame.
    let arp = OwnedFrame {
        ts: at(5),
        ifindex: None,
        link: crate::LinkType::LinuxSll2,
        orig_len: 48,
        data: {
            let mut d = vec![
                0x08, 0x06, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0,
            ];
            d.extend_from_slice(&[0u8; 28]);
            d
        },
    };
    e.ingest_resolved(&arp.as_frame(), &mut r);
    let junk = OwnedFrame {
        ts: at(6),
        ifindex: None,
        link: crate::LinkType::LinuxSll2,
        orig_len: 3,
        data: vec![1, 2, 3],
    };
    e.ingest_resolved(&junk.as_frame(), &mut r);
    let report = e.report();
    let sum =
        |f: fn(&Counters) -> u64| report.processes.iter().map(|p| f(&p.counters)).sum::<u64>();
    let isum = |f: fn(&Counters) -> u64| {
        report
            .interfaces
            .iter()
            .map(|i| f(&i.counters))
            .sum::<u64>()
    };
    assert_eq!(sum(|c| c.rx_bytes), isum(|c| c.rx_bytes));
    assert_eq!(sum(|c| c.tx_bytes), isum(|c| c.tx_bytes));
    assert_eq!(sum(|c| c.rx_packets), 4);
    assert_eq!(report.stats.decode_errors, 1);
    assert_eq!(report.stats.non_ip_frames, 1);
}

#[test]
fn per_interface_totals_follow_the_frame_ifindex() {
    let mut r = StaticResolver::new(vec![]);
    let mut e = engine();
    let spec = PacketSpec::udp("192.0.2.10:1", "198.51.100.1:2", 0);
    for (i, ifindex) in [2u32, 2, 5].iter().enumerate() {
        let f = spec.sll2(at(i as u64), *ifindex, true, 128);
        e.ingest_resolved(&f.as_frame(), &mut r);
    }
    let report = e.report();
    let names: Vec<(&str, u64)> = report
        .interfaces
        .iter()
        .map(|i| (i.name.as_str(), i.counters.tx_packets))
        .collect();
    assert_eq!(names, vec![("eth0", 2), ("if5", 1)]);
}

#[test]
fn a_packet_on_an_unlisted_interface_asks_for_the_list_once() {
    let mut r = StaticResolver::new(vec![]);
    let mut e = engine();
    assert!(
        !e.take_unlisted_interface(),
        "set_interfaces listed them all"
    );
    let spec = PacketSpec::udp("192.0.2.10:1", "198.51.100.1:2", 0);
    e.ingest_resolved(&spec.sll2(at(0), 2, true, 128).as_frame(), &mut r);
    assert!(!e.take_unlisted_interface(), "eth0 is listed");
    e.ingest_resolved(&spec.sll2(at(1), 7, true, 128).as_frame(), &mut r);
    assert!(e.take_unlisted_interface(), "if7 appeared after the list");
    e.ingest_resolved(&spec.sll2(at(2), 7, true, 128).as_frame(), &mut r);
    assert!(!e.take_unlisted_interface(), "asked once per interface");
}

#[test]
fn idle_and_closed_flows_expire_but_totals_stay() {
    let mut r = StaticResolver::new(vec![socket(
        Protocol::Tcp,
        "192.0.2.10:40000",
        "198.51.100.1:443",
        42,
        "curl",
    )]);
    let mut e = engine();
    e.refresh(r.sockets().expect("table"));
    feed(
        &mut e,
        &mut r,
        PacketSpec::tcp("192.0.2.10:40000", "198.51.100.1:443", 10),
        true,
        1,
        0,
    );
    feed(
        &mut e,
        &mut r,
        PacketSpec::tcp("192.0.2.10:40002", "198.51.100.1:443", 10),
        true,
        1,
        0,
    );
    assert_eq!(e.flow_count(), 2);
    e.expire(at(59_000));
    assert_eq!(e.flow_count(), 2);
    e.expire(at(60_001));
    assert_eq!(e.flow_count(), 0);
    assert_eq!(e.stats().flows_expired, 2);
    assert_eq!(row(&e.report(), Some(42)).counters.tx_packets, 1);
}

#[test]
fn many_flows_stay_bounded_after_expiry() {
    let mut r = StaticResolver::new(vec![]);
    let mut e = engine();
    for port in 0..5_000u16 {
        let spec = PacketSpec::udp(
            &format!("192.0.2.10:{}", 10_000 + port),
            "198.51.100.1:53",
            0,
        );
        e.ingest_resolved(&spec.sll2(at(0), 2, true, 64).as_frame(), &mut r);
    }
    assert_eq!(e.flow_count(), 5_000);
    e.expire(at(61_000));
    assert_eq!(e.flow_count(), 0);
}

#[test]
fn report_sorts_by_total_descending_with_unknown_last_on_ties() {
    let mut r = StaticResolver::new(vec![
        socket(
            Protocol::Udp,
            "192.0.2.10:1001",
            "198.51.100.1:9",
            30,
            "small",
        ),
        socket(
            Protocol::Udp,
            "192.0.2.10:1002",
            "198.51.100.1:9",
            20,
            "big",
        ),
        socket(
            Protocol::Udp,
            "192.0.2.10:1003",
            "198.51.100.1:9",
            10,
            "tie",
        ),
    ]);
    let mut e = engine();
    e.refresh(r.sockets().expect("table"));
    feed(
        &mut e,
        &mut r,
        PacketSpec::udp("192.0.2.10:1001", "198.51.100.1:9", 10),
        true,
        1,
        0,
    );
    feed(
        &mut e,
        &mut r,
        PacketSpec::udp("192.0.2.10:1002", "198.51.100.1:9", 10),
        true,
        9,
        0,
    );
    feed(
        &mut e,
        &mut r,
        PacketSpec::udp("192.0.2.10:1003", "198.51.100.1:9", 10),
        true,
        1,
        0,
    );
    feed(
        &mut e,
        &mut r,
        PacketSpec::udp("192.0.2.10:1004", "198.51.100.1:9", 10),
        true,
        1,
        0,
    );
    let order: Vec<Option<u32>> = e.report().processes.iter().map(|p| p.pid).collect();
    assert_eq!(order, vec![Some(20), Some(10), Some(30), None]);
}

#[test]
fn filter_matches_process_names_and_remote_addresses() {
    let sockets = vec![
        socket(
            Protocol::Tcp,
            "192.0.2.10:1",
            "198.51.100.1:443",
            1,
            "Firefox",
        ),
        socket(Protocol::Tcp, "192.0.2.10:2", "203.0.113.8:443", 2, "curl"),
        socket(Protocol::Tcp, "192.0.2.10:3", "198.51.100.1:443", 2, "curl"),
    ];
    let run = |filter: &str| {
        let mut r = StaticResolver::new(sockets.clone());
        let mut e = Engine::new(EngineConfig {
            filter: Some(filter.to_string()),
            ..EngineConfig::default()
        });
        e.set_interfaces(&interfaces());
        e.refresh(r.sockets().expect("table"));
        feed(
            &mut e,
            &mut r,
            PacketSpec::tcp("192.0.2.10:1", "198.51.100.1:443", 0),
            true,
            1,
            0,
        );
        feed(
            &mut e,
            &mut r,
            PacketSpec::tcp("192.0.2.10:2", "203.0.113.8:443", 0),
            true,
            2,
            0,
        );
        feed(
            &mut e,
            &mut r,
            PacketSpec::tcp("192.0.2.10:3", "198.51.100.1:443", 0),
            true,
            4,
            0,
        );
        e.report()
            .processes
            .iter()
            .map(|p| (p.name.clone(), p.counters.tx_packets))
            .collect::<Vec<_>>()
    };
    assert_eq!(run("FIRE"), vec![("Firefox".to_string(), 1)]);
    assert_eq!(run("203.0.113"), vec![("curl".to_string(), 2)]);
    assert_eq!(
        run("198.51.100.1"),
        vec![("curl".to_string(), 4), ("Firefox".to_string(), 1)]
    );
    assert!(run("nothing-matches").is_empty());
}

#[test]
fn ipv6_flows_are_attributed() {
    let mut r = StaticResolver::new(vec![socket(
        Protocol::Tcp,
        "[2001:db8::10]:40000",
        "[2001:db8::1]:443",
        5,
        "ssh",
    )]);
    let mut e = Engine::new(EngineConfig::default());
    e.set_interfaces(&[InterfaceInfo {
        index: 2,
        name: "eth0".into(),
        up: true,
        addrs: vec!["2001:db8::10".parse().expect("ip")],
        ..Default::default()
    }]);
    e.refresh(r.sockets().expect("table"));
    feed(
        &mut e,
        &mut r,
        PacketSpec::tcp("[2001:db8::1]:443", "[2001:db8::10]:40000", 7),
        false,
        3,
        0,
    );
    assert_eq!(row(&e.report(), Some(5)).counters.rx_packets, 3);
}

#[test]
fn lookups_can_be_turned_off() {
    let mut r = StaticResolver::new(vec![]);
    r.live = vec![socket(
        Protocol::Tcp,
        "192.0.2.10:40001",
        "198.51.100.1:80",
        7,
        "short",
    )];
    let mut e = Engine::new(EngineConfig {
        lookup_new_flows: false,
        ..EngineConfig::default()
    });
    e.set_interfaces(&interfaces());
    feed(
        &mut e,
        &mut r,
        PacketSpec::tcp("192.0.2.10:40001", "198.51.100.1:80", 0),
        true,
        2,
        0,
    );
    assert_eq!(r.lookups, 0);
    assert_eq!(row(&e.report(), None).counters.tx_packets, 2);
}

#[test]
fn a_flow_without_owner_is_searched_again_on_later_packets() {
    // The first search fails (say the owner scan was rate-limited); a later
    // packet, 50 ms on, finds the socket, and the earlier bytes move too.
    let mut r = StaticResolver::new(vec![]);
    let mut e = engine();
    let spec = PacketSpec::tcp("192.0.2.10:40005", "198.51.100.1:80", 100);
    feed(&mut e, &mut r, spec, true, 3, 0);
    assert_eq!(r.lookups, 1, "packets within 50 ms do not search again");
    r.live = vec![socket(
        Protocol::Tcp,
        "192.0.2.10:40005",
        "198.51.100.1:80",
        8,
        "late",
    )];
    feed(&mut e, &mut r, spec, true, 1, 60);
    assert_eq!(r.lookups, 2);
    let report = e.report();
    assert_eq!(row(&report, Some(8)).counters.tx_packets, 4);
    assert!(report.processes.iter().all(|p| p.pid.is_some()));
}

#[test]
fn owner_searches_per_flow_are_bounded() {
    let mut r = StaticResolver::new(vec![]);
    let mut e = engine();
    let spec = PacketSpec::tcp("192.0.2.10:40006", "198.51.100.1:80", 0);
    for i in 0..20 {
        feed(&mut e, &mut r, spec, true, 1, i * 100);
    }
    assert_eq!(r.lookups, usize::from(MAX_TRIES));
}

#[test]
fn flows_no_table_explains_stop_asking_for_tables() {
    let mut r = StaticResolver::new(vec![]);
    let mut e = engine();
    feed(
        &mut e,
        &mut r,
        PacketSpec::udp("198.51.100.2:5000", "192.0.2.10:9", 10),
        false,
        1,
        0,
    );
    for _ in 0..MAX_TABLES {
        assert!(e.has_pending());
        e.refresh(SocketTable::default());
    }
    assert!(!e.has_pending());
    assert_eq!(row(&e.report(), None).counters.rx_packets, 1);
}

/// The unknown row's reasons, as (reason, rx+tx bytes).
fn reasons(e: &Engine) -> Vec<(UnknownReason, u64)> {
    e.unknown_reasons()
        .into_iter()
        .map(|(why, c)| (why, c.total_bytes()))
        .collect()
}

#[test]
fn unknown_traffic_is_split_by_reason_and_adds_up() {
    let mut orphan = socket(Protocol::Tcp, "192.0.2.10:41000", "198.51.100.1:80", 1, "x");
    orphan.owner = None;
    let mut r = StaticResolver::new(vec![orphan]);
    let mut e = engine();
    // A SYN to a port nobody listens on.
    feed(
        &mut e,
        &mut r,
        PacketSpec::tcp("198.51.100.1:5000", "192.0.2.10:9999", 0),
        false,
        2,
        0,
    );
    // A datagram this host sent from a socket that is already gone.
    feed(
        &mut e,
        &mut r,
        PacketSpec::udp("192.0.2.10:5555", "198.51.100.1:53", 20),
        true,
        1,
        5,
    );
    // A socket the kernel still has, with no process holding it.
    feed(
        &mut e,
        &mut r,
        PacketSpec::tcp("192.0.2.10:41000", "198.51.100.1:80", 10),
        true,
        1,
        6,
    );
    // Routed through: neither end is this host's.
    feed(
        &mut e,
        &mut r,
        PacketSpec::tcp("198.51.100.7:1234", "203.0.113.9:80", 0),
        false,
        3,
        7,
    );
    let got = reasons(&e);
    let bytes = |why| got.iter().find(|r| r.0 == why).map_or(0, |r| r.1);
    // Both are bare TCP segments: two of one, three of the other.
    let segment = bytes(UnknownReason::NoListener) / 2;
    assert!(segment > 0, "{got:?}");
    assert_eq!(bytes(UnknownReason::Forwarded), 3 * segment, "{got:?}");
    assert!(bytes(UnknownReason::OwnerGone) > 0, "{got:?}");
    let unknown = row(&e.report(), None).clone();
    assert_eq!(
        got.iter().map(|r| r.1).sum::<u64>(),
        unknown.counters.total_bytes(),
        "the reasons add up to the unknown row"
    );
    assert_eq!(unknown.reasons.len(), got.len());
}

/// Issue 11: a run that sees only its own user's processes (macOS
/// without root) files another user's ownerless socket as hidden, its
/// own user's as gone.
#[test]
fn issue_11_another_users_ownerless_socket_is_hidden_not_gone() {
    let mut theirs = socket(Protocol::Udp, "192.0.2.10:5353", "0.0.0.0:0", 90, "mdns");
    theirs.owner = None;
    theirs.uid = 0;
    let mut mine = socket(Protocol::Tcp, "192.0.2.10:41000", "198.51.100.1:80", 1, "x");
    mine.owner = None;
    mine.uid = 501;
    let mut r = StaticResolver::new(vec![theirs, mine]);
    let mut e = engine();
    e.set_visible_uid(Some(501));
    e.refresh(r.sockets().expect("table"));
    feed(
        &mut e,
        &mut r,
        PacketSpec::udp("198.51.100.9:5353", "192.0.2.10:5353", 30),
        false,
        2,
        0,
    );
    feed(
        &mut e,
        &mut r,
        PacketSpec::tcp("192.0.2.10:41000", "198.51.100.1:80", 10),
        true,
        1,
        5,
    );
    let got = reasons(&e);
    let bytes = |why| got.iter().find(|r| r.0 == why).map_or(0, |r| r.1);
    assert!(bytes(UnknownReason::Hidden) > 0, "{got:?}");
    assert!(bytes(UnknownReason::OwnerGone) > 0, "{got:?}");
    assert_eq!(UnknownReason::Hidden.as_str(), "hidden");
    // A run that sees everyone never says hidden.
    let mut e = engine();
    e.refresh(r.sockets().expect("table"));
    feed(
        &mut e,
        &mut r,
        PacketSpec::udp("198.51.100.9:5353", "192.0.2.10:5353", 30),
        false,
        2,
        0,
    );
    assert_eq!(
        reasons(&e).iter().map(|r| r.0).collect::<Vec<_>>(),
        vec![UnknownReason::OwnerGone]
    );
}

#[test]
fn an_owner_found_later_takes_the_bytes_out_of_their_reason() {
    let mut r = StaticResolver::new(Vec::new());
    let mut e = engine();
    let spec = PacketSpec::tcp("198.51.100.1:5000", "192.0.2.10:8080", 0);
    feed(&mut e, &mut r, spec, false, 2, 0);
    let got = reasons(&e);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, UnknownReason::NoListener);
    let bytes = got[0].1;
    let server = socket(
        Protocol::Tcp,
        "192.0.2.10:8080",
        "198.51.100.1:5000",
        7,
        "srv",
    );
    e.refresh(SocketTable::new(vec![server]));
    assert!(reasons(&e).is_empty(), "{:?}", reasons(&e));
    assert_eq!(row(&e.report(), Some(7)).counters.rx_bytes, bytes);
}

#[test]
fn a_container_behind_a_veth_gets_its_traffic_from_its_own_side() {
    // The host's end of a container's veth, captured alone (Ethernet, no
    // direction): frames from the host's MAC go to the container.
    const HOST_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
    const CONTAINER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];
    let mut ifaces = interfaces();
    ifaces.push(InterfaceInfo {
        index: 7,
        name: "veth-c".into(),
        up: true,
        addrs: vec!["10.0.3.1".parse().expect("ip")],
        mac: Some(HOST_MAC),
        ..Default::default()
    });
    let mut e = Engine::new(EngineConfig::default());
    e.set_interfaces(&ifaces);
    // The container's socket (another network namespace): the resolver
    // finds it by exact lookup.
    let mut r = StaticResolver::new(Vec::new());
    r.live = vec![socket(
        Protocol::Tcp,
        "10.0.3.2:40000",
        "198.51.100.7:80",
        99,
        "wget",
    )];
    let out = PacketSpec::tcp("10.0.3.2:40000", "198.51.100.7:80", 1000);
    let back = PacketSpec::tcp("198.51.100.7:80", "10.0.3.2:40000", 100);
    for i in 0..3 {
        let f = out.ethernet(at(i), 7, CONTAINER_MAC);
        e.ingest_resolved(&f.as_frame(), &mut r);
        let f = back.ethernet(at(i), 7, HOST_MAC);
        e.ingest_resolved(&f.as_frame(), &mut r);
    }
    let report = e.report();
    let wget = row(&report, Some(99));
    assert_eq!(wget.counters.tx_packets, 3, "{report:#?}");
    assert_eq!(wget.counters.rx_packets, 3, "{report:#?}");
    assert!(wget.counters.tx_bytes > wget.counters.rx_bytes);
    assert!(
        report.processes.iter().all(|p| p.pid.is_some()),
        "nothing unknown"
    );
}

#[test]
fn without_flow_history_totals_are_the_same_and_flows_keep_no_seconds() {
    let run = |flow_history: bool| {
        let mut r = StaticResolver::new(vec![socket(
            Protocol::Tcp,
            "192.0.2.10:40000",
            "198.51.100.1:443",
            42,
            "curl",
        )]);
        let mut e = Engine::new(EngineConfig {
            flow_history,
            ..EngineConfig::default()
        });
        e.set_interfaces(&interfaces());
        let out = PacketSpec::tcp("192.0.2.10:40000", "198.51.100.1:443", 100);
        // Packets over three seconds, so a flow with history has a ring.
        for s in 0..3 {
            feed(&mut e, &mut r, out, true, 2, s * 1000);
        }
        let second = at(3_000).as_secs();
        let live = e.live_report(second, 3);
        let seconds: u64 = live.connections[0]
            .history
            .iter()
            .map(|(rx, tx)| rx + tx)
            .sum();
        (e.report().processes, seconds)
    };
    let (with, seconds_with) = run(true);
    let (without, seconds_without) = run(false);
    assert_eq!(with, without, "the same totals either way");
    assert!(seconds_with > 0, "a flow with history shows its seconds");
    assert_eq!(seconds_without, 0, "a flow without history keeps none");
}

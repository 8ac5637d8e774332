//! Engine tests of the each-byte-once rule (`engine/once.rs`): a packet
//! seen on several interfaces of the host (a container's veth, a bridge,
//! the uplink after NAT, a router's two sides) is credited once, while
//! every interface still counts every sighting.

use std::net::IpAddr;
use std::time::Duration;

use super::*;
use crate::flow::Protocol;
use crate::socket::SocketEntry;
use crate::testing::{socket, PacketSpec, StaticResolver};

const ME: &str = "192.0.2.10";
const BRIDGE: &str = "10.0.3.1";
const UPLINK: u32 = 2;
const VETH: u32 = 10;
const BR0: u32 = 11;
const OTHER: u32 = 12;
const N: u64 = 5;

fn engine() -> Engine {
    let iface = |index: u32, name: &str, addrs: &[&str]| InterfaceInfo {
        index,
        name: name.into(),
        up: true,
        addrs: addrs
            .iter()
            .map(|a| a.parse::<IpAddr>().expect("ip"))
            .collect(),
        ..Default::default()
    };
    let mut e = Engine::new(EngineConfig::default());
    e.set_interfaces(&[
        iface(1, "lo", &["127.0.0.1"]),
        iface(UPLINK, "eth0", &[ME]),
        iface(VETH, "veth-c", &[]),
        iface(BR0, "br0", &[BRIDGE]),
        iface(OTHER, "eth1", &["198.18.0.1"]),
    ]);
    e
}

fn at(ms: u64) -> Duration {
    Duration::from_millis(1_700_000_000_000 + ms)
}

/// The host's NAT as the Linux resolver sees it through conntrack: a
/// translated flow is looked up as the socket's own tuple.
struct Nat {
    sockets: StaticResolver,
    /// (flow as captured, flow as the socket sees it)
    map: Vec<(FlowKey, FlowKey)>,
}

impl SocketResolver for Nat {
    fn sockets(&mut self) -> Result<SocketTable, ResolveError> {
        self.sockets.sockets()
    }

    fn lookup(&mut self, key: &FlowKey) -> Result<Option<SocketEntry>, ResolveError> {
        let inner = self
            .map
            .iter()
            .find(|(outer, _)| outer == key)
            .map_or(*key, |(_, inner)| *inner);
        self.sockets.lookup(&inner)
    }

    /// Translated, and no socket at either tuple: another machine's flow
    /// through this host's NAT.
    fn untranslated(&mut self, key: &FlowKey) -> Option<FlowKey> {
        let (_, inner) = self.map.iter().find(|(outer, _)| outer == key)?;
        let table = SocketTable::new(self.sockets.live.clone());
        (table.find(inner).is_none() && table.find(key).is_none()).then_some(*inner)
    }
}

fn key(local: &str, remote: &str) -> FlowKey {
    FlowKey::new(
        Protocol::Tcp,
        local.parse().expect("addr"),
        remote.parse().expect("addr"),
    )
}

/// One packet seen on each of `path` (ifindex, outgoing), in order.
fn cross(e: &mut Engine, r: &mut dyn SocketResolver, ms: u64, path: &[(PacketSpec, u32, bool)]) {
    for (spec, ifindex, outgoing) in path {
        let f = spec.sll2(at(ms), *ifindex, *outgoing, 128);
        e.ingest_resolved(&f.as_frame(), r);
    }
}

fn wire(spec: PacketSpec) -> u64 {
    let f = spec.sll2(at(0), 1, false, 128);
    let p = crate::decode::decode(&f.as_frame()).expect("decodes");
    u64::from(p.wire_len)
}

fn counters_of(report: &EngineReport, pid: Option<u32>) -> Counters {
    report
        .processes
        .iter()
        .find(|p| p.pid == pid)
        .map_or_else(Counters::default, |p| p.counters)
}

fn interface(report: &EngineReport, index: u32) -> Counters {
    report
        .interfaces
        .iter()
        .find(|i| i.index == index)
        .map_or_else(Counters::default, |i| i.counters)
}

fn assert_once(report: &EngineReport, pid: Option<u32>, up: PacketSpec, down: PacketSpec) {
    let got = counters_of(report, pid);
    let want = Counters {
        tx_bytes: N * wire(up),
        rx_bytes: N * wire(down),
        tx_packets: N,
        rx_packets: N,
    };
    assert_eq!(got, want, "{report:#?}");
}

#[test]
fn a_container_behind_a_bridge_and_masquerade_is_credited_once() {
    let mut e = engine();
    let socket = socket(
        Protocol::Tcp,
        "10.0.3.2:40000",
        "198.51.100.7:80",
        99,
        "wget",
    );
    let mut r = Nat {
        sockets: StaticResolver {
            dump: Vec::new(),
            live: vec![socket],
            lookups: 0,
            ..StaticResolver::default()
        },
        map: vec![(
            key("192.0.2.10:40000", "198.51.100.7:80"),
            key("10.0.3.2:40000", "198.51.100.7:80"),
        )],
    };
    let up_in = PacketSpec::tcp("10.0.3.2:40000", "198.51.100.7:80", 1000);
    let up_out = PacketSpec::tcp("192.0.2.10:40000", "198.51.100.7:80", 1000);
    let down_out = PacketSpec::tcp("198.51.100.7:80", "192.0.2.10:40000", 100);
    let down_in = PacketSpec::tcp("198.51.100.7:80", "10.0.3.2:40000", 100);
    for i in 0..N {
        // Upload: from the container (received on its veth and on the
        // bridge), then out of the uplink translated.
        cross(
            &mut e,
            &mut r,
            i,
            &[
                (up_in, VETH, false),
                (up_in, BR0, false),
                (up_out, UPLINK, true),
            ],
        );
        // The answer: in on the uplink, out through the bridge and veth.
        cross(
            &mut e,
            &mut r,
            i,
            &[
                (down_out, UPLINK, false),
                (down_in, BR0, true),
                (down_in, VETH, true),
            ],
        );
    }
    let report = e.report();
    assert_once(&report, Some(99), up_in, down_in);
    assert_eq!(
        counters_of(&report, None),
        Counters::default(),
        "nothing unknown"
    );
    for index in [VETH, BR0, UPLINK] {
        let c = interface(&report, index);
        assert_eq!(
            (c.rx_packets, c.tx_packets),
            (N, N),
            "every sighting on if{index}"
        );
    }
    let live = e.live_report(at(N).as_secs(), 1);
    assert_eq!(
        live.connections
            .iter()
            .filter(|c| c.pid == Some(99))
            .count(),
        1,
        "one connection shown"
    );
}

#[test]
fn a_published_port_into_a_bridged_container_is_credited_once() {
    let mut e = engine();
    // The sink listens; the first packet (the SYN) finds the listener.
    let listener = socket(Protocol::Tcp, "0.0.0.0:5001", "0.0.0.0:0", 77, "sink");
    let mut r = Nat {
        sockets: StaticResolver {
            dump: Vec::new(),
            live: vec![listener],
            lookups: 0,
            ..StaticResolver::default()
        },
        map: vec![(
            key("192.0.2.10:8080", "203.0.113.5:33000"),
            key("10.0.3.2:5001", "203.0.113.5:33000"),
        )],
    };
    let in_out = PacketSpec::tcp("203.0.113.5:33000", "192.0.2.10:8080", 1200);
    let in_in = PacketSpec::tcp("203.0.113.5:33000", "10.0.3.2:5001", 1200);
    let back_in = PacketSpec::tcp("10.0.3.2:5001", "203.0.113.5:33000", 60);
    let back_out = PacketSpec::tcp("192.0.2.10:8080", "203.0.113.5:33000", 60);
    for i in 0..N {
        cross(
            &mut e,
            &mut r,
            i,
            &[
                (in_out, UPLINK, false),
                (in_in, BR0, true),
                (in_in, VETH, true),
            ],
        );
        cross(
            &mut e,
            &mut r,
            i,
            &[
                (back_in, VETH, false),
                (back_in, BR0, false),
                (back_out, UPLINK, true),
            ],
        );
    }
    let report = e.report();
    assert_once(&report, Some(77), back_in, in_in);
    assert_eq!(counters_of(&report, None), Counters::default());
}

#[test]
fn routed_traffic_of_a_local_socket_is_not_forwarded_too() {
    let mut e = engine();
    // A server in the container: the remote's SYN is seen first on the
    // uplink, where no end is local (forwarded), then on the veth.
    let listener = socket(Protocol::Tcp, "0.0.0.0:22", "0.0.0.0:0", 55, "sshd");
    let mut r = StaticResolver {
        dump: Vec::new(),
        live: vec![listener],
        lookups: 0,
        ..StaticResolver::default()
    };
    let down = PacketSpec::tcp("198.51.100.7:50000", "10.0.3.2:22", 100);
    let up = PacketSpec::tcp("10.0.3.2:22", "198.51.100.7:50000", 1400);
    for i in 0..N {
        cross(
            &mut e,
            &mut r,
            i,
            &[(down, UPLINK, false), (down, VETH, true)],
        );
        cross(&mut e, &mut r, i, &[(up, VETH, false), (up, UPLINK, true)]);
    }
    let report = e.report();
    assert_once(&report, Some(55), up, down);
    assert_eq!(
        counters_of(&report, None),
        Counters::default(),
        "{report:#?}"
    );
}

#[test]
fn forwarded_traffic_is_counted_once_across_the_router() {
    let mut e = engine();
    let mut r = StaticResolver::new(Vec::new());
    let there = PacketSpec::tcp("198.18.0.9:41000", "198.51.100.7:443", 900);
    let back = PacketSpec::tcp("198.51.100.7:443", "198.18.0.9:41000", 90);
    for i in 0..N {
        cross(
            &mut e,
            &mut r,
            i,
            &[(there, OTHER, false), (there, UPLINK, true)],
        );
        cross(
            &mut e,
            &mut r,
            i,
            &[(back, UPLINK, false), (back, OTHER, true)],
        );
    }
    let report = e.report();
    let unknown = report
        .processes
        .iter()
        .find(|p| p.pid.is_none())
        .expect("unknown row");
    assert_eq!(
        unknown.counters.total_bytes(),
        N * (wire(there) + wire(back))
    );
    assert_eq!(unknown.reasons.len(), 1);
    assert_eq!(unknown.reasons[0].0, UnknownReason::Forwarded);
    for index in [OTHER, UPLINK] {
        let c = interface(&report, index);
        assert_eq!(
            (c.rx_packets, c.tx_packets),
            (N, N),
            "every sighting on if{index}"
        );
    }
}

#[test]
fn a_seat_is_given_up_when_its_flow_expires() {
    let mut e = engine();
    let socket = socket(
        Protocol::Tcp,
        "10.0.3.2:40000",
        "198.51.100.7:80",
        99,
        "wget",
    );
    let mut r = StaticResolver {
        dump: Vec::new(),
        live: vec![socket],
        lookups: 0,
        ..StaticResolver::default()
    };
    let up = PacketSpec::tcp("10.0.3.2:40000", "198.51.100.7:80", 500);
    cross(&mut e, &mut r, 0, &[(up, VETH, false), (up, BR0, false)]);
    assert_eq!(
        e.seats.len(),
        3,
        "the socket's end, its owned path, the flow"
    );
    e.expire(at(0) + Duration::from_secs(120));
    assert_eq!(e.flow_count(), 0);
    assert_eq!(e.seats.len(), 0, "nothing left behind");
    // Seen again, on the bridge first this time: credited there.
    cross(
        &mut e,
        &mut r,
        200_000,
        &[(up, BR0, false), (up, VETH, false)],
    );
    assert_eq!(counters_of(&e.report(), Some(99)).tx_packets, 2);
}

#[test]
fn a_translated_sighting_owned_late_gives_no_bytes_twice() {
    let mut e = engine();
    let listener = socket(Protocol::Tcp, "0.0.0.0:5001", "0.0.0.0:0", 77, "sink");
    // Conntrack has no entry yet when the first packets on the uplink are
    // looked up (the capture runs ahead of the NAT hook).
    let mut r = Nat {
        sockets: StaticResolver {
            dump: Vec::new(),
            live: vec![listener],
            lookups: 0,
            ..StaticResolver::default()
        },
        map: Vec::new(),
    };
    let in_out = PacketSpec::tcp("203.0.113.5:33000", "192.0.2.10:8080", 1200);
    let in_in = PacketSpec::tcp("203.0.113.5:33000", "10.0.3.2:5001", 1200);
    let back_in = PacketSpec::tcp("10.0.3.2:5001", "203.0.113.5:33000", 60);
    let back_out = PacketSpec::tcp("192.0.2.10:8080", "203.0.113.5:33000", 60);
    for i in 0..N {
        if i == 2 {
            r.map.push((
                key("192.0.2.10:8080", "203.0.113.5:33000"),
                key("10.0.3.2:5001", "203.0.113.5:33000"),
            ));
        }
        // 100 ms apart: the translated flow is searched again.
        let ms = i * 100;
        cross(
            &mut e,
            &mut r,
            ms,
            &[(in_out, UPLINK, false), (in_in, BR0, true)],
        );
        cross(
            &mut e,
            &mut r,
            ms,
            &[(back_in, BR0, false), (back_out, UPLINK, true)],
        );
    }
    let report = e.report();
    assert_once(&report, Some(77), back_in, in_in);
    assert_eq!(
        counters_of(&report, None),
        Counters::default(),
        "{report:#?}"
    );
}

#[test]
fn interfaces_count_frames_the_way_the_kernel_does() {
    let mut e = engine();
    let socket = socket(
        Protocol::Tcp,
        "10.0.3.2:40000",
        "198.51.100.7:80",
        99,
        "wget",
    );
    let mut r = StaticResolver::new(vec![socket]);
    let up = PacketSpec::tcp("10.0.3.2:40000", "198.51.100.7:80", 1000);
    let down = PacketSpec::tcp("198.51.100.7:80", "10.0.3.2:40000", 100);
    cross(&mut e, &mut r, 0, &[(up, VETH, false), (up, UPLINK, true)]);
    cross(
        &mut e,
        &mut r,
        1,
        &[(down, UPLINK, false), (down, VETH, true)],
    );
    let report = e.report();
    // The container's upload is received by the host's end of its veth
    // and sent by the uplink, as their kernel counters say.
    let veth = interface(&report, VETH);
    assert_eq!((veth.rx_bytes, veth.tx_bytes), (wire(up), wire(down)));
    let uplink = interface(&report, UPLINK);
    assert_eq!((uplink.rx_bytes, uplink.tx_bytes), (wire(down), wire(up)));
    // The process: its own upload is its tx.
    assert_once_n(&report, 99, up, down, 1);
}

fn assert_once_n(report: &EngineReport, pid: u32, up: PacketSpec, down: PacketSpec, n: u64) {
    let want = Counters {
        tx_bytes: n * wire(up),
        rx_bytes: n * wire(down),
        tx_packets: n,
        rx_packets: n,
    };
    assert_eq!(counters_of(report, Some(pid)), want, "{report:#?}");
}

/// The unknown row's bytes under `reason` alone.
fn unknown_under(report: &EngineReport, reason: UnknownReason) -> Counters {
    report
        .processes
        .iter()
        .find(|p| p.pid.is_none())
        .and_then(|p| p.reasons.iter().find(|(r, _)| *r == reason))
        .map_or_else(Counters::default, |(_, c)| *c)
}

fn forwarded_once(report: &EngineReport, up: PacketSpec, down: PacketSpec) {
    // A forwarded path's sides: the LAN host's upload is its end's tx.
    let want = Counters {
        tx_bytes: N * wire(up),
        rx_bytes: N * wire(down),
        tx_packets: N,
        rx_packets: N,
    };
    assert_eq!(
        unknown_under(report, UnknownReason::Forwarded),
        want,
        "{report:#?}"
    );
    assert_eq!(counters_of(report, None), want, "nothing else: {report:#?}");
}

#[test]
fn a_router_masquerading_for_a_lan_host_counts_its_traffic_once_as_forwarded() {
    let mut e = engine();
    // The LAN host (198.18.0.9, behind eth1) is another machine: no socket
    // of this host has either tuple; conntrack knows the translation.
    let mut r = Nat {
        sockets: StaticResolver::new(Vec::new()),
        map: vec![(
            key("192.0.2.10:40000", "198.51.100.7:80"),
            key("198.18.0.9:41000", "198.51.100.7:80"),
        )],
    };
    let up_in = PacketSpec::tcp("198.18.0.9:41000", "198.51.100.7:80", 1000);
    let up_out = PacketSpec::tcp("192.0.2.10:40000", "198.51.100.7:80", 1000);
    let down_out = PacketSpec::tcp("198.51.100.7:80", "192.0.2.10:40000", 100);
    let down_in = PacketSpec::tcp("198.51.100.7:80", "198.18.0.9:41000", 100);
    for i in 0..N {
        cross(
            &mut e,
            &mut r,
            i * 100,
            &[(up_in, OTHER, false), (up_out, UPLINK, true)],
        );
        cross(
            &mut e,
            &mut r,
            i * 100,
            &[(down_out, UPLINK, false), (down_in, OTHER, true)],
        );
    }
    let report = e.report();
    forwarded_once(&report, up_in, down_in);
    for index in [OTHER, UPLINK] {
        let c = interface(&report, index);
        assert_eq!(
            (c.rx_packets, c.tx_packets),
            (N, N),
            "every sighting on if{index}"
        );
    }
    assert_eq!(e.translated.len(), 1, "the uplink's flow");
    e.expire(at(0) + Duration::from_secs(120));
    assert_eq!(e.flow_count(), 0);
    assert_eq!(e.translated.len(), 0, "forgotten with its flow");
    assert_eq!(e.seats.len(), 0);
}

#[test]
fn without_the_translation_the_router_counts_it_twice() {
    // The same traffic when the backend cannot tell (no conntrack): the
    // uplink's sighting is a connection of the router's own address whose
    // socket is gone. This is what `untranslated` is for.
    let mut e = engine();
    let mut r = StaticResolver::new(Vec::new());
    let up_in = PacketSpec::tcp("198.18.0.9:41000", "198.51.100.7:80", 1000);
    let up_out = PacketSpec::tcp("192.0.2.10:40000", "198.51.100.7:80", 1000);
    for i in 0..N {
        cross(
            &mut e,
            &mut r,
            i,
            &[(up_in, OTHER, false), (up_out, UPLINK, true)],
        );
    }
    let report = e.report();
    assert_eq!(
        unknown_under(&report, UnknownReason::Forwarded).tx_bytes,
        N * wire(up_in)
    );
    assert_eq!(
        unknown_under(&report, UnknownReason::OwnerGone).tx_bytes,
        N * wire(up_out)
    );
}

#[test]
fn a_router_publishing_a_lan_server_counts_it_once_when_conntrack_is_late() {
    let mut e = engine();
    // Outside client -> the router's port 8080 -> the LAN server's 80. The
    // first packets on the uplink are looked up before conntrack has the
    // entry (the capture runs ahead of the NAT hook): they are filed as
    // this host's, then found to be the LAN server's path.
    let mut r = Nat {
        sockets: StaticResolver::new(Vec::new()),
        map: Vec::new(),
    };
    let in_out = PacketSpec::tcp("203.0.113.5:33000", "192.0.2.10:8080", 1200);
    let in_in = PacketSpec::tcp("203.0.113.5:33000", "198.18.0.9:80", 1200);
    let back_in = PacketSpec::tcp("198.18.0.9:80", "203.0.113.5:33000", 60);
    let back_out = PacketSpec::tcp("192.0.2.10:8080", "203.0.113.5:33000", 60);
    for i in 0..N {
        if i == 2 {
            r.map.push((
                key("192.0.2.10:8080", "203.0.113.5:33000"),
                key("198.18.0.9:80", "203.0.113.5:33000"),
            ));
        }
        // 100 ms apart: the uplink's flow is searched again.
        let ms = i * 100;
        cross(
            &mut e,
            &mut r,
            ms,
            &[(in_out, UPLINK, false), (in_in, OTHER, true)],
        );
        cross(
            &mut e,
            &mut r,
            ms,
            &[(back_in, OTHER, false), (back_out, UPLINK, true)],
        );
    }
    let report = e.report();
    // The LAN server's end: it receives the client's packets.
    forwarded_once(&report, back_in, in_in);
}

#[test]
fn a_translation_whose_inside_a_socket_owns_is_that_socket_s() {
    // The host's own socket behind its own NAT (bound to the bridge's
    // address, masqueraded out of the uplink): `untranslated` says nothing
    // and the lookup finds the socket.
    let mut e = engine();
    let socket = socket(
        Protocol::Tcp,
        "10.0.3.1:40000",
        "198.51.100.7:80",
        9,
        "curl",
    );
    let mut r = Nat {
        sockets: StaticResolver::new(vec![socket]),
        map: vec![(
            key("192.0.2.10:40000", "198.51.100.7:80"),
            key("10.0.3.1:40000", "198.51.100.7:80"),
        )],
    };
    let up_out = PacketSpec::tcp("192.0.2.10:40000", "198.51.100.7:80", 1000);
    let down_out = PacketSpec::tcp("198.51.100.7:80", "192.0.2.10:40000", 100);
    for i in 0..N {
        cross(&mut e, &mut r, i, &[(up_out, UPLINK, true)]);
        cross(&mut e, &mut r, i, &[(down_out, UPLINK, false)]);
    }
    let report = e.report();
    assert_once(&report, Some(9), up_out, down_out);
    assert_eq!(e.translated.len(), 0);
}

/// One packet seen on each of `path`, all in one capture batch: the new
/// flows' owner searches run after it (`Engine::resolve_pending`).
fn cross_in_one_batch(
    e: &mut Engine,
    r: &mut dyn SocketResolver,
    ms: u64,
    path: &[(PacketSpec, u32, bool)],
) {
    for (spec, ifindex, outgoing) in path {
        let f = spec.sll2(at(ms), *ifindex, *outgoing, 128);
        e.ingest(&f.as_frame());
    }
    e.resolve_pending(r, &crate::clock::SystemClock, Duration::MAX);
}

#[test]
fn a_router_s_two_sightings_searched_after_one_batch_count_once() {
    // Both sightings of the first packets are queued before either is
    // searched: each credits them under its provisional identity, and the
    // searches then find them to be one connection.
    for published in [false, true] {
        let mut e = engine();
        let (outer, inner) = if published {
            (
                key("192.0.2.10:8080", "203.0.113.5:33000"),
                key("198.18.0.9:80", "203.0.113.5:33000"),
            )
        } else {
            (
                key("192.0.2.10:40000", "198.51.100.7:80"),
                key("198.18.0.9:41000", "198.51.100.7:80"),
            )
        };
        let mut r = Nat {
            sockets: StaticResolver::new(Vec::new()),
            map: vec![(outer, inner)],
        };
        // The LAN host's end sends `up` and receives `down`.
        let spec = |from: FlowKey, bytes: usize, back: bool| {
            let (a, b) = (from.local().to_string(), from.remote().to_string());
            if back {
                PacketSpec::tcp(&b, &a, bytes)
            } else {
                PacketSpec::tcp(&a, &b, bytes)
            }
        };
        let (up_in, up_out) = (spec(inner, 1000, false), spec(outer, 1000, false));
        let (down_in, down_out) = (spec(inner, 100, true), spec(outer, 100, true));
        for i in 0..N {
            let (first, second) = if published {
                // The outside client's packets come in on the uplink.
                (
                    [(down_out, UPLINK, false), (down_in, OTHER, true)],
                    [(up_in, OTHER, false), (up_out, UPLINK, true)],
                )
            } else {
                (
                    [(up_in, OTHER, false), (up_out, UPLINK, true)],
                    [(down_out, UPLINK, false), (down_in, OTHER, true)],
                )
            };
            cross_in_one_batch(&mut e, &mut r, i * 100, &first);
            cross_in_one_batch(&mut e, &mut r, i * 100, &second);
        }
        forwarded_once(&e.report(), up_in, down_in);
    }
}

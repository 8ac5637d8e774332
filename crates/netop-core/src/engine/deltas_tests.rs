//! Kernel deltas against frames: the same traffic fed as frames to one
//! engine and as per-window deltas (`testing::deltas_of`) to another
//! gives the same report: processes, unknown reasons, interfaces.

use std::time::Duration;

use super::super::*;
use crate::delta::{DeltaTuple, FlowDelta, SeenFlags};
use crate::flow::Protocol;
use crate::testing::{deltas_of, socket, OwnedFrame, PacketSpec, StaticResolver};

const ME: &str = "192.0.2.10";

fn interfaces() -> Vec<InterfaceInfo> {
    let info = |index: u32, name: &str, addrs: &[&str]| InterfaceInfo {
        index,
        name: name.into(),
        up: true,
        addrs: addrs.iter().map(|a| a.parse().expect("ip")).collect(),
        ..Default::default()
    };
    vec![
        info(1, "lo", &["127.0.0.1"]),
        info(2, "eth0", &[ME]),
        info(3, "veth0", &[]),
    ]
}

fn resolver() -> StaticResolver {
    StaticResolver::new(vec![
        socket(
            Protocol::Tcp,
            "192.0.2.10:40000",
            "198.51.100.1:443",
            42,
            "curl",
        ),
        socket(
            Protocol::Tcp,
            "127.0.0.1:8080",
            "127.0.0.1:50000",
            7,
            "server",
        ),
        socket(
            Protocol::Tcp,
            "127.0.0.1:50000",
            "127.0.0.1:8080",
            8,
            "client",
        ),
        socket(Protocol::Udp, "192.0.2.10:5000", "0.0.0.0:0", 9, "daemon"),
    ])
}

fn at(ms: u64) -> Duration {
    Duration::from_millis(1_700_000_000_000 + ms)
}

/// An ARP frame on `any`.
fn arp(ts: Duration, ifindex: u32, outgoing: bool) -> OwnedFrame {
    let mut data = Vec::new();
    data.extend_from_slice(&0x0806u16.to_be_bytes());
    data.extend_from_slice(&[0, 0]);
    data.extend_from_slice(&ifindex.to_be_bytes());
    data.extend_from_slice(&1u16.to_be_bytes());
    data.push(if outgoing { 4 } else { 0 });
    data.push(6);
    data.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0, 0]);
    data.extend_from_slice(&[0u8; 28]);
    OwnedFrame {
        ts,
        ifindex: None,
        link: LinkType::LinuxSll2,
        orig_len: data.len() as u32,
        data,
    }
}

/// Three seconds of a host's traffic on `any`: a download, loopback both
/// ways, a datagram to a bound socket, a connection nobody owns, a probe
/// of a closed port, a container's forwarded packets on its veth and
/// again on the uplink, ARP.
fn traffic() -> Vec<OwnedFrame> {
    let mut frames = Vec::new();
    for i in 0..30u64 {
        let t = at(i * 100);
        let out = PacketSpec::tcp("192.0.2.10:40000", "198.51.100.1:443", 40);
        let back = PacketSpec::tcp("198.51.100.1:443", "192.0.2.10:40000", 1400);
        frames.push(out.sll2(t, 2, true, 128));
        frames.push(back.sll2(t + Duration::from_millis(1), 2, false, 128));
        frames.push(back.sll2(t + Duration::from_millis(2), 2, false, 128));
        let lo = PacketSpec::tcp("127.0.0.1:50000", "127.0.0.1:8080", 300 + i as usize);
        frames.push(lo.sll2(t + Duration::from_millis(3), 1, false, 128));
        let lo_back = PacketSpec::tcp("127.0.0.1:8080", "127.0.0.1:50000", 9000);
        frames.push(lo_back.sll2(t + Duration::from_millis(4), 1, false, 128));
        if i % 3 == 0 {
            let dgram = PacketSpec::udp("203.0.113.5:6000", "192.0.2.10:5000", 100);
            frames.push(dgram.sll2(t + Duration::from_millis(5), 2, false, 128));
            let gone = PacketSpec::udp("192.0.2.10:41000", "203.0.113.6:7000", 64);
            frames.push(gone.sll2(t + Duration::from_millis(6), 2, true, 128));
            let probe = PacketSpec::tcp("203.0.113.7:1234", "192.0.2.10:9999", 0);
            frames.push(probe.sll2(t + Duration::from_millis(7), 2, false, 128));
        }
        let fwd = PacketSpec::tcp("10.0.0.2:33000", "198.51.100.9:80", 500);
        frames.push(fwd.sll2(t + Duration::from_millis(8), 3, false, 128));
        frames.push(fwd.sll2(t + Duration::from_millis(9), 2, true, 128));
        if i % 10 == 0 {
            frames.push(arp(t + Duration::from_millis(10), 2, i % 20 == 0));
        }
    }
    frames
}

fn engine() -> Engine {
    let mut e = Engine::new(EngineConfig {
        dns: None,
        ..EngineConfig::default()
    });
    e.set_interfaces(&interfaces());
    e
}

fn by_frames(frames: &[OwnedFrame]) -> EngineReport {
    by_frames_engine(frames).report()
}

fn by_frames_engine(frames: &[OwnedFrame]) -> Engine {
    let (mut e, mut r) = (engine(), resolver());
    for f in frames {
        e.ingest_resolved(&f.as_frame(), &mut r);
    }
    e
}

fn by_deltas(windows: Vec<Vec<FlowDelta>>) -> (EngineReport, Engine) {
    let (mut e, mut r) = (engine(), resolver());
    for mut batch in windows {
        e.ingest_deltas(&mut batch);
        e.resolve_pending(&mut r, &crate::clock::SystemClock, Duration::MAX);
    }
    (e.report(), e)
}

fn assert_same(frames: &EngineReport, deltas: &EngineReport) {
    assert_eq!(frames.processes, deltas.processes, "processes and unknown");
    assert_eq!(frames.interfaces, deltas.interfaces, "interfaces");
    assert_eq!(frames.flows, deltas.flows, "flows");
    assert_eq!(frames.stats.frames, deltas.stats.frames, "packets");
}

#[test]
fn deltas_give_the_frames_report_per_second() {
    let frames = traffic();
    let expected = by_frames(&frames);
    let (got, _) = by_deltas(deltas_of(&frames, Duration::from_secs(1)));
    assert_same(&expected, &got);
    // The scenario reaches every path it is meant to.
    let pids: Vec<_> = expected.processes.iter().map(|p| p.pid).collect();
    for pid in [Some(42), Some(7), Some(8), Some(9), None] {
        assert!(pids.contains(&pid), "{pid:?} in {pids:?}");
    }
    let unknown = expected
        .processes
        .iter()
        .find(|p| p.pid.is_none())
        .expect("unknown row");
    let reasons: Vec<_> = unknown.reasons.iter().map(|(why, _)| *why).collect();
    for why in [
        UnknownReason::Forwarded,
        UnknownReason::NoListener,
        UnknownReason::Kernel,
        UnknownReason::OwnerGone,
    ] {
        assert!(reasons.contains(&why), "{why:?} in {reasons:?}");
    }
}

#[test]
fn deltas_give_the_frames_split_by_interface() {
    // The library's per-interface figures (packets as well as bytes).
    let frames = traffic();
    let expected = by_frames_engine(&frames).per_interface();
    assert!(
        expected
            .iter()
            .any(|p| p.interfaces.iter().any(|i| i.counters.tx_packets > 1)),
        "the scenario has a process with several packets: {expected:?}"
    );
    for ms in [10, 1_000, 3_000] {
        let (_, e) = by_deltas(deltas_of(&frames, Duration::from_millis(ms)));
        assert_eq!(expected, e.per_interface(), "read every {ms} ms");
    }
}

#[test]
fn deltas_give_the_frames_report_at_any_read_interval() {
    let frames = traffic();
    let expected = by_frames(&frames);
    for ms in [10, 250, 3_000] {
        let (got, _) = by_deltas(deltas_of(&frames, Duration::from_millis(ms)));
        assert_same(&expected, &got);
    }
}

#[test]
fn a_forwarded_packet_is_credited_once_whichever_order_the_batch_is_in() {
    let fwd = PacketSpec::tcp("10.0.0.2:33000", "198.51.100.9:80", 500);
    let frames = vec![
        fwd.sll2(at(0), 3, false, 128),
        fwd.sll2(at(1), 2, true, 128),
    ];
    let one = u64::from(
        crate::decode::decode(&frames[0].as_frame())
            .expect("decodes")
            .wire_len,
    );
    let mut windows = deltas_of(&frames, Duration::from_secs(1));
    windows[0].reverse();
    let (report, _) = by_deltas(windows);
    assert_same(&by_frames(&frames), &report);
    let unknown = report
        .processes
        .iter()
        .find(|p| p.pid.is_none())
        .expect("unknown row");
    assert_eq!(unknown.counters.total_bytes(), one, "one packet's bytes");
    let iface = |i: u32| {
        report
            .interfaces
            .iter()
            .find(|r| r.index == i)
            .map(|r| r.counters.total_bytes())
    };
    assert_eq!(
        (iface(2), iface(3)),
        (Some(one), Some(one)),
        "both interfaces"
    );
}

#[test]
fn a_delta_counts_its_packets_and_bytes_and_its_flow_its_times() {
    let d = FlowDelta {
        ifindex: 2,
        outgoing: true,
        tuple: Some(DeltaTuple {
            proto: Protocol::Tcp,
            src: ME.parse().expect("ip"),
            src_port: 40000,
            dst: "198.51.100.1".parse().expect("ip"),
            dst_port: 443,
        }),
        bytes: 10_000,
        packets: 7,
        first_seen: at(0),
        last_seen: at(900),
        tcp: SeenFlags {
            fin: true,
            ..SeenFlags::default()
        },
        cookie: None,
    };
    let (report, e) = by_deltas(vec![vec![d]]);
    let curl = report
        .processes
        .iter()
        .find(|p| p.pid == Some(42))
        .expect("curl");
    assert_eq!(
        (curl.counters.tx_bytes, curl.counters.tx_packets),
        (10_000, 7)
    );
    assert_eq!(e.latest(), at(900));
    let (_, flow) = e.flows.iter().next().expect("one flow");
    assert_eq!(
        (flow.flow.first_seen, flow.flow.last_seen),
        (at(0), at(900))
    );
    assert!(flow.flow.closing, "a FIN seen in the delta closes the flow");
}

#[test]
fn empty_deltas_change_nothing() {
    let d = FlowDelta {
        ifindex: 2,
        outgoing: false,
        tuple: None,
        bytes: 0,
        packets: 0,
        first_seen: at(0),
        last_seen: at(0),
        tcp: SeenFlags::default(),
        cookie: None,
    };
    let (report, _) = by_deltas(vec![vec![d]]);
    assert!(
        report.processes.is_empty()
            && report
                .interfaces
                .iter()
                .all(|i| i.counters.total_bytes() == 0)
    );
}

#[test]
fn an_interface_created_since_the_last_listing_is_asked_for() {
    let mut e = engine();
    assert!(e.is_listed(2) && !e.is_listed(9));
    assert!(!e.take_unlisted_interface());
    e.request_listing();
    assert!(e.take_unlisted_interface(), "the loop lists interfaces now");
    assert!(!e.take_unlisted_interface(), "once");
}

/// Why a batch waits for the listing: before it, a new interface's
/// address is nobody's, and a connection to a peer on its far side looks
/// like the peer's traffic (forwarded); after it, the host's own.
#[test]
fn a_new_interfaces_address_decides_the_local_end_once_listed() {
    let out = PacketSpec::udp("10.9.0.1:41000", "10.9.0.2:5002", 100);
    let frames = vec![out.sll2(at(0), 9, true, 128)];
    let (mut e, mut r) = (
        engine(),
        StaticResolver::new(vec![socket(
            Protocol::Udp,
            "10.9.0.1:41000",
            "10.9.0.2:5002",
            77,
            "client",
        )]),
    );
    let mut listed = interfaces();
    listed.push(InterfaceInfo {
        index: 9,
        name: "veth9".into(),
        up: true,
        addrs: vec!["10.9.0.1".parse().expect("ip")],
        ..Default::default()
    });
    assert!(!e.is_listed(9));
    e.set_interfaces(&listed);
    for mut batch in deltas_of(&frames, Duration::from_secs(1)) {
        e.ingest_deltas(&mut batch);
        e.resolve_pending(&mut r, &crate::clock::SystemClock, Duration::MAX);
    }
    let report = e.report();
    let client = report
        .processes
        .iter()
        .find(|p| p.pid == Some(77))
        .expect("the client's row");
    assert_eq!(client.counters.tx_packets, 1);
}

#[test]
fn a_delta_read_late_is_shared_by_the_seconds_it_spans() {
    use super::seconds_of;
    let mut d = FlowDelta {
        ifindex: 2,
        outgoing: true,
        tuple: None,
        bytes: 10_001,
        packets: 7,
        first_seen: at(500),
        last_seen: at(3_500),
        tcp: SeenFlags::default(),
        cookie: None,
    };
    let parts = seconds_of(&d);
    let secs: Vec<u64> = parts.iter().map(|p| p.sec).collect();
    let first = at(500).as_secs();
    assert_eq!(secs, vec![first, first + 1, first + 2, first + 3]);
    let bytes: Vec<u64> = parts.iter().map(|p| p.bytes).collect();
    assert_eq!(bytes.iter().sum::<u64>(), 10_001, "{bytes:?}");
    assert_eq!(parts.iter().map(|p| p.packets).sum::<u64>(), 7);
    // Half a second, a second, a second, half a second.
    assert_eq!(bytes[1], bytes[2]);
    assert!(bytes[0].abs_diff(bytes[1] / 2) <= 1, "{bytes:?}");
    // Within one second: one part, whole.
    d.last_seen = at(900);
    assert_eq!(seconds_of(&d).len(), 1);
    assert_eq!(seconds_of(&d)[0].bytes, 10_001);
}

#[test]
fn a_late_read_spreads_the_rate_over_its_seconds() {
    let d = FlowDelta {
        ifindex: 2,
        outgoing: true,
        tuple: Some(DeltaTuple {
            proto: Protocol::Tcp,
            src: ME.parse().expect("ip"),
            src_port: 40000,
            dst: "198.51.100.1".parse().expect("ip"),
            dst_port: 443,
        }),
        bytes: 3_000_000,
        packets: 3_000,
        first_seen: at(0),
        last_seen: at(2_999),
        tcp: SeenFlags::default(),
        cookie: None,
    };
    let (_, e) = by_deltas(vec![vec![d]]);
    let last = at(2_999).as_secs();
    let live = e.live_report(last, 1);
    let curl = live
        .processes
        .iter()
        .find(|p| p.pid == Some(42))
        .expect("curl's row");
    assert!(
        (900_000..=1_100_000).contains(&curl.rate.tx),
        "a third a second, not all of it in the last: {:?}",
        curl.rate
    );
}

//! Per-process totals split by interface: the split follows where each
//! packet was credited and always adds up to the process's total, also
//! when the owner is found after the first packets.

use std::net::IpAddr;
use std::time::Duration;

use crate::flow::Protocol;
use crate::interfaces::InterfaceInfo;
use crate::socket::SocketResolver;
use crate::testing::{socket, PacketSpec, StaticResolver};
use crate::{Engine, EngineConfig};

fn engine() -> Engine {
    let mut e = Engine::new(EngineConfig::default());
    e.set_interfaces(&[
        InterfaceInfo {
            index: 1,
            name: "lo".into(),
            up: true,
            addrs: vec!["127.0.0.1".parse::<IpAddr>().expect("ip")],
            ..Default::default()
        },
        InterfaceInfo {
            index: 2,
            name: "eth0".into(),
            up: true,
            addrs: vec!["192.0.2.10".parse::<IpAddr>().expect("ip")],
            ..Default::default()
        },
        InterfaceInfo {
            index: 3,
            name: "wg0".into(),
            up: true,
            addrs: vec!["10.9.0.2".parse::<IpAddr>().expect("ip")],
            ..Default::default()
        },
    ]);
    e
}

fn at(ms: u64) -> Duration {
    Duration::from_millis(1_700_000_000_000 + ms)
}

fn feed(
    e: &mut Engine,
    r: &mut StaticResolver,
    (spec, ifindex, outgoing): (PacketSpec, u32, bool),
    n: u64,
    ms: u64,
) {
    for i in 0..n {
        let f = spec.sll2(at(ms + i), ifindex, outgoing, 128);
        e.ingest_resolved(&f.as_frame(), r);
    }
}

/// The frame's size as the engine counts it (cooked v2 carries no link
/// header of its own; the interface's is Ethernet's 14 bytes).
fn wire(spec: &PacketSpec, ifindex: u32) -> u64 {
    let f = spec.sll2(at(0), ifindex, true, 128);
    let mut e = engine();
    e.ingest(&f.as_frame());
    e.report().interfaces[0].counters.total_bytes()
}

#[test]
fn one_process_on_two_interfaces_is_split_by_where_its_packets_went() {
    let mut r = StaticResolver::new(vec![
        socket(
            Protocol::Tcp,
            "192.0.2.10:40000",
            "198.51.100.1:443",
            42,
            "agent",
        ),
        socket(Protocol::Udp, "10.9.0.2:5000", "10.9.0.1:53", 42, "agent"),
    ]);
    let mut e = engine();
    e.refresh(r.sockets().expect("table"));
    let up = PacketSpec::tcp("192.0.2.10:40000", "198.51.100.1:443", 300);
    let down = PacketSpec::tcp("198.51.100.1:443", "192.0.2.10:40000", 1200);
    let tunnel = PacketSpec::udp("10.9.0.2:5000", "10.9.0.1:53", 80);
    feed(&mut e, &mut r, (up, 2, true), 3, 0);
    feed(&mut e, &mut r, (down, 2, false), 5, 10);
    feed(&mut e, &mut r, (tunnel, 3, true), 2, 20);

    let split = e.per_interface();
    assert_eq!(split.len(), 1, "{split:?}");
    let agent = &split[0];
    assert_eq!(agent.pid, 42);
    let names: Vec<&str> = agent.interfaces.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["eth0", "wg0"]);
    let eth = agent.interfaces[0].counters;
    assert_eq!((eth.tx_packets, eth.rx_packets), (3, 5));
    assert_eq!(eth.tx_bytes, 3 * wire(&up, 2));
    assert_eq!(eth.rx_bytes, 5 * wire(&down, 2));
    let wg = agent.interfaces[1].counters;
    assert_eq!((wg.tx_packets, wg.rx_packets, wg.rx_bytes), (2, 0, 0));
    assert_eq!(wg.tx_bytes, 2 * wire(&tunnel, 3));

    // The split adds up to the process's total.
    let report = e.report();
    let total = report
        .processes
        .iter()
        .find(|p| p.pid == Some(42))
        .expect("row")
        .counters;
    assert_eq!(total.total_bytes(), eth.total_bytes() + wg.total_bytes());
}

#[test]
fn bytes_found_late_join_the_interface_they_were_seen_on() {
    // Nothing in the table or for lookups at first: the flow's bytes wait
    // in unknown; a later table names the owner.
    let mut r = StaticResolver::new(Vec::new());
    let mut e = engine();
    e.refresh(r.sockets().expect("table"));
    let up = PacketSpec::tcp("192.0.2.10:40001", "198.51.100.1:443", 500);
    let down = PacketSpec::tcp("198.51.100.1:443", "192.0.2.10:40001", 100);
    feed(&mut e, &mut r, (up, 2, true), 4, 0);
    feed(&mut e, &mut r, (down, 2, false), 2, 10);
    assert!(e.per_interface().is_empty(), "no owner yet");

    e.refresh(crate::SocketTable::new(vec![socket(
        Protocol::Tcp,
        "192.0.2.10:40001",
        "198.51.100.1:443",
        7,
        "late",
    )]));
    feed(&mut e, &mut r, (up, 2, true), 1, 100);

    let split = e.per_interface();
    let late = split.iter().find(|p| p.pid == 7).expect("owner found");
    assert_eq!(late.interfaces.len(), 1, "{late:?}");
    let eth = &late.interfaces[0];
    assert_eq!(eth.name, "eth0");
    assert_eq!((eth.counters.tx_packets, eth.counters.rx_packets), (5, 2));
    assert_eq!(eth.counters.tx_bytes, 5 * wire(&up, 2));
    let total = e
        .report()
        .processes
        .iter()
        .find(|p| p.pid == Some(7))
        .expect("row")
        .counters;
    assert_eq!(total, eth.counters);
}

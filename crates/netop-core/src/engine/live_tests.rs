//! The monitor report: rates over the window, sockets and connections per
//! process, idle sockets listed, interface minutes.

use std::time::Duration;

use super::*;
use crate::engine::EngineConfig;
use crate::interfaces::InterfaceInfo;
use crate::socket::{SocketResolver, SocketTable};
use crate::testing::{socket, PacketSpec, StaticResolver};

const T0: u64 = 1_700_000_000;

fn engine() -> Engine {
    let mut e = Engine::new(EngineConfig::default());
    e.set_interfaces(&[InterfaceInfo {
        index: 2,
        name: "eth0".into(),
        up: true,
        addrs: vec!["192.0.2.10".parse().expect("ip")],
        ..Default::default()
    }]);
    e
}

fn sockets() -> Vec<SocketEntry> {
    let mut stream = socket(
        Protocol::Tcp,
        "192.0.2.10:40000",
        "198.51.100.1:443",
        42,
        "curl",
    );
    stream.inode = 1;
    stream.rtt_us = Some(12_000);
    stream.retrans = Some(3);
    let mut idle = socket(
        Protocol::Tcp,
        "192.0.2.10:40001",
        "198.51.100.2:443",
        42,
        "curl",
    );
    idle.inode = 2;
    let mut listener = socket(Protocol::Tcp, "0.0.0.0:8080", "0.0.0.0:0", 7, "server");
    listener.inode = 3;
    listener.state = TcpState::Listen;
    vec![stream, idle, listener]
}

/// 1000 IP bytes out and 3000 in during each of seconds T0..T0+3.
fn traffic(e: &mut Engine, r: &mut StaticResolver) {
    let out = PacketSpec::tcp("192.0.2.10:40000", "198.51.100.1:443", 1000 - 40);
    let back = PacketSpec::tcp("198.51.100.1:443", "192.0.2.10:40000", 1500 - 40);
    for sec in 0..3 {
        let ts = Duration::from_secs(T0 + sec);
        e.ingest_resolved(&out.sll2(ts, 2, true, 128).as_frame(), r);
        for i in 0..2 {
            let f = back.sll2(ts + Duration::from_millis(i), 2, false, 128);
            e.ingest_resolved(&f.as_frame(), r);
        }
    }
}

#[test]
fn rates_are_the_mean_of_the_window_and_totals_are_everything() {
    let mut r = StaticResolver::new(sockets());
    let mut e = engine();
    e.refresh(r.sockets().expect("table"));
    traffic(&mut e, &mut r);
    // Link header: SLL2 frames count 14 bytes of Ethernet per packet.
    let (tx, rx) = (1000 + 14, 2 * (1500 + 14));
    let live = e.live_report(T0 + 2, 1);
    let curl = live
        .processes
        .iter()
        .find(|p| p.pid == Some(42))
        .expect("curl row");
    assert_eq!(curl.rate, Rate { rx, tx });
    assert_eq!(curl.totals.tx_bytes, 3 * tx);
    assert_eq!(curl.sockets, 2);
    assert_eq!(curl.conns, 2, "two established TCP sockets");
    assert_eq!(curl.history.len(), HISTORY_LEN);
    assert_eq!(curl.history[HISTORY_LEN - 1], (rx, tx));
    // Over a 4-second window ending one second after the traffic, three
    // seconds carried bytes.
    let later = e.live_report(T0 + 3, 4);
    let curl = later
        .processes
        .iter()
        .find(|p| p.pid == Some(42))
        .expect("curl");
    assert_eq!(
        curl.rate,
        Rate {
            rx: 3 * rx / 4,
            tx: 3 * tx / 4
        }
    );
}

#[test]
fn connections_carry_socket_details_and_idle_sockets_are_listed() {
    let mut r = StaticResolver::new(sockets());
    let mut e = engine();
    e.refresh(r.sockets().expect("table"));
    traffic(&mut e, &mut r);
    let live = e.live_report(T0 + 2, 1);
    assert_eq!(live.connections.len(), 3, "{:#?}", live.connections);
    let stream = live
        .connections
        .iter()
        .find(|c| c.key.local_port == 40000)
        .expect("stream");
    assert_eq!(stream.state, Some(TcpState::Established));
    assert_eq!(stream.rtt_us, Some(12_000));
    assert_eq!(stream.retrans, Some(3));
    assert_eq!(stream.opened_by, Some(Direction::Tx));
    assert_eq!(stream.interface, "eth0");
    assert_eq!(stream.inode, 1);
    let idle = live
        .connections
        .iter()
        .find(|c| c.key.local_port == 40001)
        .expect("idle socket");
    assert_eq!(idle.rate, Rate::default());
    assert!(!idle.unconnected);
    let listener = live
        .connections
        .iter()
        .find(|c| c.key.local_port == 8080)
        .expect("listener");
    assert!(listener.unconnected);
    assert_eq!(listener.state, Some(TcpState::Listen));
    // The listening process has a row although it moved no bytes.
    let server = live
        .processes
        .iter()
        .find(|p| p.pid == Some(7))
        .expect("server row");
    assert_eq!((server.sockets, server.conns), (1, 0));
    assert_eq!(server.totals, Counters::default());
}

#[test]
fn interfaces_keep_minutes_and_kernel_counters() {
    let mut r = StaticResolver::new(sockets());
    let mut e = engine();
    traffic(&mut e, &mut r);
    let live = e.live_report(T0 + 2, 1);
    let eth0 = &live.interfaces[0];
    assert_eq!(eth0.name, "eth0");
    assert_eq!(eth0.minutes.len(), HISTORY_LEN);
    let minute: (u64, u64) = eth0
        .minutes
        .iter()
        .fold((0, 0), |a, m| (a.0 + m.0, a.1 + m.1));
    assert_eq!(minute, (eth0.totals.rx_bytes, eth0.totals.tx_bytes));
    assert!(eth0.totals.rx_bytes > 0);
}

#[test]
fn processes_without_sockets_or_recent_traffic_drop_out() {
    let mut r = StaticResolver::new(sockets());
    let mut e = engine();
    e.refresh(r.sockets().expect("table"));
    traffic(&mut e, &mut r);
    e.refresh(SocketTable::default());
    let live = e.live_report(T0 + 2 + HISTORY_LEN as u64, 1);
    assert!(live.processes.is_empty(), "{:#?}", live.processes);
}

#[test]
fn containers_travel_from_the_socket_owner_to_both_reports() {
    let docker = crate::socket::Container {
        runtime: "docker".into(),
        name: "3f2a1b4c5d6e".into(),
    };
    let mut all = sockets();
    for s in all
        .iter_mut()
        .filter(|s| s.owner.as_ref().is_some_and(|o| o.pid == 42))
    {
        if let Some(owner) = s.owner.as_mut().map(std::sync::Arc::make_mut) {
            owner.container = Some(docker.clone());
        }
    }
    let mut r = StaticResolver::new(all);
    let mut e = engine();
    e.refresh(r.sockets().expect("table"));
    traffic(&mut e, &mut r);
    let live = e.live_report(T0 + 2, 1);
    let container_of = |pid| {
        live.processes
            .iter()
            .find(|p| p.pid == Some(pid))
            .map(|p| p.container.clone())
    };
    assert_eq!(container_of(42), Some(Some(docker.clone())));
    assert_eq!(container_of(7), Some(None), "the listener is on the host");
    let report = e.report();
    let curl = report.processes.iter().find(|p| p.pid == Some(42));
    assert_eq!(curl.and_then(|p| p.container.clone()), Some(docker));
}

/// Issue 14: the Interface view's current rate of `lo` is what crossed it
/// in the window: loopback traffic (both ends local, captured once, as
/// the kernel's incoming copy) counts on lo's rx and tx alike, as the
/// kernel's loopback counters do, and the rate is the window's mean.
#[test]
fn issue_14_loopback_interface_rate_is_its_bytes_per_second() {
    let mut e = Engine::new(EngineConfig::default());
    e.set_interfaces(&[InterfaceInfo {
        index: 1,
        name: "lo".into(),
        up: true,
        addrs: vec!["127.0.0.1".parse().expect("ip")],
        ..Default::default()
    }]);
    let mut r = StaticResolver::new(vec![
        socket(
            Protocol::Tcp,
            "127.0.0.1:47301",
            "127.0.0.1:5001",
            10,
            "client",
        ),
        socket(
            Protocol::Tcp,
            "127.0.0.1:5001",
            "127.0.0.1:47301",
            11,
            "server",
        ),
    ]);
    let data = PacketSpec::tcp("127.0.0.1:47301", "127.0.0.1:5001", 32_768);
    let ack = PacketSpec::tcp("127.0.0.1:5001", "127.0.0.1:47301", 0);
    let wire = |p: &PacketSpec| p.ip_bytes().len() as u64 + 14;
    // Seconds T0..T0+3: 100 big segments and 50 ACKs each, as received
    // on lo (cooked v2, ifindex 1, incoming).
    for sec in 0..4u64 {
        for i in 0..100u64 {
            let ts = Duration::from_secs(T0 + sec) + Duration::from_millis(i * 5);
            e.ingest_resolved(&data.sll2(ts, 1, false, 128).as_frame(), &mut r);
            if i % 2 == 0 {
                e.ingest_resolved(&ack.sll2(ts, 1, false, 128).as_frame(), &mut r);
            }
        }
    }
    let per_second = 100 * wire(&data) + 50 * wire(&ack);
    for window in [1, 2, 4] {
        let live = e.live_report(T0 + 3, window);
        let lo = live.interfaces.iter().find(|i| i.name == "lo").expect("lo");
        assert_eq!(lo.rate.rx, per_second, "window {window}");
        assert_eq!(lo.rate.tx, per_second, "window {window}");
    }
    // The connection's own rate agrees with the interface's.
    let live = e.live_report(T0 + 3, 1);
    let client = live
        .connections
        .iter()
        .find(|c| c.key.local_port == 47301)
        .expect("the client's connection");
    assert_eq!(client.rate.total(), per_second);
}

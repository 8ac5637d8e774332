//! Sockets changing hands: the new holder gets the bytes that follow,
//! the old one keeps what it moved.

use std::net::IpAddr;
use std::time::Duration;

use crate::engine::{Engine, EngineConfig, EngineReport};
use crate::flow::Protocol;
use crate::interfaces::InterfaceInfo;
use crate::socket::SocketResolver;
use crate::testing::{socket, OwnedFrame, PacketSpec, StaticResolver};

const LOCAL: &str = "192.0.2.10:40000";
const REMOTE: &str = "198.51.100.1:443";

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

/// `n` outgoing packets of the flow at `ms`; returns one packet's wire size.
fn send(e: &mut Engine, r: &mut StaticResolver, n: usize, ms: u64) -> u64 {
    let spec = PacketSpec::tcp(LOCAL, REMOTE, 100);
    for i in 0..n {
        let f: OwnedFrame = spec.sll2(at(ms + i as u64), 2, true, 128);
        e.ingest_resolved(&f.as_frame(), r);
    }
    spec.ip_bytes().len() as u64 + 14
}

fn tx_of(report: &EngineReport, pid: u32) -> u64 {
    report
        .processes
        .iter()
        .find(|p| p.pid == Some(pid))
        .map_or(0, |p| p.counters.tx_bytes)
}

#[test]
fn a_reported_change_of_hands_moves_the_following_bytes() {
    let mut r = StaticResolver::new(vec![socket(Protocol::Tcp, LOCAL, REMOTE, 10, "parent")]);
    let mut e = engine();
    e.refresh(r.sockets().expect("table"));
    let size = send(&mut e, &mut r, 3, 0);
    r.changes = vec![socket(Protocol::Tcp, LOCAL, REMOTE, 11, "child")];
    e.update_owners(&mut r);
    send(&mut e, &mut r, 5, 10);
    let report = e.report();
    assert_eq!(
        tx_of(&report, 10),
        3 * size,
        "the parent keeps what it sent"
    );
    assert_eq!(tx_of(&report, 11), 5 * size, "the child gets the rest");
    assert_eq!(e.stats().handovers, 1);
    e.update_owners(&mut r);
    assert_eq!(e.stats().handovers, 1, "a change is applied once");
}

#[test]
fn a_change_to_an_unowned_flow_moves_its_unknown_bytes() {
    let mut r = StaticResolver::new(vec![]);
    let mut e = engine();
    let size = send(&mut e, &mut r, 2, 0);
    r.changes = vec![socket(Protocol::Tcp, LOCAL, REMOTE, 11, "child")];
    e.update_owners(&mut r);
    let report = e.report();
    assert_eq!(tx_of(&report, 11), 2 * size);
    assert!(
        report.processes.iter().all(|p| p.pid.is_some()),
        "nothing unknown left"
    );
}

#[test]
fn a_flow_whose_owner_exited_is_looked_up_again() {
    let mut r = StaticResolver::new(vec![socket(Protocol::Tcp, LOCAL, REMOTE, 10, "parent")]);
    let mut e = engine();
    e.refresh(r.sockets().expect("table"));
    let size = send(&mut e, &mut r, 2, 0);
    // The parent exits; the socket lives on in its child.
    r.exited = vec![10];
    r.live = vec![socket(Protocol::Tcp, LOCAL, REMOTE, 11, "child")];
    e.recheck_exited(at(0), &mut r);
    assert_eq!(
        r.lookups, 1,
        "one lookup for the one flow of the exited owner"
    );
    send(&mut e, &mut r, 4, 1000);
    let report = e.report();
    assert_eq!(tx_of(&report, 10), 2 * size);
    assert_eq!(tx_of(&report, 11), 4 * size);
}

#[test]
fn flows_idle_since_the_last_check_are_not_rechecked() {
    let mut r = StaticResolver::new(vec![socket(Protocol::Tcp, LOCAL, REMOTE, 10, "parent")]);
    let mut e = engine();
    e.refresh(r.sockets().expect("table"));
    send(&mut e, &mut r, 2, 0);
    r.exited = vec![10];
    e.recheck_exited(at(5_000), &mut r);
    assert_eq!(
        r.lookups, 0,
        "no bytes since the last check: nothing to ask"
    );
}

#[test]
fn an_owner_still_alive_is_not_rechecked() {
    let mut r = StaticResolver::new(vec![socket(Protocol::Tcp, LOCAL, REMOTE, 10, "parent")]);
    let mut e = engine();
    e.refresh(r.sockets().expect("table"));
    send(&mut e, &mut r, 2, 0);
    e.recheck_exited(at(0), &mut r);
    assert_eq!(r.lookups, 0);
}

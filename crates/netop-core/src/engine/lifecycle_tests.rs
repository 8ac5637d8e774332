//! The lifecycle of processes: recycled pids are new processes; exited,
//! idle processes are forgotten by a monitor and kept by a snapshot.

use std::net::IpAddr;
use std::time::Duration;

use crate::engine::{Engine, EngineConfig};
use crate::flow::Protocol;
use crate::interfaces::InterfaceInfo;
use crate::socket::{SocketEntry, SocketResolver};
use crate::testing::{socket, OwnedFrame, PacketSpec, StaticResolver};

const REMOTE: &str = "198.51.100.1:443";

fn engine(forget: Option<u64>) -> Engine {
    let mut e = Engine::new(EngineConfig {
        forget_exited_after: forget.map(Duration::from_secs),
        ..EngineConfig::default()
    });
    e.set_interfaces(&[InterfaceInfo {
        index: 2,
        name: "eth0".into(),
        up: true,
        addrs: vec!["192.0.2.10".parse::<IpAddr>().expect("ip")],
        ..Default::default()
    }]);
    e
}

fn at(s: u64) -> Duration {
    Duration::from_secs(1_700_000_000 + s)
}

fn owned(local: &str, pid: u32, start: u64) -> SocketEntry {
    let mut s = socket(Protocol::Tcp, local, REMOTE, pid, "worker");
    if let Some(o) = s.owner.as_mut().map(std::sync::Arc::make_mut) {
        o.start_time = start;
    }
    s
}

/// Two packets from `local` at second `s`.
fn send(e: &mut Engine, r: &mut StaticResolver, local: &str, s: u64) {
    let spec = PacketSpec::tcp(local, REMOTE, 100);
    for _ in 0..2 {
        let f: OwnedFrame = spec.sll2(at(s), 2, true, 128);
        e.ingest_resolved(&f.as_frame(), r);
    }
}

#[test]
fn a_recycled_pid_is_a_new_process() {
    let mut r = StaticResolver::new(vec![owned("192.0.2.10:40000", 500, 1000)]);
    let mut e = engine(None);
    e.refresh(r.sockets().expect("table"));
    send(&mut e, &mut r, "192.0.2.10:40000", 0);
    // Later, pid 500 is another process (another start time).
    r.live = vec![owned("192.0.2.10:40001", 500, 9000)];
    send(&mut e, &mut r, "192.0.2.10:40001", 10);
    let rows: Vec<_> = e
        .report()
        .processes
        .into_iter()
        .filter(|p| p.pid == Some(500))
        .collect();
    assert_eq!(
        rows.len(),
        2,
        "two processes, each with its own bytes: {rows:#?}"
    );
    assert_eq!(rows[0].counters.tx_packets, 2);
    assert_eq!(rows[1].counters.tx_packets, 2);
    assert_eq!(e.stats().pids_reused, 1);
}

#[test]
fn an_unknown_start_time_is_the_same_process() {
    let mut r = StaticResolver::new(vec![owned("192.0.2.10:40000", 500, 1000)]);
    let mut e = engine(None);
    e.refresh(r.sockets().expect("table"));
    send(&mut e, &mut r, "192.0.2.10:40000", 0);
    // An event named pid 500 after it exited: start time unknown.
    r.live = vec![owned("192.0.2.10:40001", 500, 0)];
    send(&mut e, &mut r, "192.0.2.10:40001", 1);
    let report = e.report();
    let rows: Vec<_> = report
        .processes
        .iter()
        .filter(|p| p.pid == Some(500))
        .collect();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].counters.tx_packets, 4);
    assert_eq!(e.stats().pids_reused, 0);
}

#[test]
fn the_monitor_forgets_exited_idle_processes() {
    let mut r = StaticResolver::new(vec![]);
    let mut e = engine(Some(60));
    for i in 0..100u32 {
        let local = format!("192.0.2.10:{}", 40000 + i);
        r.live = vec![owned(&local, 1000 + i, 5)];
        send(&mut e, &mut r, &local, 0);
    }
    assert_eq!(e.process_count(), 100);
    // All exited; one is still alive.
    r.exited = (1000..1099).collect();
    // Seconds pass with traffic elsewhere (frame time drives the engine).
    r.live = vec![owned("192.0.2.10:50000", 7, 5)];
    for s in [10, 20, 40] {
        send(&mut e, &mut r, "192.0.2.10:50000", s);
        e.age_processes(at(s), &mut r);
    }
    assert_eq!(e.process_count(), 101, "exited, but not yet idle for 60 s");
    assert_eq!(e.flow_count(), 101);
    let live = e.live_report(at(40).as_secs(), 1);
    let exited = live.processes.iter().filter(|p| p.exited).count();
    assert_eq!(
        exited, 99,
        "their bytes are recent: on screen, marked exited"
    );
    // Flows expire after 60 s idle; then the processes can go.
    // No traffic at all now: the caller's clock moves on regardless. The
    // exited processes' flows (not closed, so not yet expired) go too.
    e.age_processes(at(70), &mut r);
    assert_eq!(e.flow_count(), 2, "only the live processes' flows are left");
    assert_eq!(
        e.process_count(),
        2,
        "the live one and the traffic's owner stay"
    );
    assert_eq!(e.stats().processes_forgotten, 99);
    // Their numbers are reused, not grown.
    for i in 0..50u32 {
        let local = format!("192.0.2.10:{}", 41000 + i);
        r.live = vec![owned(&local, 3000 + i, 5)];
        send(&mut e, &mut r, &local, 71);
    }
    assert_eq!(e.process_count(), 52);
}

#[test]
fn an_exited_process_with_recent_bytes_shows_as_exited() {
    let mut r = StaticResolver::new(vec![owned("192.0.2.10:40000", 42, 5)]);
    let mut e = engine(Some(60));
    e.refresh(r.sockets().expect("table"));
    send(&mut e, &mut r, "192.0.2.10:40000", 0);
    r.exited = vec![42];
    r.live = vec![owned("192.0.2.10:50000", 7, 5)];
    send(&mut e, &mut r, "192.0.2.10:50000", 6);
    e.age_processes(at(6), &mut r);
    let live = e.live_report(at(6).as_secs(), 1);
    let row = live
        .processes
        .iter()
        .find(|p| p.pid == Some(42))
        .expect("row");
    assert!(row.exited);
}

#[test]
fn a_snapshot_keeps_every_process() {
    let mut r = StaticResolver::new(vec![owned("192.0.2.10:40000", 42, 5)]);
    let mut e = engine(None);
    e.refresh(r.sockets().expect("table"));
    send(&mut e, &mut r, "192.0.2.10:40000", 0);
    r.exited = vec![42];
    e.expire(at(500));
    e.age_processes(at(500), &mut r);
    assert!(e.report().processes.iter().any(|p| p.pid == Some(42)));
}

#[test]
fn after_a_mass_exit_the_survivors_keep_their_bytes_and_flows() {
    let mut r = StaticResolver::new(vec![]);
    let mut e = engine(Some(10));
    for i in 0..400u32 {
        let local = format!("192.0.2.10:{}", 20000 + i);
        r.live = vec![owned(&local, 1000 + i, 5)];
        send(&mut e, &mut r, &local, 0);
    }
    // A survivor registered last: its slot number is the highest.
    r.live = vec![owned("192.0.2.10:50000", 7, 5)];
    send(&mut e, &mut r, "192.0.2.10:50000", 0);
    r.exited = (1000..1400).collect();
    send(&mut e, &mut r, "192.0.2.10:50000", 15);
    e.age_processes(at(15), &mut r);
    assert_eq!(e.process_count(), 1);
    // Its flow still credits it, after the renumbering.
    send(&mut e, &mut r, "192.0.2.10:50000", 16);
    let report = e.report();
    let survivor = report
        .processes
        .iter()
        .find(|p| p.pid == Some(7))
        .expect("row");
    assert_eq!(survivor.counters.tx_packets, 6);
    assert_eq!(report.processes.len(), 1, "{:#?}", report.processes);
    assert_eq!(
        r.lookups,
        400 + 1,
        "no new owner search for the survivor's flow"
    );
}

/// A container's veth, made again with a new index every 30 s (each
/// restart), carrying two packets each time.
fn flap(e: &mut Engine, r: &mut StaticResolver, restarts: u32) {
    let eth0 = InterfaceInfo {
        index: 2,
        name: "eth0".into(),
        up: true,
        addrs: vec!["192.0.2.10".parse::<IpAddr>().expect("ip")],
        ..Default::default()
    };
    for n in 0..restarts {
        let veth = InterfaceInfo {
            index: 100 + n,
            name: "veth-c".into(),
            up: true,
            ..Default::default()
        };
        e.set_interfaces(&[eth0.clone(), veth]);
        let s = u64::from(n) * 30;
        let spec = PacketSpec::tcp("10.0.3.2:40000", REMOTE, 100);
        let f: OwnedFrame = spec.sll2(at(s), 100 + n, false, 128);
        e.ingest_resolved(&f.as_frame(), r);
        e.age_processes(at(s + 1), r);
    }
}

#[test]
fn a_monitor_forgets_interfaces_gone_and_idle_and_a_snapshot_keeps_them() {
    let mut r = StaticResolver::new(Vec::new());
    let mut monitor = engine(Some(60));
    flap(&mut monitor, &mut r, 40);
    // eth0 and the veths of the last minute (the one listed, and the one
    // before it, idle for under 60 s).
    assert!(
        monitor.interface_count() <= 4,
        "{} interface accounts kept",
        monitor.interface_count()
    );
    let live = monitor.live_report(at(40 * 30).as_secs(), 1);
    assert!(
        live.interfaces
            .iter()
            .any(|i| i.index == 139 && i.totals.rx_packets == 1),
        "the listed veth keeps its account"
    );
    let mut snapshot = engine(None);
    flap(&mut snapshot, &mut r, 40);
    assert_eq!(snapshot.interface_count(), 41, "every interface reported");
}

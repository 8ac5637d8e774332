//! PKTAP frames through the engine: each packet's header names its owner,
//! delegated bytes go to the effective process, a flow whose header names
//! another process goes on with it, and the interface comes by name.

use std::net::IpAddr;
use std::time::Duration;

use crate::engine::{Engine, EngineConfig, EngineReport, ProcessReport};
use crate::interfaces::InterfaceInfo;
use crate::pktap::build::Spec;
use crate::pktap::{FLAG_DIR_IN, FLAG_DIR_OUT, FLAG_PROC_DELEGATED};
use crate::testing::{PacketSpec, StaticResolver};

const LOCAL: &str = "192.0.2.10:50000";
const REMOTE: &str = "198.51.100.1:443";

fn at(ms: u64) -> Duration {
    Duration::from_millis(1_700_000_000_000 + ms)
}

fn tap(ifname: &str, out: bool, pid: i32, comm: &str) -> Spec {
    Spec {
        dlt: 1,
        ifname: ifname.into(),
        flags: if out { FLAG_DIR_OUT } else { FLAG_DIR_IN },
        pid,
        comm: comm.into(),
        epid: pid,
        ecomm: comm.into(),
    }
}

/// Feeds `n` packets of `payload` bytes each way; returns one packet's
/// counted bytes (the inner Ethernet frame).
fn talk(e: &mut Engine, spec: &Spec, n: usize, ms: u64) -> u64 {
    let out = PacketSpec::tcp(LOCAL, REMOTE, 100);
    let back = PacketSpec::tcp(REMOTE, LOCAL, 100);
    let mut r = StaticResolver::new(Vec::new());
    for i in 0..n {
        let mut s = spec.clone();
        s.flags = (s.flags & !(FLAG_DIR_IN | FLAG_DIR_OUT)) | FLAG_DIR_OUT;
        e.ingest_resolved(&out.pktap(at(ms + i as u64), &s).as_frame(), &mut r);
        s.flags = (s.flags & !(FLAG_DIR_IN | FLAG_DIR_OUT)) | FLAG_DIR_IN;
        e.ingest_resolved(&back.pktap(at(ms + i as u64), &s).as_frame(), &mut r);
    }
    out.ip_bytes().len() as u64 + 14
}

fn row(report: &EngineReport, pid: u32) -> Option<&ProcessReport> {
    report.processes.iter().find(|p| p.pid == Some(pid))
}

#[test]
fn every_byte_goes_to_the_header_process_without_a_socket_table() {
    let mut e = Engine::new(EngineConfig::default());
    let size = talk(&mut e, &tap("en0", true, 501, "curl"), 4, 0);
    let report = e.report();
    let curl = row(&report, 501).expect("curl's row");
    assert_eq!(curl.name, "curl");
    assert_eq!(curl.counters.tx_bytes, 4 * size);
    assert_eq!(curl.counters.rx_bytes, 4 * size);
    assert_eq!((curl.counters.tx_packets, curl.counters.rx_packets), (4, 4));
    assert!(
        report.processes.iter().all(|p| p.pid.is_some()),
        "nothing unknown: {:?}",
        report.processes
    );
    assert_eq!(e.stats().lookups, 0, "no socket search was needed");
    let en0 = &report.interfaces[0];
    assert_eq!(en0.name, "en0");
    assert_eq!(en0.counters.tx_bytes, 4 * size);
}

#[test]
fn delegated_bytes_belong_to_the_effective_process() {
    let mut e = Engine::new(EngineConfig::default());
    let mut s = tap("en0", true, 310, "nsurlsessiond");
    s.epid = 4242;
    s.ecomm = "Safari".into();
    s.flags |= FLAG_PROC_DELEGATED;
    let size = talk(&mut e, &s, 3, 0);
    let report = e.report();
    let safari = row(&report, 4242).expect("the effective process's row");
    assert_eq!(safari.counters.total_bytes(), 6 * size);
    assert_eq!(safari.delegates, vec![(310, "nsurlsessiond".to_string())]);
    assert!(
        row(&report, 310).is_none(),
        "the delegate moved no bytes of its own"
    );
}

#[test]
fn a_flow_whose_header_names_another_process_is_handed_over() {
    let mut e = Engine::new(EngineConfig::default());
    let size = talk(&mut e, &tap("en0", true, 100, "parent"), 2, 0);
    talk(&mut e, &tap("en0", true, 101, "child"), 5, 100);
    let report = e.report();
    assert_eq!(
        row(&report, 100).expect("parent").counters.tx_bytes,
        2 * size
    );
    assert_eq!(
        row(&report, 101).expect("child").counters.tx_bytes,
        5 * size
    );
    assert_eq!(e.stats().handovers, 1);
}

#[test]
fn a_header_without_a_process_leaves_the_flow_to_the_socket_search() {
    let mut e = Engine::new(EngineConfig::default());
    talk(&mut e, &tap("en0", true, -1, ""), 2, 0);
    let report = e.report();
    assert_eq!(report.processes.len(), 1);
    assert_eq!(report.processes[0].pid, None);
}

#[test]
fn interface_names_map_to_the_host_indexes() {
    let mut e = Engine::new(EngineConfig::default());
    e.set_interfaces(&[InterfaceInfo {
        index: 4,
        name: "en0".into(),
        up: true,
        addrs: vec!["192.0.2.10".parse::<IpAddr>().expect("ip")],
        ..Default::default()
    }]);
    let size = talk(&mut e, &tap("en0", true, 501, "curl"), 1, 0);
    talk(&mut e, &tap("utun3", true, 501, "curl"), 1, 10);
    let report = e.report();
    let en0 = report
        .interfaces
        .iter()
        .find(|i| i.index == 4)
        .expect("en0");
    assert_eq!(en0.name, "en0");
    assert_eq!(en0.counters.total_bytes(), 2 * size);
    let utun = report
        .interfaces
        .iter()
        .find(|i| i.name == "utun3")
        .expect("an unlisted name gets an index of its own");
    assert_ne!(utun.index, 4);
}

#[test]
fn loopback_credits_the_header_process_on_its_side_only() {
    let mut e = Engine::new(EngineConfig::default());
    let a = "127.0.0.1:50000";
    let b = "127.0.0.1:8080";
    let mut r = StaticResolver::new(Vec::new());
    let p = PacketSpec::tcp(a, b, 100);
    e.ingest_resolved(
        &p.pktap(at(0), &tap("lo0", true, 7, "client")).as_frame(),
        &mut r,
    );
    let report = e.report();
    let client = row(&report, 7).expect("client");
    let size = p.ip_bytes().len() as u64 + 14;
    assert_eq!(client.counters.tx_bytes, size);
    assert_eq!(client.counters.rx_bytes, 0);
    // The receiving side had no header process and no socket: unknown.
    let unknown = report
        .processes
        .iter()
        .find(|p| p.pid.is_none())
        .expect("unknown");
    assert_eq!(unknown.counters.rx_bytes, size);
}

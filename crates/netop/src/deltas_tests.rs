//! Deltas between cumulative reports: per process by pid and start time,
//! the unknown row and its reasons (which may shrink), interfaces.

use netop_core::engine::InterfaceReport;
use netop_core::flow::Counters;
use netop_core::{EngineReport, ProcessReport, UnknownReason};

use super::*;

fn counters(rx: u64, tx: u64) -> Counters {
    Counters {
        rx_bytes: rx,
        tx_bytes: tx,
        rx_packets: rx / 100,
        tx_packets: tx / 100,
    }
}

fn process(pid: u32, start_time: u64, rx: u64, tx: u64) -> ProcessReport {
    ProcessReport {
        pid: Some(pid),
        start_time,
        name: format!("p{pid}"),
        user: "alice".into(),
        container: None,
        exe: None,
        counters: counters(rx, tx),
        reasons: Vec::new(),
        delegates: Vec::new(),
    }
}

fn unknown(reasons: &[(UnknownReason, u64)]) -> ProcessReport {
    let rx = reasons.iter().map(|r| r.1).sum();
    ProcessReport {
        pid: None,
        start_time: 0,
        name: "unknown".into(),
        user: String::new(),
        container: None,
        exe: None,
        counters: counters(rx, 0),
        reasons: reasons.iter().map(|(w, b)| (*w, counters(*b, 0))).collect(),
        delegates: Vec::new(),
    }
}

fn report(processes: Vec<ProcessReport>, eth0: u64) -> EngineReport {
    EngineReport {
        processes,
        interfaces: vec![InterfaceReport {
            index: 2,
            name: "eth0".into(),
            counters: counters(eth0, 0),
        }],
        capture: Default::default(),
        stats: Default::default(),
        flows: 0,
    }
}

#[test]
fn first_step_is_the_totals_then_only_changes() {
    let mut deltas = Deltas::new();
    let first = deltas.step(&report(vec![process(10, 1, 500, 100)], 600));
    assert_eq!(first.processes.len(), 1);
    assert_eq!(first.processes[0].delta.rx_bytes, 500);
    assert_eq!(first.interfaces[0].delta.rx_bytes, 600);
    let second = deltas.step(&report(
        vec![process(10, 1, 800, 100), process(11, 5, 0, 300)],
        1000,
    ));
    let by_pid = |pid| {
        second
            .processes
            .iter()
            .find(|p| p.process.pid == Some(pid))
            .map(|p| p.delta)
    };
    assert_eq!(by_pid(10).map(|d| (d.rx_bytes, d.tx_bytes)), Some((300, 0)));
    assert_eq!(by_pid(11).map(|d| d.tx_bytes), Some(300));
    // Nothing moved: nothing listed.
    let third = deltas.step(&report(
        vec![process(10, 1, 800, 100), process(11, 5, 0, 300)],
        1000,
    ));
    assert!(third.processes.is_empty() && third.interfaces.is_empty());
}

#[test]
fn a_recycled_pid_is_a_new_process() {
    let mut deltas = Deltas::new();
    deltas.step(&report(vec![process(10, 1, 5000, 0)], 5000));
    // pid 10 exited and was forgotten; a new pid 10 started later.
    let step = deltas.step(&report(vec![process(10, 99, 200, 0)], 5200));
    assert_eq!(step.processes[0].delta.rx_bytes, 200);
    assert_eq!(step.processes[0].process.start_time, 99);
}

#[test]
fn unknown_bytes_that_find_their_owner_are_a_negative_delta() {
    let mut deltas = Deltas::new();
    deltas.step(&report(
        vec![unknown(&[
            (UnknownReason::OwnerGone, 300),
            (UnknownReason::Kernel, 50),
        ])],
        350,
    ));
    // The owner turned up: 300 bytes move to pid 7.
    let step = deltas.step(&report(
        vec![
            process(7, 3, 300, 0),
            unknown(&[(UnknownReason::Kernel, 50)]),
        ],
        350,
    ));
    let unknown_row = step
        .processes
        .iter()
        .find(|p| p.process.pid.is_none())
        .expect("unknown changed");
    assert_eq!(unknown_row.delta.rx_bytes, -300);
    assert_eq!(unknown_row.delta.growth().rx_bytes, 0);
    assert_eq!(step.reasons.len(), 1);
    assert_eq!(step.reasons[0].key, UnknownReason::OwnerGone);
    assert_eq!(step.reasons[0].delta.rx_bytes, -300);
    // All of it found owners: the row leaves the report.
    let step = deltas.step(&report(vec![process(7, 3, 350, 0)], 350));
    let unknown_row = step.processes.iter().find(|p| p.process.pid.is_none());
    assert_eq!(unknown_row.map(|p| p.delta.rx_bytes), Some(-50));
    assert_eq!(step.reasons[0].key, UnknownReason::Kernel);
}

#[test]
fn deltas_sum_to_the_last_totals() {
    let mut deltas = Deltas::new();
    let totals = [100u64, 100, 250, 900, 900, 1000];
    let mut sum = 0i64;
    for t in totals {
        for p in deltas.step(&report(vec![process(1, 1, t, 0)], t)).processes {
            sum += p.delta.rx_bytes;
        }
    }
    assert_eq!(sum, 1000);
}

//! The ledger: counters only grow, the cardinality cap, minutes for the
//! history, the dashboard's seconds.

use netop_core::flow::Counters;
use netop_core::{ProcessReport, UnknownReason};

use super::*;
use crate::deltas::{CounterStep, ProcessStep};

pub(crate) fn process_step(pid: u32, name: &str, rx: i64, tx: i64) -> ProcessStep {
    ProcessStep {
        process: ProcessReport {
            pid: Some(pid),
            start_time: 1,
            name: name.to_string(),
            user: "alice".to_string(),
            container: None,
            counters: Counters::default(),
            reasons: Vec::new(),
        },
        delta: Delta {
            rx_bytes: rx,
            tx_bytes: tx,
            rx_packets: rx.signum().max(0),
            tx_packets: tx.signum().max(0),
        },
    }
}

fn unknown_step(rx: i64) -> (ProcessStep, CounterStep<UnknownReason>) {
    let mut p = process_step(0, "unknown", rx, 0);
    p.process.pid = None;
    let r = CounterStep {
        key: UnknownReason::OwnerGone,
        total: Counters::default(),
        delta: p.delta,
    };
    (p, r)
}

const T0: u64 = 1_764_666_000; // a whole minute

fn series(ledger: &Ledger) -> Vec<(String, u64)> {
    ledger
        .process_series()
        .into_iter()
        .map(|(l, c)| (l.process, c.rx_bytes))
        .collect()
}

#[test]
fn counters_only_grow_when_unknown_bytes_find_their_owner() {
    let mut ledger = Ledger::new(50, false, T0);
    let (p, r) = unknown_step(900);
    ledger.apply(
        &Step {
            processes: vec![p],
            reasons: vec![r],
            interfaces: Vec::new(),
        },
        T0,
    );
    let (p, r) = unknown_step(-600);
    ledger.apply(
        &Step {
            processes: vec![p, process_step(7, "curl", 600, 0)],
            reasons: vec![r],
            interfaces: Vec::new(),
        },
        T0 + 1,
    );
    assert_eq!(ledger.unknown[&UnknownReason::OwnerGone].rx_bytes, 900);
    assert_eq!(
        series(&ledger),
        vec![("curl".into(), 600), ("other".into(), 0)]
    );
    // The history keeps the net change: 300 unknown, 600 curl.
    let minute = ledger.take_minute(T0 + 2);
    let unknown: i64 = minute
        .traffic
        .iter()
        .filter(|(l, _)| l.kind == netop_history::Kind::Unknown)
        .map(|(_, t)| t.rx_bytes)
        .sum();
    assert_eq!(unknown, 300);
}

#[test]
fn the_cap_sends_the_rest_to_other_and_idle_members_give_up_their_place() {
    let mut ledger = Ledger::new(2, false, T0);
    let step = |list: Vec<ProcessStep>| Step {
        processes: list,
        ..Step::default()
    };
    ledger.apply(
        &step(vec![
            process_step(1, "small", 10, 0),
            process_step(2, "big", 1000, 0),
            process_step(3, "mid", 100, 0),
        ]),
        T0,
    );
    // The two largest of the first second take the places.
    assert_eq!(
        series(&ledger),
        vec![
            ("big".into(), 1000),
            ("mid".into(), 100),
            ("other".into(), 10)
        ]
    );
    // "mid" stays quiet; "big" and "small" go on.
    for s in 1..=MEMBER_IDLE + 1 {
        ledger.apply(
            &step(vec![
                process_step(2, "big", 1, 0),
                process_step(1, "small", 1, 0),
            ]),
            T0 + s,
        );
    }
    // "mid" gave its place up, "small" took it (with its total so far);
    // "other" never went down.
    let after = series(&ledger);
    assert_eq!(after[0].0, "big");
    assert_eq!(after[1].0, "small");
    assert_eq!(after[2].0, "other");
    assert!(after[2].1 >= 10, "{after:?}");
    let mut before_other = after[2].1;
    for s in 1..100 {
        ledger.apply(
            &step(vec![process_step(9, "late", 5, 0)]),
            T0 + MEMBER_IDLE + 1 + s,
        );
        let other = series(&ledger).last().map_or(0, |o| o.1);
        assert!(other >= before_other);
        before_other = other;
    }
    assert!(ledger.label_count() <= MAX_LABELS);
}

#[test]
fn a_minute_is_handed_over_when_the_next_begins() {
    let mut ledger = Ledger::new(50, false, T0);
    let step = Step {
        processes: vec![process_step(1, "curl", 100, 10)],
        reasons: Vec::new(),
        interfaces: vec![CounterStep {
            key: (2, "eth0".to_string()),
            total: Counters::default(),
            delta: Delta {
                rx_bytes: 100,
                tx_bytes: 10,
                rx_packets: 1,
                tx_packets: 1,
            },
        }],
    };
    for s in 0..60 {
        assert!(ledger.apply(&step, T0 + s).is_none(), "second {s}");
    }
    let minute = ledger.apply(&step, T0 + 60).expect("minute done");
    assert_eq!(minute.start, T0 as i64);
    let curl = minute
        .traffic
        .iter()
        .find(|(l, _)| l.name == "curl")
        .expect("curl");
    assert_eq!(curl.1.rx_bytes, 6000);
    let eth0 = minute
        .traffic
        .iter()
        .find(|(l, _)| l.kind == netop_history::Kind::Interface)
        .expect("eth0");
    assert_eq!(eth0.1.tx_bytes, 600);
    assert_eq!(ledger.interfaces["eth0"].rx_bytes, 6100);
    assert_eq!(ledger.seconds.len(), 61);
}

#[test]
fn seconds_are_bounded() {
    let mut ledger = Ledger::new(50, false, T0);
    let step = Step {
        processes: (0..100)
            .map(|i| process_step(i, &format!("p{i}"), 10 + i64::from(i), 0))
            .collect(),
        ..Step::default()
    };
    for s in 0..(SECONDS_KEPT as u64 + 10) {
        ledger.apply(&step, T0 + s);
    }
    assert_eq!(ledger.seconds.len(), SECONDS_KEPT);
    let last = ledger.seconds.back().expect("a second");
    assert_eq!(last.p.len(), 30);
    assert_eq!(last.p[0].0, "p99");
    assert_eq!(last.p.last().map(|p| p.0.as_str()), Some("other"));
}

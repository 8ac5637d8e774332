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
            exe: None,
            counters: Counters::default(),
            reasons: Vec::new(),
            delegates: Vec::new(),
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

/// DNS: queries and failures per resolver from the observer's figures,
/// each finished query once in the latency histogram and the log (a
/// pending one when it is answered, not before).
#[test]
fn dns_queries_are_counted_once_when_they_finish() {
    use hickory_proto::rr::RecordType;
    use netop_core::dns::fixtures;
    use netop_core::testing::StaticResolver;
    use netop_core::{Engine, EngineConfig};

    const CLIENT: &str = "10.0.0.5:40000";
    const SERVER: &str = "10.0.0.1:53";
    let at = |ms: u64| std::time::Duration::from_millis(T0 * 1000 + ms);
    let mut engine = Engine::new(EngineConfig {
        dns: Some(netop_core::dns::DnsConfig::default()),
        ..EngineConfig::default()
    });
    let mut resolver = StaticResolver::new(Vec::new());
    let mut feed = |engine: &mut Engine, frames: Vec<netop_core::testing::OwnedFrame>| {
        for f in &frames {
            engine.ingest_resolved(&f.as_frame(), &mut resolver);
        }
    };
    feed(
        &mut engine,
        vec![
            fixtures::udp(
                at(0),
                2,
                CLIENT,
                SERVER,
                &fixtures::query(1, "a.example", RecordType::A),
            ),
            fixtures::udp(
                at(12),
                2,
                SERVER,
                CLIENT,
                &fixtures::response(1, "a.example", RecordType::A, 0, &[]),
            ),
            fixtures::udp(
                at(20),
                2,
                CLIENT,
                SERVER,
                &fixtures::query(2, "b.example", RecordType::A),
            ),
            fixtures::udp(
                at(25),
                2,
                SERVER,
                CLIENT,
                &fixtures::response(2, "b.example", RecordType::A, 2, &[]),
            ),
            fixtures::udp(
                at(30),
                2,
                CLIENT,
                SERVER,
                &fixtures::query(3, "c.example", RecordType::A),
            ),
        ],
    );
    let mut ledger = Ledger::new(50, false, T0);
    let dns = engine.dns().expect("dns on");
    ledger.observe_dns(dns);
    ledger.observe_dns(dns);
    let server: IpAddr = "10.0.0.1".parse().expect("ip");
    assert_eq!(ledger.dns[&server].queries, 3);
    assert_eq!(ledger.dns[&server].failures, 1, "the SERVFAIL");
    assert_eq!(
        ledger.dns_log.len(),
        2,
        "the pending query is not logged yet"
    );
    let count = |ledger: &Ledger| {
        let registry = crate::service::metrics::registry(ledger, &Default::default(), false);
        let body =
            crate::service::metrics::encode(&registry, crate::service::metrics::Exposition::Text);
        body.lines()
            .find_map(|l| l.strip_prefix("netop_dns_latency_seconds_count{resolver=\"10.0.0.1\"} "))
            .map(|v| v.to_string())
    };
    assert_eq!(count(&ledger).as_deref(), Some("2"));
    feed(
        &mut engine,
        vec![fixtures::udp(
            at(40),
            2,
            SERVER,
            CLIENT,
            &fixtures::response(3, "c.example", RecordType::A, 0, &[]),
        )],
    );
    ledger.observe_dns(engine.dns().expect("dns on"));
    assert_eq!(ledger.dns_log.len(), 3);
    assert_eq!(
        ledger.dns_log.back().map(|e| e.query.as_str()),
        Some("c.example")
    );
    assert_eq!(count(&ledger).as_deref(), Some("3"));
    assert_eq!(ledger.dns[&server].queries, 3, "counted once");
    // The minute for the history has the same counts.
    let minute = ledger.take_minute(T0 + 60);
    assert_eq!(minute.dns.len(), 1);
    assert_eq!((minute.dns[0].1.queries, minute.dns[0].1.failures), (3, 1));
}

#[test]
fn history_rows_tell_two_programs_of_one_name_apart_and_metrics_do_not() {
    let mut ledger = Ledger::new(50, false, T0);
    let mut system = process_step(7, "python3", 100, 0);
    system.process.exe = Some("/usr/bin/python3.11".into());
    let mut venv = process_step(8, "python3", 5000, 0);
    venv.process.exe = Some("/srv/app/venv/bin/python3".into());
    ledger.apply(
        &Step {
            processes: vec![system, venv],
            reasons: Vec::new(),
            interfaces: Vec::new(),
        },
        T0,
    );
    assert_eq!(
        series(&ledger),
        vec![("python3".into(), 5100), ("other".into(), 0)],
        "one series per name: a path would be a label of high cardinality"
    );
    let minute = ledger.take_minute(T0 + 1);
    let mut rows: Vec<(String, String, i64)> = minute
        .traffic
        .iter()
        .map(|(l, t)| (l.name.clone(), l.exe.clone(), t.rx_bytes))
        .collect();
    rows.sort();
    assert_eq!(
        rows,
        vec![
            ("python3".into(), "/srv/app/venv/bin/python3".into(), 5000),
            ("python3".into(), "/usr/bin/python3.11".into(), 100),
        ]
    );
}

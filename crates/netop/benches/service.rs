//! `netop serve`'s work with 1,000 live processes: the ledger taking a
//! second's change (every process moved bytes), and `/metrics` built and
//! encoded in both formats (the bound: under 10 ms). The top is
//! set to 1,000 so every process is its own series (the worst case; the
//! default 50 exports fewer).
//!
//! `cargo bench -p netop --bench service`

use criterion::{criterion_group, criterion_main, Criterion};
use netop::deltas::{Delta, ProcessStep, Step};
use netop::service::ledger::Ledger;
use netop::service::metrics::{self, Exposition, Status};
use netop_core::flow::Counters;
use netop_core::ProcessReport;

const PROCESSES: u32 = 1_000;
const T0: u64 = 1_764_666_000;

fn step(round: i64) -> Step {
    Step {
        processes: (0..PROCESSES)
            .map(|i| ProcessStep {
                process: ProcessReport {
                    pid: Some(1000 + i),
                    start_time: u64::from(i),
                    name: format!("worker-{i:04}"),
                    user: ["root", "www-data", "postgres", "alice"][i as usize % 4].to_string(),
                    container: None,
                    exe: Some(format!("/usr/lib/app/bin/worker-{i:04}").into()),
                    counters: Counters::default(),
                    reasons: Vec::new(),
                    delegates: Vec::new(),
                },
                delta: Delta {
                    rx_bytes: 1500 * (round + i64::from(i)),
                    tx_bytes: 300 * (round + i64::from(i)),
                    rx_packets: round + 1,
                    tx_packets: round + 1,
                },
            })
            .collect(),
        ..Step::default()
    }
}

fn bench(c: &mut Criterion) {
    let mut ledger = Ledger::new(PROCESSES as usize, false, T0);
    let mut second = T0;
    c.bench_function("ledger apply, 1000 processes", |b| {
        let s = step(1);
        b.iter(|| {
            second += 1;
            ledger.apply(&s, second)
        })
    });
    let status = Status {
        owner_mode: "events".into(),
        kernel_drops: 0,
        lost_events: 0,
        version: "bench".into(),
    };
    for (name, format) in [
        ("/metrics text, 1000 processes", Exposition::Text),
        (
            "/metrics openmetrics, 1000 processes",
            Exposition::OpenMetrics,
        ),
    ] {
        c.bench_function(name, |b| {
            b.iter(|| metrics::encode(&metrics::registry(&ledger, &status, false), format))
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);

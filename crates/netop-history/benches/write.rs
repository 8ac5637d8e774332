//! One minute of history for 1,000 processes (every one moved bytes, each
//! with its executable's path), written in one transaction, as `netop serve` does once a minute (the
//! issue's bound: under 50 ms). Each iteration writes the next minute.
//!
//! `cargo bench -p netop-history --bench write`

use criterion::{criterion_group, criterion_main, Criterion};
use netop_history::{History, Label, Minute, Retention, Traffic, MINUTE};

const PROCESSES: usize = 1_000;

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut history =
        History::create(&dir.path().join("history.db"), Retention::default()).expect("create");
    let labels: Vec<Label> = (0..PROCESSES)
        .map(|i| {
            Label::process(&format!("worker-{i:04}"), "www-data", None)
                .with_exe(Some(&format!("/usr/lib/app/bin/worker-{i:04}")))
        })
        .collect();
    let mut start = 1_764_633_600;
    c.bench_function("history write, 1000 processes", |b| {
        b.iter(|| {
            start += MINUTE;
            let minute = Minute {
                start,
                traffic: labels
                    .iter()
                    .map(|l| {
                        (
                            l.clone(),
                            Traffic {
                                rx_bytes: 150_000,
                                tx_bytes: 30_000,
                                rx_packets: 100,
                                tx_packets: 100,
                            },
                        )
                    })
                    .collect(),
                dns: Vec::new(),
            };
            history.write(&minute, start + MINUTE).expect("write")
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);

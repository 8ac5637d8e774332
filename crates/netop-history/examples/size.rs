//! The history file's size for a busy host: 500 processes, each moving
//! bytes every minute for a day (the worst case: a minute row for every
//! process every minute), then a week of such days folded into hours.
//!
//! `cargo run --release -p netop-history --example size [PROCESSES] [DAYS]`
//! prints the sizes docs/SERVICE.md quotes.

use netop_history::{History, Label, Minute, Retention, Traffic, HOUR, MINUTE};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let processes: usize = args.next().map_or(Ok(500), |a| a.parse())?;
    let days: i64 = args.next().map_or(Ok(1), |a| a.parse())?;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("history.db");
    let mut history = History::create(&path, Retention::default())?;
    let labels: Vec<Label> = (0..processes)
        .map(|i| {
            let container = format!("docker:{:012x}", i * 7919);
            Label::process(
                &format!("worker-{i:04}"),
                ["root", "www-data", "postgres", "alice", "bob"][i % 5],
                (i % 3 == 0).then_some(container.as_str()),
            )
        })
        .collect();
    let start = 1_764_633_600; // a midnight, UTC
    let started = std::time::Instant::now();
    let mut slowest = std::time::Duration::ZERO;
    for m in 0..days * 1440 {
        let t = start + m * MINUTE;
        let minute = Minute {
            start: t,
            traffic: labels
                .iter()
                .enumerate()
                .map(|(i, l)| {
                    let n = (i as i64 + 1) * (m % 97 + 1);
                    (
                        l.clone(),
                        Traffic {
                            rx_bytes: n * 1500,
                            tx_bytes: n * 300,
                            rx_packets: n,
                            tx_packets: n,
                        },
                    )
                })
                .chain(["eth0", "lo"].map(|i| (Label::interface(i), Traffic::default())))
                .collect(),
            dns: Vec::new(),
        };
        let write = std::time::Instant::now();
        history.write(&minute, t + MINUTE)?;
        slowest = slowest.max(write.elapsed());
        if m % 1440 == 1439 {
            history.checkpoint()?;
            println!(
                "{processes} processes, day {}: {:.1} MiB",
                m / 1440 + 1,
                history.size() as f64 / 1048576.0
            );
        }
    }
    println!(
        "writes: {:.1} ms a minute on average, slowest {:.1} ms",
        started.elapsed().as_secs_f64() * 1000.0 / (days * 1440) as f64,
        slowest.as_secs_f64() * 1000.0
    );
    // A year of hour rows for the same processes: what remains after the
    // minutes are folded.
    let end = start + days * 86_400;
    history.age(end + 8 * 86_400)?;
    history.checkpoint()?;
    println!(
        "after folding into hours: file {:.1} MiB, in use {:.2} MiB ({} hour rows a day; \
         free pages are reused before the file grows)",
        history.size() as f64 / 1048576.0,
        history.used_bytes()? as f64 / 1048576.0,
        24 * processes * days as usize
    );
    let _ = HOUR;
    Ok(())
}

//! The NDJSON line against its golden file (`UPDATE_GOLDEN=1` rewrites it
//! after a deliberate change of the contract, which also raises
//! `SCHEMA_VERSION` when a field changes meaning or goes away).

use std::path::PathBuf;
use std::time::Duration;

use netop_core::engine::InterfaceReport;
use netop_core::flow::Counters;
use netop_core::{Container, EngineReport, ProcessReport, UnknownReason};

use super::*;
use netop::deltas::Deltas;

fn counters(c: [u64; 4]) -> Counters {
    Counters {
        rx_bytes: c[0],
        tx_bytes: c[1],
        rx_packets: c[2],
        tx_packets: c[3],
    }
}

/// Two reports a second apart: curl keeps downloading, chrome appears,
/// some unknown bytes find their owner.
fn reports() -> [EngineReport; 2] {
    let process = |pid, name: &str, c| ProcessReport {
        pid: Some(pid),
        start_time: u64::from(pid) * 10,
        name: name.to_string(),
        user: "alice".to_string(),
        container: (name == "curl").then(|| Container {
            runtime: "docker".to_string(),
            name: "3f2a1b4c5d6e".to_string(),
        }),
        exe: None,
        counters: counters(c),
        reasons: Vec::new(),
        delegates: Vec::new(),
    };
    let unknown = |kernel: u64, gone: u64| ProcessReport {
        pid: None,
        start_time: 0,
        name: "unknown".to_string(),
        user: String::new(),
        container: None,
        exe: None,
        counters: counters([kernel + gone, 0, 2, 0]),
        reasons: vec![
            (UnknownReason::Kernel, counters([kernel, 0, 1, 0])),
            (UnknownReason::OwnerGone, counters([gone, 0, 1, 0])),
        ],
        delegates: Vec::new(),
    };
    let report = |processes, eth0| EngineReport {
        processes,
        interfaces: vec![InterfaceReport {
            index: 2,
            name: "eth0".to_string(),
            counters: counters(eth0),
        }],
        capture: Default::default(),
        stats: Default::default(),
        flows: 0,
    };
    [
        report(
            vec![
                process(5678, "curl", [50_000, 1_000, 40, 20]),
                unknown(98, 1_400),
            ],
            [51_498, 1_000, 42, 20],
        ),
        report(
            vec![
                process(5678, "curl", [150_000, 3_000, 110, 50]),
                process(1842, "chrome", [20_000, 4_000, 20, 10]),
                unknown(98, 1_000),
            ],
            [171_098, 7_000, 132, 60],
        ),
    ]
}

fn lines() -> String {
    let mut deltas = Deltas::new();
    let t0 = Duration::from_millis(1_764_666_000_000);
    reports()
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let at = t0 + Duration::from_secs(i as u64);
            line(&deltas.step(r), at, Duration::from_millis(1_000)) + "\n"
        })
        .collect()
}

#[test]
fn ndjson_matches_golden() {
    let actual = lines();
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/stream.ndjson");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &actual).expect("write golden");
    }
    let expected =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(actual, expected, "the stream differs from its golden file");
}

#[test]
fn each_line_is_one_object_with_the_schema_fields() {
    for text in lines().lines() {
        let v: serde_json::Value = serde_json::from_str(text).expect("a line is JSON");
        assert_eq!(v["schema_version"], SCHEMA_VERSION);
        assert!(v["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')));
        assert_eq!(v["interval"], 1.0);
        for p in v["processes"].as_array().expect("processes") {
            for field in ["pid", "start_time", "process", "user", "container"] {
                assert!(p.get(field).is_some(), "{field} missing in {p}");
            }
            assert!(p["total"]["rx_bytes"].is_u64());
        }
    }
}

#[test]
fn deltas_in_lines_sum_to_the_last_totals() {
    let text = lines();
    let mut sums = std::collections::BTreeMap::<String, i64>::new();
    let mut totals = std::collections::BTreeMap::<String, u64>::new();
    for l in text.lines() {
        let v: serde_json::Value = serde_json::from_str(l).expect("json");
        for p in v["processes"].as_array().expect("processes") {
            let name = p["process"].as_str().expect("name").to_string();
            *sums.entry(name.clone()).or_default() += p["rx_bytes"].as_i64().expect("delta");
            totals.insert(name, p["total"]["rx_bytes"].as_u64().expect("total"));
        }
    }
    for (name, total) in totals {
        assert_eq!(sums[&name], total as i64, "{name}");
    }
}

/// A writer whose reader went away.
struct ClosedPipe;

impl Write for ClosedPipe {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        Err(io::ErrorKind::BrokenPipe.into())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_closed_pipe_stops_the_writer() {
    let engine = Engine::new(EngineConfig::default());
    let mut writer = Writer {
        out: ClosedPipe,
        deltas: Deltas::new(),
        last: Instant::now(),
        lines: 0,
        failed: None,
    };
    assert!(!writer.emit(&engine, false));
    assert!(
        !writer.emit(&engine, true),
        "nothing is written after a failure"
    );
    assert_eq!(
        writer.failed.map(|e| e.kind()),
        Some(io::ErrorKind::BrokenPipe)
    );
}

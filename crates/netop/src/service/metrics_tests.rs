//! `/metrics` against golden files in both formats, content negotiation.

use std::path::PathBuf;

use netop_core::flow::Counters;
use netop_core::UnknownReason;

use super::*;
use crate::deltas::{CounterStep, Delta, Step};
use crate::service::ledger::tests::process_step;

/// The encoders write a family's series in hash order: sort each block of
/// samples (between comment lines) so the file is stable.
fn stable(body: &str) -> String {
    let mut out = Vec::new();
    let mut block: Vec<&str> = Vec::new();
    for line in body.lines() {
        if line.starts_with('#') {
            block.sort_unstable();
            out.append(&mut block);
            out.push(line);
        } else {
            block.push(line);
        }
    }
    block.sort_unstable();
    out.append(&mut block);
    out.join("\n") + "\n"
}

fn golden(name: &str, actual: &str) {
    let actual = stable(actual);
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &actual).expect("write golden");
    }
    let expected =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(actual, expected, "{name} differs from its golden file");
}

/// Three processes under a cap of two, an interface, unknown bytes; no
/// DNS (the histogram's buckets are covered by the end-to-end test).
fn ledger() -> Ledger {
    let mut ledger = Ledger::new(2, false, 1_764_666_000);
    let d = |rx, tx| Delta {
        rx_bytes: rx,
        tx_bytes: tx,
        rx_packets: rx / 1000,
        tx_packets: tx / 1000,
    };
    ledger.apply(
        &Step {
            processes: vec![
                process_step(1842, "chrome", 1_200_000, 340_000),
                process_step(5678, "curl", 50_000, 10_000),
                process_step(77, "sshd", 4_000, 9_000),
            ],
            reasons: vec![CounterStep {
                key: UnknownReason::Kernel,
                total: Counters::default(),
                delta: d(45_000, 0),
            }],
            interfaces: vec![CounterStep {
                key: (2, "eth0".to_string()),
                total: Counters::default(),
                delta: d(1_299_000, 359_000),
            }],
        },
        1_764_666_000,
    );
    ledger
}

fn status() -> Status {
    Status {
        owner_mode: "events".to_string(),
        kernel_drops: 3,
        lost_events: 0,
        version: "0.1.0".to_string(),
    }
}

#[test]
fn text_format_matches_golden() {
    let body = encode(&registry(&ledger(), &status(), false), Exposition::Text);
    golden("metrics.txt", &body);
    assert!(body.contains(
        "netop_process_network_receive_bytes_total{process=\"chrome\",user=\"alice\"} 1200000"
    ));
    assert!(body.contains("process=\"other\""));
    assert!(!body.contains("pid"));
}

#[test]
fn openmetrics_matches_golden() {
    let body = encode(
        &registry(&ledger(), &status(), false),
        Exposition::OpenMetrics,
    );
    golden("metrics.openmetrics.txt", &body);
    assert!(body.ends_with("# EOF\n"));
}

#[test]
fn containers_add_a_label() {
    let body = encode(&registry(&ledger(), &status(), true), Exposition::Text);
    assert!(body.contains("container=\"\""), "{body}");
}

#[test]
fn negotiation_prefers_openmetrics_only_when_asked() {
    use Exposition::*;
    assert_eq!(Exposition::negotiate(None), Text);
    assert_eq!(Exposition::negotiate(Some("text/plain")), Text);
    assert_eq!(Exposition::negotiate(Some("*/*")), Text);
    // What Prometheus sends.
    assert_eq!(
        Exposition::negotiate(Some(
            "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
        )),
        OpenMetrics
    );
    assert_eq!(
        Exposition::negotiate(Some("application/openmetrics-text;q=0")),
        Text
    );
}

//! Golden tests of `--dns-log` in TSV and JSON (pretty prints local time,
//! so its test checks everything but the clock). `UPDATE_GOLDEN=1`
//! rewrites the files after a deliberate change of the contract.

use std::path::PathBuf;
use std::time::Duration;

use netop_core::dns::{QueryRecord, QueryStatus, ResolverStats};

use super::*;

fn record(seq: u64, pid: Option<u32>, process: &str, name: &str, qtype: &str) -> QueryRecord {
    QueryRecord {
        seq,
        // 2023-11-14T22:13:20.250Z
        ts: Duration::from_millis(1_700_000_000_250 + seq * 1_000),
        pid,
        process: process.to_string(),
        name: name.to_string(),
        qtype: qtype.to_string(),
        response: String::new(),
        status: QueryStatus::Pending,
        latency: None,
        resolver: "192.0.2.53:53".parse().expect("addr"),
        client: "192.0.2.10:40000".parse().expect("addr"),
        ifindex: 2,
        tcp: false,
        retransmits: 0,
        upstream: None,
        downstream: None,
    }
}

fn records() -> Vec<QueryRecord> {
    let mut a = record(0, Some(1842), "firefox", "github.com", "A");
    a.response = "140.82.121.4".into();
    a.status = QueryStatus::Answered;
    a.latency = Some(Duration::from_micros(12_345));
    a.resolver = "127.0.0.53:53".parse().expect("addr");
    a.upstream = Some(1);
    let mut b = record(1, Some(77), "systemd-resolve", "github.com", "A");
    b.response = "140.82.121.4".into();
    b.status = QueryStatus::Answered;
    b.latency = Some(Duration::from_micros(11_000));
    b.downstream = Some(0);
    let mut c = record(2, None, "unknown", "nonexistent.local", "AAAA");
    c.response = "NXDOMAIN".into();
    c.status = QueryStatus::NxDomain;
    c.latency = Some(Duration::from_micros(45_000));
    let mut d = record(3, Some(5678), "tab\tname", "slow.example", "HTTPS");
    d.response = "timeout".into();
    d.status = QueryStatus::Timeout;
    vec![
        a,
        b,
        c,
        d,
        record(4, Some(5678), "curl", "example.com", "A"),
    ]
}

fn render(format: Format) -> String {
    let records = records();
    let refs: Vec<&QueryRecord> = records.iter().collect();
    let mut out = Vec::new();
    let resolvers = [ResolverStats {
        ifindex: 2,
        interface: "eth0".into(),
        server: "192.0.2.53".parse().expect("ip"),
        configured: true,
        queries: 4,
        answered: 2,
        timeouts: 1,
        failures: 1,
        avg_latency: Some(Duration::from_micros(28_000)),
        p95_latency: Some(Duration::from_micros(45_000)),
    }];
    write_dns_log(format, &refs, &resolvers, &mut out).expect("write");
    String::from_utf8(out).expect("utf-8")
}

fn golden(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).expect("write golden");
    }
    let expected = std::fs::read_to_string(&path).expect("golden file exists");
    assert_eq!(
        actual, expected,
        "{name} changed; UPDATE_GOLDEN=1 if deliberate"
    );
}

#[test]
fn tsv_matches_golden() {
    let out = render(Format::Tsv);
    assert_eq!(out.lines().next(), Some(DNS_COLUMNS.join("\t").as_str()));
    for line in out.lines() {
        assert_eq!(line.split('\t').count(), DNS_COLUMNS.len(), "{line:?}");
    }
    golden("dns_log.tsv", &out);
}

#[test]
fn json_matches_golden() {
    let out = render(Format::Json);
    let parsed: serde_json::Value = serde_json::from_str(&out).expect("valid json");
    let rows = parsed.as_array().expect("array");
    assert_eq!(rows.len(), 5);
    assert_eq!(rows[0]["latency_ms"], 12.345);
    assert!(rows[2]["pid"].is_null());
    assert!(rows[4]["latency_ms"].is_null());
    golden("dns_log.json", &out);
}

#[test]
fn pretty_lists_every_query_without_control_characters() {
    let out = render(Format::Pretty);
    assert!(out.starts_with("DNS Resolvers\n"));
    let eth0 = out
        .lines()
        .find(|l| l.starts_with("eth0"))
        .expect("resolver row");
    let cols: Vec<&str> = eth0.split_whitespace().collect();
    assert_eq!(cols[..6], ["eth0", "192.0.2.53", "4", "2", "1", "33.3%"]);
    assert!(out.contains("DNS Query Log\n"));
    assert!(out.contains("firefox"));
    assert!(out.contains("12.3 ms"));
    assert!(out.contains("NXDOMAIN"));
    assert!(out.contains("tab?name"));
    assert!(out.ends_with("5 queries\n"));
    assert!(!out.contains('\x1b'));
}

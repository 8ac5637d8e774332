//! The routes with good and bad requests: tokens, unknown paths, ranges,
//! content negotiation, the history behind the longer ranges.

use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::{Arc, Condvar, Mutex};

use netop_history::{History, Label, Minute, Retention, Traffic};

use super::*;
use netop::deltas::{Delta, ProcessStep, Step};
use netop_core::flow::Counters;
use netop_core::ProcessReport;

use crate::serve::http::Body;

fn process_step(pid: u32, name: &str, rx: i64, tx: i64) -> ProcessStep {
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
            rx_packets: 1,
            tx_packets: 1,
        },
    }
}

fn shared(history: PathBuf, token: Option<&str>) -> Arc<Shared> {
    let now = now();
    let mut ledger = Ledger::new(50, false, now);
    ledger.apply(
        &Step {
            processes: vec![process_step(10, "curl", 5000, 100)],
            ..Step::default()
        },
        now,
    );
    Arc::new(Shared {
        ledger: Mutex::new(ledger),
        status: Mutex::new(Status::default()),
        tick: Mutex::new(0),
        ticked: Condvar::new(),
        history,
        containers: false,
        token: token.map(str::to_string),
        stop: Arc::new(AtomicBool::new(false)),
        streams: AtomicUsize::new(0),
    })
}

fn get(path: &str, headers: &[(&str, &str)]) -> Request {
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    Request {
        method: "GET".into(),
        path: path.into(),
        query: query.into(),
        headers: headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
    }
}

fn body(r: &Response) -> String {
    match &r.body {
        Body::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        Body::Stream(_) => "<stream>".into(),
    }
}

#[test]
fn pages_and_unknown_paths() {
    let s = shared(PathBuf::from("/nonexistent/h.db"), None);
    assert_eq!(handle(&s, &get("/", &[])).status, 200);
    assert!(body(&handle(&s, &get("/", &[]))).contains("app.js"));
    assert_eq!(handle(&s, &get("/app.js", &[])).status, 200);
    assert_eq!(handle(&s, &get("/healthz", &[])).status, 200);
    for bad in [
        "/../etc/passwd",
        "/etc/passwd",
        "/app.js/",
        "/web/index.html",
        "//",
        "/metrics.txt",
    ] {
        assert_eq!(handle(&s, &get(bad, &[])).status, 404, "{bad}");
    }
}

#[test]
fn a_token_is_required_when_set() {
    let s = shared(PathBuf::from("/nonexistent/h.db"), Some("s3cret"));
    let denied = handle(&s, &get("/metrics", &[]));
    assert_eq!(denied.status, 401);
    assert!(denied.headers.iter().any(|(n, _)| *n == "WWW-Authenticate"));
    assert_eq!(
        handle(&s, &get("/metrics", &[("authorization", "Bearer wrong")])).status,
        401
    );
    assert_eq!(
        handle(&s, &get("/metrics", &[("authorization", "Bearer s3cre")])).status,
        401
    );
    assert_eq!(
        handle(&s, &get("/metrics", &[("authorization", "Basic s3cret")])).status,
        401
    );
    assert_eq!(
        handle(&s, &get("/metrics", &[("authorization", "Bearer s3cret")])).status,
        200
    );
    assert_eq!(handle(&s, &get("/api/dns?token=s3cret", &[])).status, 200);
    assert_eq!(handle(&s, &get("/api/dns?token=s3c%72et", &[])).status, 200);
    assert_eq!(handle(&s, &get("/api/dns?token=nope", &[])).status, 401);
    assert_eq!(handle(&s, &get("/api/live", &[])).status, 401);
    // The page and its script carry no data.
    assert_eq!(handle(&s, &get("/", &[])).status, 200);
    assert_eq!(handle(&s, &get("/app.js", &[])).status, 200);
}

#[test]
fn metrics_are_negotiated() {
    let s = shared(PathBuf::from("/nonexistent/h.db"), None);
    let text = handle(&s, &get("/metrics", &[]));
    assert!(text.content_type.starts_with("text/plain; version=0.0.4"));
    assert!(body(&text).contains(
        "netop_process_network_receive_bytes_total{process=\"curl\",user=\"alice\"} 5000"
    ));
    let om = handle(
        &s,
        &get(
            "/metrics",
            &[("accept", "application/openmetrics-text;version=1.0.0")],
        ),
    );
    assert!(om.content_type.starts_with("application/openmetrics-text"));
    assert!(body(&om).ends_with("# EOF\n"));
}

#[test]
fn ranges_from_memory_and_from_history() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("h.db");
    let s = shared(path.clone(), None);
    assert_eq!(
        handle(&s, &get("/api/series?range=forever", &[])).status,
        400
    );
    let live: serde_json::Value =
        serde_json::from_str(&body(&handle(&s, &get("/api/series?range=5m", &[])))).expect("json");
    assert_eq!(live["source"], "memory");
    assert_eq!(live["points"][0]["p"][0][0], "curl");
    // No database yet: the longer ranges are unavailable, not an error page.
    assert_eq!(handle(&s, &get("/api/series?range=24h", &[])).status, 503);
    let mut h = History::create(&path, Retention::default()).expect("create");
    let minute = (now() as i64 / 60 - 5) * 60;
    h.write(
        &Minute {
            start: minute,
            traffic: vec![(
                Label::process("rsync", "root", None),
                Traffic {
                    rx_bytes: 700,
                    tx_bytes: 9000,
                    rx_packets: 1,
                    tx_packets: 7,
                },
            )],
            dns: Vec::new(),
        },
        minute + 60,
    )
    .expect("write");
    let day: serde_json::Value =
        serde_json::from_str(&body(&handle(&s, &get("/api/series?range=24h", &[])))).expect("json");
    assert_eq!(day["source"], "history");
    assert_eq!(
        day["points"][0]["p"][0],
        serde_json::json!(["rsync", 700, 9000])
    );
}

#[test]
fn the_dns_log_is_json() {
    let s = shared(PathBuf::from("/nonexistent/h.db"), None);
    let r = handle(&s, &get("/api/dns", &[]));
    assert_eq!(r.status, 200);
    assert_eq!(body(&r), "[]");
}

#[test]
fn live_streams_are_capped() {
    let s = shared(PathBuf::from("/nonexistent/h.db"), None);
    let held: Vec<Response> = (0..MAX_STREAMS)
        .map(|_| handle(&s, &get("/api/live", &[])))
        .collect();
    assert!(held.iter().all(|r| r.status == 200));
    assert_eq!(handle(&s, &get("/api/live", &[])).status, 503);
    drop(held);
    assert_eq!(handle(&s, &get("/api/live", &[])).status, 200);
}

//! What `netop serve` answers, by path (a fixed table: nothing is looked
//! up on disk but the history database):
//!
//! | path | answer |
//! |---|---|
//! | `/` | the dashboard (embedded HTML) |
//! | `/app.js` | its script (embedded) |
//! | `/metrics` | Prometheus text or OpenMetrics (`Accept`) |
//! | `/api/live` | server-sent events: one second of traffic a second |
//! | `/api/series?range=5m\|30m\|1h\|24h\|7d\|all` | per-process traffic over the range |
//! | `/api/dns` | the last DNS queries |
//! | `/healthz` | `ok` |
//!
//! With a token (`--token-file`) every path but the page and its script
//! needs `Authorization: Bearer TOKEN` or, for the browser, `?token=TOKEN`
//! (an `EventSource` cannot set headers; the page passes on the token of
//! its own URL).

use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use serde::Serialize;

use super::http::{Body, Request, Response};
use netop::service::ledger::Ledger;
use netop::service::metrics::{self, Exposition, Status};

const INDEX_HTML: &str = include_str!("web/index.html");
const APP_JS: &str = include_str!("web/app.js");

/// Server-sent event streams open at once, at most.
const MAX_STREAMS: usize = 8;
/// A comment line on an idle stream this often, so proxies keep it open.
const KEEPALIVE: Duration = Duration::from_secs(15);

/// What the capture thread and the HTTP threads share.
#[derive(Debug)]
pub struct Shared {
    pub ledger: Mutex<Ledger>,
    pub status: Mutex<Status>,
    /// Bumped after each tick; streams wait on it.
    pub tick: Mutex<u64>,
    pub ticked: Condvar,
    pub history: PathBuf,
    pub containers: bool,
    pub token: Option<String>,
    pub stop: Arc<AtomicBool>,
    pub streams: AtomicUsize,
}

impl Shared {
    /// Wakes the streams after the ledger changed.
    pub fn notify(&self) {
        if let Ok(mut t) = self.tick.lock() {
            *t += 1;
        }
        self.ticked.notify_all();
    }
}

/// Compares in time independent of where the strings differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

fn authorized(shared: &Shared, r: &Request) -> bool {
    let Some(token) = &shared.token else {
        return true;
    };
    let bearer = r
        .header("authorization")
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let query = r.param("token");
    bearer.or(query.as_deref()).is_some_and(|t| same(t, token))
}

/// Answers one request.
pub fn handle(shared: &Arc<Shared>, r: &Request) -> Response {
    // The page and its script hold no data (the same for everyone); the
    // data comes from the API, which the page asks with the token.
    let asset = matches!(r.path.as_str(), "/" | "/index.html" | "/app.js");
    if !asset && !authorized(shared, r) {
        return Response::error(401).with_header("WWW-Authenticate", "Bearer realm=\"netop\"");
    }
    match r.path.as_str() {
        "/" | "/index.html" => Response::ok("text/html; charset=utf-8", INDEX_HTML).with_header(
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'",
        ),
        "/app.js" => Response::ok("text/javascript; charset=utf-8", APP_JS),
        "/metrics" => metrics_page(shared, r),
        "/api/live" => live(shared),
        "/api/series" => series(shared, r),
        "/api/dns" => dns(shared),
        "/healthz" => Response::ok("text/plain; charset=utf-8", "ok\n"),
        _ => Response::error(404),
    }
}

fn metrics_page(shared: &Shared, r: &Request) -> Response {
    let format = Exposition::negotiate(r.header("accept"));
    let status = shared.status.lock().map(|s| s.clone()).unwrap_or_default();
    let Ok(ledger) = shared.ledger.lock() else {
        return Response::error(500);
    };
    let registry = metrics::registry(&ledger, &status, shared.containers);
    drop(ledger);
    Response::ok(format.content_type(), metrics::encode(&registry, format))
}

/// A range of the dashboard: how far back, and the bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub seconds: u64,
    pub step: u64,
    /// Read from the history database rather than memory.
    pub from_history: bool,
}

impl Range {
    pub fn parse(name: &str) -> Option<Range> {
        let (seconds, step, from_history) = match name {
            "5m" => (300, 1, false),
            "30m" => (1800, 5, false),
            "1h" => (3600, 10, false),
            "24h" => (86_400, 300, true),
            "7d" => (7 * 86_400, 3600, true),
            "all" => (10 * 365 * 86_400, 86_400, true),
            _ => return None,
        };
        Some(Range {
            seconds,
            step,
            from_history,
        })
    }
}

/// One bucket of a series.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Point {
    pub t: u64,
    /// (process, rx bytes, tx bytes)
    pub p: Vec<(String, i64, i64)>,
}

#[derive(Debug, Serialize)]
struct Series {
    range: String,
    step: u64,
    source: &'static str,
    points: Vec<Point>,
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn json(value: &impl Serialize) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => Response::ok("application/json", body),
        Err(_) => Response::error(500),
    }
}

fn series(shared: &Shared, r: &Request) -> Response {
    let name = r.param("range").unwrap_or_else(|| "5m".to_string());
    let name = name.as_str();
    let Some(range) = Range::parse(name) else {
        return Response::error(400);
    };
    let until = now();
    let since = until.saturating_sub(range.seconds);
    let points = if range.from_history {
        let history = match netop_history::History::open_read_only(&shared.history) {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(error = %e, "dashboard: cannot read the history");
                return Response::error(503);
            }
        };
        let samples = match history.series(since as i64, until as i64 + 60, range.step as i64) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "dashboard: cannot read the history");
                return Response::error(500);
            }
        };
        let mut points: Vec<Point> = Vec::new();
        for s in samples {
            let t = s.start.max(0) as u64;
            if points.last().is_none_or(|p| p.t != t) {
                points.push(Point { t, p: Vec::new() });
            }
            if let Some(p) = points.last_mut() {
                p.p.push((s.process, s.traffic.rx_bytes, s.traffic.tx_bytes));
            }
        }
        points
    } else {
        let Ok(ledger) = shared.ledger.lock() else {
            return Response::error(500);
        };
        bucket_seconds(&ledger, since, range.step)
    };
    json(&Series {
        range: name.to_string(),
        step: range.step,
        source: if range.from_history {
            "history"
        } else {
            "memory"
        },
        points,
    })
}

/// The ledger's seconds since `since`, summed into buckets of `step`.
pub fn bucket_seconds(ledger: &Ledger, since: u64, step: u64) -> Vec<Point> {
    let step = step.max(1);
    let mut points: Vec<Point> = Vec::new();
    for s in ledger.seconds.iter().filter(|s| s.t >= since) {
        let t = s.t - s.t % step;
        if points.last().is_none_or(|p| p.t != t) {
            points.push(Point { t, p: Vec::new() });
        }
        let Some(point) = points.last_mut() else {
            continue;
        };
        for (name, rx, tx) in &s.p {
            match point.p.iter_mut().find(|(n, _, _)| n == name) {
                Some(e) => {
                    e.1 += *rx as i64;
                    e.2 += *tx as i64;
                }
                None => point.p.push((name.clone(), *rx as i64, *tx as i64)),
            }
        }
    }
    points
}

fn dns(shared: &Shared) -> Response {
    let Ok(ledger) = shared.ledger.lock() else {
        return Response::error(500);
    };
    let log: Vec<_> = ledger.dns_log.iter().rev().cloned().collect();
    drop(ledger);
    json(&log)
}

/// Releases a stream's place when it ends.
struct StreamPlace(Arc<Shared>);

impl Drop for StreamPlace {
    fn drop(&mut self) {
        self.0.streams.fetch_sub(1, Ordering::AcqRel);
    }
}

fn live(shared: &Arc<Shared>) -> Response {
    if shared.streams.fetch_add(1, Ordering::AcqRel) >= MAX_STREAMS {
        shared.streams.fetch_sub(1, Ordering::AcqRel);
        return Response::error(503);
    }
    let place = StreamPlace(Arc::clone(shared));
    let mut seen = shared.tick.lock().map_or(0, |t| *t);
    let stream = move |out: &mut dyn Write| -> io::Result<bool> {
        let shared = &place.0;
        if shared.stop.load(Ordering::Relaxed) {
            return Ok(false);
        }
        let Ok(guard) = shared.tick.lock() else {
            return Ok(false);
        };
        let (guard, timeout) = shared
            .ticked
            .wait_timeout_while(guard, KEEPALIVE, |t| *t == seen)
            .map_err(|_| io::Error::other("poisoned"))?;
        let tick = *guard;
        drop(guard);
        if timeout.timed_out() {
            out.write_all(b": keep-alive\n\n")?;
            return Ok(true);
        }
        seen = tick;
        let second = shared
            .ledger
            .lock()
            .ok()
            .and_then(|l| l.seconds.back().cloned());
        if let Some(second) = second {
            let data = serde_json::to_string(&second).map_err(io::Error::other)?;
            write!(out, "data: {data}\n\n")?;
        }
        Ok(true)
    };
    Response {
        status: 200,
        content_type: "text/event-stream",
        headers: Vec::new(),
        body: Body::Stream(Box::new(stream)),
    }
}

#[cfg(test)]
#[path = "routes_tests.rs"]
mod tests;

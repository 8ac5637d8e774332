//! `--dns-log`: the query log of a snapshot in the three formats, for
//! scripts that want to know what a machine resolved.
//!
//! The columns are a contract, defined once in [`DNS_COLUMNS`] and pinned
//! by golden tests: `time` (RFC 3339, UTC, milliseconds; local HH:MM:SS.mmm
//! in `pretty`), `pid` (`-` or null when unknown), `process`, `query`,
//! `type`, `response`, `latency_ms` (three decimals; empty or null while
//! unanswered), `resolver` (the server's address), `status`. JSON adds the
//! entry's `seq` and the `upstream`/`downstream` links between an
//! application's query to a local stub and the stub's own query. `pretty`,
//! for people, starts with the resolver statistics (the DNS view's top
//! pane).

use std::io::{self, Write};
use std::time::Duration;

use netop_core::dns::{QueryRecord, ResolverStats};
use serde::Serialize;

use super::cell;
use netop_cli::Format;

/// TSV columns and JSON fields (JSON then adds `seq`, `upstream`,
/// `downstream`).
pub const DNS_COLUMNS: [&str; 9] = [
    "time",
    "pid",
    "process",
    "query",
    "type",
    "response",
    "latency_ms",
    "resolver",
    "status",
];

/// Writes `records` (oldest first) in `format`; `pretty` also shows
/// `resolvers`.
pub fn write_dns_log(
    format: Format,
    records: &[&QueryRecord],
    resolvers: &[ResolverStats],
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        Format::Tsv => tsv(records, out),
        Format::Json | Format::Ndjson => json(records, out),
        Format::Pretty => {
            pretty_resolvers(resolvers, out)?;
            writeln!(out)?;
            pretty(records, out)
        }
    }?;
    out.flush()
}

/// RFC 3339 in UTC with milliseconds.
fn utc(ts: Duration) -> String {
    let secs = i64::try_from(ts.as_secs()).unwrap_or(i64::MAX);
    match chrono::DateTime::from_timestamp(secs, ts.subsec_nanos()) {
        Some(t) => t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        None => format!("{:.3}", ts.as_secs_f64()),
    }
}

fn local_clock(ts: Duration) -> String {
    let secs = i64::try_from(ts.as_secs()).unwrap_or(i64::MAX);
    match chrono::DateTime::from_timestamp(secs, ts.subsec_nanos()) {
        Some(t) => t
            .with_timezone(&chrono::Local)
            .format("%H:%M:%S%.3f")
            .to_string(),
        None => format!("{:.3}", ts.as_secs_f64()),
    }
}

fn latency_ms(latency: Option<Duration>) -> Option<String> {
    latency.map(|l| format!("{:.3}", l.as_secs_f64() * 1000.0))
}

fn tsv(records: &[&QueryRecord], out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "{}", DNS_COLUMNS.join("\t"))?;
    for r in records {
        let pid = r.pid.map_or_else(|| "-".to_string(), |p| p.to_string());
        writeln!(
            out,
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            utc(r.ts),
            pid,
            cell(&r.process),
            cell(&r.name),
            r.qtype,
            cell(&r.response),
            latency_ms(r.latency).unwrap_or_default(),
            r.resolver.ip(),
            r.status,
        )?;
    }
    Ok(())
}

#[derive(Serialize)]
struct JsonRow<'a> {
    time: String,
    pid: Option<u32>,
    process: &'a str,
    query: &'a str,
    #[serde(rename = "type")]
    qtype: &'a str,
    response: &'a str,
    latency_ms: Option<f64>,
    resolver: String,
    status: String,
    seq: u64,
    upstream: Option<u64>,
    downstream: Option<u64>,
}

fn json(records: &[&QueryRecord], out: &mut dyn Write) -> io::Result<()> {
    let rows: Vec<JsonRow<'_>> = records
        .iter()
        .map(|r| JsonRow {
            time: utc(r.ts),
            pid: r.pid,
            process: &r.process,
            query: &r.name,
            qtype: &r.qtype,
            response: &r.response,
            // Microsecond resolution, as milliseconds.
            latency_ms: r.latency.map(|l| l.as_micros() as f64 / 1000.0),
            resolver: r.resolver.ip().to_string(),
            status: r.status.to_string(),
            seq: r.seq,
            upstream: r.upstream,
            downstream: r.downstream,
        })
        .collect();
    serde_json::to_writer_pretty(&mut *out, &rows).map_err(io::Error::from)?;
    writeln!(out)
}

fn clip(text: &str, width: usize) -> String {
    let text = cell(text);
    if text.chars().count() <= width {
        return text;
    }
    let mut clipped: String = text.chars().take(width.saturating_sub(1)).collect();
    clipped.push('…');
    clipped
}

fn ms(latency: Option<Duration>) -> String {
    latency
        .map(|l| format!("{:.1} ms", l.as_secs_f64() * 1000.0))
        .unwrap_or_else(|| "-".to_string())
}

fn pretty_resolvers(resolvers: &[ResolverStats], out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "DNS Resolvers")?;
    writeln!(out, "{}", "=".repeat(96))?;
    let line = |out: &mut dyn Write, c: [&str; 8]| {
        writeln!(
            out,
            "{:<12} {:<40} {:>7} {:>8} {:>8} {:>9} {:>10} {:>10}",
            c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]
        )
    };
    line(
        out,
        [
            "INTERFACE",
            "SERVER",
            "QUERIES",
            "ANSWERED",
            "FAILURES",
            "FAIL_RATE",
            "AVG",
            "P95",
        ],
    )?;
    writeln!(out, "{}", "-".repeat(96))?;
    for r in resolvers {
        line(
            out,
            [
                &clip(&r.interface, 12),
                &r.server.to_string(),
                &r.queries.to_string(),
                &r.answered.to_string(),
                &r.failures.to_string(),
                &format!("{:.1}%", r.failure_rate() * 100.0),
                &ms(r.avg_latency),
                &ms(r.p95_latency),
            ],
        )?;
    }
    writeln!(out, "{}", "-".repeat(96))
}

fn pretty(records: &[&QueryRecord], out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "DNS Query Log")?;
    writeln!(out, "{}", "=".repeat(118))?;
    let line = |out: &mut dyn Write, cols: [&str; 9]| {
        writeln!(
            out,
            "{:<12} {:<7} {:<15} {:<30} {:<6} {:<24} {:>9} {:<15} {}",
            cols[0], cols[1], cols[2], cols[3], cols[4], cols[5], cols[6], cols[7], cols[8]
        )
    };
    line(
        out,
        [
            "TIME", "PID", "PROCESS", "QUERY", "TYPE", "RESPONSE", "LATENCY", "RESOLVER", "STATUS",
        ],
    )?;
    writeln!(out, "{}", "-".repeat(118))?;
    for r in records {
        let pid = r.pid.map_or_else(|| "-".to_string(), |p| p.to_string());
        let latency = r
            .latency
            .map(|l| format!("{:.1} ms", l.as_secs_f64() * 1000.0))
            .unwrap_or_default();
        line(
            out,
            [
                &local_clock(r.ts),
                &pid,
                &clip(&r.process, 15),
                &clip(&r.name, 30),
                &r.qtype,
                &clip(&r.response, 24),
                &latency,
                &r.resolver.ip().to_string(),
                &r.status.to_string(),
            ],
        )?;
    }
    writeln!(out, "{}", "-".repeat(118))?;
    writeln!(out, "{} queries", records.len())
}

#[cfg(test)]
#[path = "dns_log_tests.rs"]
mod tests;

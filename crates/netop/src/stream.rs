//! `--format ndjson`: the stream for pipelines. One JSON object a line per
//! `--interval`, until stopped (Ctrl-C, SIGTERM, a closed pipe) or for
//! `--duration`; each line is flushed as it is written.
//!
//! A line carries what moved in its interval (deltas, signed: see
//! `deltas.rs`) and the totals since netop started, per process (pid and
//! start time name it), per unknown reason and per interface. Only what
//! changed is listed, so an idle host writes short lines; summing a
//! process's deltas over the lines gives its last total. The fields are a
//! contract like the snapshot's: [`SCHEMA_VERSION`] changes when they do,
//! and `tests/golden/stream.ndjson` pins them.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use netop_cli::Args;
use netop_core::flow::Counters;
use netop_core::{Engine, EngineConfig};
use serde::Serialize;

use crate::failure::Failure;
use crate::platform;
use netop::deltas::{Delta, Deltas, Step};
use netop_lib::collect::{self, Tick};

/// The version of the line's fields; raised when a field changes meaning
/// or goes away (new fields may be added without it).
pub const SCHEMA_VERSION: u32 = 1;

/// One line. Field order is the output order.
#[derive(Serialize)]
struct Line<'a> {
    schema_version: u32,
    /// The end of the interval, RFC 3339 in UTC with milliseconds.
    timestamp: String,
    /// Seconds the interval lasted, measured.
    interval: f64,
    processes: Vec<ProcessLine<'a>>,
    unknown: Vec<ReasonLine>,
    interfaces: Vec<InterfaceLine<'a>>,
}

#[derive(Serialize)]
struct ProcessLine<'a> {
    /// `null` for traffic without an owner (`"process": "unknown"`).
    pid: Option<u32>,
    /// Clock ticks since boot (`/proc/PID/stat`); `null` when unknown.
    start_time: Option<u64>,
    process: &'a str,
    user: &'a str,
    container: Option<String>,
    #[serde(flatten)]
    delta: DeltaFields,
    total: TotalFields,
}

#[derive(Serialize)]
struct ReasonLine {
    reason: &'static str,
    #[serde(flatten)]
    delta: DeltaFields,
    total: TotalFields,
}

#[derive(Serialize)]
struct InterfaceLine<'a> {
    index: u32,
    interface: &'a str,
    #[serde(flatten)]
    delta: DeltaFields,
    total: TotalFields,
}

#[derive(Serialize)]
struct DeltaFields {
    rx_bytes: i64,
    tx_bytes: i64,
    rx_packets: i64,
    tx_packets: i64,
}

impl From<Delta> for DeltaFields {
    fn from(d: Delta) -> Self {
        DeltaFields {
            rx_bytes: d.rx_bytes,
            tx_bytes: d.tx_bytes,
            rx_packets: d.rx_packets,
            tx_packets: d.tx_packets,
        }
    }
}

#[derive(Serialize)]
struct TotalFields {
    rx_bytes: u64,
    tx_bytes: u64,
    rx_packets: u64,
    tx_packets: u64,
}

impl From<Counters> for TotalFields {
    fn from(c: Counters) -> Self {
        TotalFields {
            rx_bytes: c.rx_bytes,
            tx_bytes: c.tx_bytes,
            rx_packets: c.rx_packets,
            tx_packets: c.tx_packets,
        }
    }
}

/// RFC 3339 in UTC with milliseconds, from time since the Unix epoch.
pub fn utc(at: Duration) -> String {
    let secs = i64::try_from(at.as_secs()).unwrap_or(i64::MAX);
    chrono::DateTime::from_timestamp(secs, at.subsec_nanos())
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// One line of the stream (without its newline).
pub fn line(step: &Step, at: Duration, interval: Duration) -> String {
    let line = Line {
        schema_version: SCHEMA_VERSION,
        timestamp: utc(at),
        interval: (interval.as_secs_f64() * 1000.0).round() / 1000.0,
        processes: step
            .processes
            .iter()
            .map(|p| ProcessLine {
                pid: p.process.pid,
                start_time: (p.process.start_time != 0).then_some(p.process.start_time),
                process: &p.process.name,
                user: &p.process.user,
                container: p.process.container.as_ref().map(ToString::to_string),
                delta: p.delta.into(),
                total: p.process.counters.into(),
            })
            .collect(),
        unknown: step
            .reasons
            .iter()
            .map(|r| ReasonLine {
                reason: r.key.as_str(),
                delta: r.delta.into(),
                total: r.total.into(),
            })
            .collect(),
        interfaces: step
            .interfaces
            .iter()
            .map(|i| InterfaceLine {
                index: i.key.0,
                interface: &i.key.1,
                delta: i.delta.into(),
                total: i.total.into(),
            })
            .collect(),
    };
    // Serializing plain structs of numbers and strings cannot fail.
    serde_json::to_string(&line).unwrap_or_default()
}

/// Now, since the Unix epoch.
fn now() -> Duration {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
}

/// Writes lines to `out` as the engine's report changes.
struct Writer<W: Write> {
    out: W,
    deltas: Deltas,
    last: Instant,
    lines: u64,
    /// Set once a write failed; nothing more is written.
    failed: Option<io::Error>,
}

impl<W: Write> Writer<W> {
    /// Writes the interval's line; `false` once writing failed.
    fn emit(&mut self, engine: &Engine, last: bool) -> bool {
        if self.failed.is_some() {
            return false;
        }
        let step = self.deltas.step(&engine.report());
        let empty = step.processes.is_empty() && step.interfaces.is_empty();
        // The closing line (after the deadline or a stop) only when
        // something moved since the last one, or there was none.
        if last && empty && self.lines > 0 {
            return true;
        }
        let now_instant = Instant::now();
        let text = line(&step, now(), now_instant - self.last);
        self.last = now_instant;
        let written = writeln!(self.out, "{text}").and_then(|()| self.out.flush());
        match written {
            Ok(()) => {
                self.lines += 1;
                true
            }
            Err(e) => {
                self.failed = Some(e);
                false
            }
        }
    }
}

/// Streams until stopped, or for `--duration`.
pub fn run(args: &Args, stop: &AtomicBool) -> Result<(), Failure> {
    let mut backend = platform::open(args)?;
    let held = platform::confine(platform::Role::Capture);
    tracing::debug!(%held, "confined");
    if let Some(note) = platform::owners_note(backend.owners.as_ref()) {
        let _ = writeln!(io::stderr(), "{note}");
    }
    // A stream runs as long as a monitor (processes that exited leave
    // it), and filters as a snapshot does (its totals count only matching
    // traffic).
    let mut engine = Engine::new(EngineConfig {
        filter: args.filter.clone(),
        ..crate::engine_config(args, false)
    });
    let mut writer = Writer {
        out: io::stdout().lock(),
        deltas: Deltas::new(),
        last: Instant::now(),
        lines: 0,
        failed: None,
    };
    // The tick also runs once before the capture starts: nothing to say.
    let mut started = false;
    let mut tick = |engine: &mut Engine, _: &collect::Health| {
        if !std::mem::replace(&mut started, true) {
            writer.last = Instant::now();
            return;
        }
        if !writer.emit(engine, false) {
            stop.store(true, Ordering::Relaxed);
        }
    };
    collect::run(
        &mut backend,
        &mut engine,
        args.duration.map(Duration::from_secs_f64),
        stop,
        Some(Tick {
            every: Duration::from_secs_f64(args.interval),
            run: &mut tick,
        }),
    )?;
    writer.emit(&engine, true);
    match writer.failed {
        None => Ok(()),
        // A reader that stopped (`| head -1`) ends the stream quietly.
        Some(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Some(e) => Err(Failure::Runtime(anyhow::anyhow!(
            "cannot write output: {e}"
        ))),
    }
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;

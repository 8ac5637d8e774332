//! What moved since the last look: the engine's report is cumulative
//! (bytes since netop started, per process while the process is known);
//! the NDJSON stream and `netop serve` need what changed in each interval.
//!
//! [`Deltas`] remembers the totals it last saw per process (by pid and
//! start time, so a recycled pid is another process), per interface and
//! per unknown reason, and turns the next report into [`Step`]s. A process
//! the engine forgot (exited, idle) leaves the report; its bytes were
//! already in earlier steps, so it is simply dropped here too, and the
//! memory kept is bounded by the engine's own.
//!
//! A delta is signed: bytes first counted as `unknown` move to their
//! process when its owner turns up late, so the unknown totals (rarely)
//! shrink. Summing a stream's deltas gives its last totals exactly.

use netop_core::flow::Counters;
use netop_core::{EngineReport, ProcessReport, UnknownReason};
use rustc_hash::FxHashMap;

/// A signed change of the four counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Delta {
    pub rx_bytes: i64,
    pub tx_bytes: i64,
    pub rx_packets: i64,
    pub tx_packets: i64,
}

impl Delta {
    /// `now - before`, per counter.
    pub fn between(now: &Counters, before: &Counters) -> Delta {
        let d = |a: u64, b: u64| (a as i64).wrapping_sub(b as i64);
        Delta {
            rx_bytes: d(now.rx_bytes, before.rx_bytes),
            tx_bytes: d(now.tx_bytes, before.tx_bytes),
            rx_packets: d(now.rx_packets, before.rx_packets),
            tx_packets: d(now.tx_packets, before.tx_packets),
        }
    }

    pub fn is_zero(&self) -> bool {
        *self == Delta::default()
    }

    /// The growth only: negative changes count as none (for counters
    /// that must never go backwards).
    pub fn growth(&self) -> Counters {
        let g = |v: i64| u64::try_from(v).unwrap_or(0);
        Counters {
            rx_bytes: g(self.rx_bytes),
            tx_bytes: g(self.tx_bytes),
            rx_packets: g(self.rx_packets),
            tx_packets: g(self.tx_packets),
        }
    }
}

/// One process's change in an interval (the unknown row included, with
/// `pid: None`).
#[derive(Debug, Clone)]
pub struct ProcessStep {
    pub process: ProcessReport,
    pub delta: Delta,
}

/// One interface's or one unknown reason's change.
#[derive(Debug, Clone)]
pub struct CounterStep<K> {
    pub key: K,
    pub total: Counters,
    pub delta: Delta,
}

/// What changed between two reports.
#[derive(Debug, Clone, Default)]
pub struct Step {
    /// Processes whose counters changed, in the report's order (by total
    /// bytes); the unknown row is among them, without its reasons.
    pub processes: Vec<ProcessStep>,
    /// Unknown bytes by reason that changed.
    pub reasons: Vec<CounterStep<UnknownReason>>,
    /// Interfaces (index, name) whose counters changed.
    pub interfaces: Vec<CounterStep<(u32, String)>>,
}

/// The totals last seen.
#[derive(Debug, Default)]
pub struct Deltas {
    processes: FxHashMap<(Option<u32>, u64), Counters>,
    reasons: FxHashMap<UnknownReason, Counters>,
    interfaces: FxHashMap<u32, Counters>,
}

impl Deltas {
    pub fn new() -> Self {
        Self::default()
    }

    /// What changed since the previous call (since nothing, the first
    /// time), and remember `report` for the next.
    pub fn step(&mut self, report: &EngineReport) -> Step {
        let mut step = Step::default();
        let mut seen = FxHashMap::default();
        for p in &report.processes {
            let key = (p.pid, p.start_time);
            let before = self.processes.get(&key).copied().unwrap_or_default();
            let delta = Delta::between(&p.counters, &before);
            seen.insert(key, p.counters);
            if p.pid.is_none() {
                let mut reasons = FxHashMap::default();
                for (why, total) in &p.reasons {
                    let before = self.reasons.get(why).copied().unwrap_or_default();
                    let delta = Delta::between(total, &before);
                    if !delta.is_zero() {
                        step.reasons.push(CounterStep {
                            key: *why,
                            total: *total,
                            delta,
                        });
                    }
                    reasons.insert(*why, *total);
                }
                // Reasons left out (all their bytes found owners) fell to zero.
                for (why, before) in &self.reasons {
                    if !reasons.contains_key(why) {
                        step.reasons.push(CounterStep {
                            key: *why,
                            total: Counters::default(),
                            delta: Delta::between(&Counters::default(), before),
                        });
                    }
                }
                self.reasons = reasons;
            }
            if !delta.is_zero() {
                let mut process = p.clone();
                process.reasons.clear();
                step.processes.push(ProcessStep { process, delta });
            }
        }
        // The unknown row left the report (all its bytes found owners):
        // its reasons fell to zero.
        if !report.processes.iter().any(|p| p.pid.is_none()) {
            for (why, before) in self.reasons.drain() {
                step.reasons.push(CounterStep {
                    key: why,
                    total: Counters::default(),
                    delta: Delta::between(&Counters::default(), &before),
                });
            }
            if let Some(before) = self.processes.get(&(None, 0)).copied() {
                step.processes.push(ProcessStep {
                    process: ProcessReport {
                        pid: None,
                        start_time: 0,
                        name: netop_core::engine::UNKNOWN.to_string(),
                        user: String::new(),
                        container: None,
                        exe: None,
                        counters: Counters::default(),
                        reasons: Vec::new(),
                        delegates: Vec::new(),
                    },
                    delta: Delta::between(&Counters::default(), &before),
                });
            }
        }
        step.reasons.sort_by_key(|r| r.key);
        self.processes = seen;
        let mut interfaces = FxHashMap::default();
        for i in &report.interfaces {
            let before = self.interfaces.get(&i.index).copied().unwrap_or_default();
            let delta = Delta::between(&i.counters, &before);
            if !delta.is_zero() {
                step.interfaces.push(CounterStep {
                    key: (i.index, i.name.clone()),
                    total: i.counters,
                    delta,
                });
            }
            interfaces.insert(i.index, i.counters);
        }
        self.interfaces = interfaces;
        step
    }
}

#[cfg(test)]
#[path = "deltas_tests.rs"]
mod tests;

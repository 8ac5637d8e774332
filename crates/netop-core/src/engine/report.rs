//! Read-only summaries of an [`Engine`](super::Engine), sorted and filtered
//! the way every output format shows them.

use std::sync::Arc;

use crate::capture::CaptureStats;
use crate::flow::Counters;
use crate::socket::Container;
use crate::unknown::UnknownReason;

use super::{Engine, EngineStats};

/// One row of the per-process table. `pid` is `None` for the unknown row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessReport {
    pub pid: Option<u32>,
    /// With `pid`, names the process: clock ticks since boot (see
    /// `ProcessInfo::start_time`); 0 when unknown and for the unknown row.
    pub start_time: u64,
    pub name: String,
    pub user: String,
    /// The process's container, when the backend was asked to find it.
    pub container: Option<Container>,
    /// The executable's path, when the backend could read it; `None` for
    /// the unknown row.
    pub exe: Option<Arc<str>>,
    pub counters: Counters,
    /// The unknown row's bytes by reason (non-empty ones, in
    /// [`UnknownReason::ALL`] order); empty for processes.
    pub reasons: Vec<(UnknownReason, Counters)>,
    /// Processes that moved bytes on this one's behalf (macOS PKTAP: the
    /// real pid of packets whose effective pid is this process), by pid
    /// and name; empty elsewhere.
    pub delegates: Vec<(u32, String)>,
}

/// Totals of one interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceReport {
    pub index: u32,
    pub name: String,
    pub counters: Counters,
}

/// Everything a snapshot prints.
#[derive(Debug, Clone)]
pub struct EngineReport {
    /// Processes with traffic, then the unknown row if it has any, sorted by
    /// total bytes descending (ties: pid ascending, unknown last).
    pub processes: Vec<ProcessReport>,
    pub interfaces: Vec<InterfaceReport>,
    pub capture: CaptureStats,
    pub stats: EngineStats,
    pub flows: usize,
}

/// The name of the bucket for traffic without an owner.
pub const UNKNOWN: &str = "unknown";

impl Engine {
    /// The unknown bucket by reason, filtered like the unknown row.
    pub fn unknown_reasons(&self) -> Vec<(UnknownReason, Counters)> {
        let filtered = self
            .pattern
            .as_ref()
            .is_some_and(|p| !UNKNOWN.contains(p.as_str()));
        self.unknown_why.rows(filtered)
    }

    /// The per-process table, filtered and sorted.
    pub fn report(&self) -> EngineReport {
        let pick = |name: &str, all: &Counters, matched: &Counters| -> Option<Counters> {
            let c = match &self.pattern {
                None => *all,
                Some(p) if name.to_lowercase().contains(p.as_str()) => *all,
                Some(_) => *matched,
            };
            (c.rx_packets + c.tx_packets > 0).then_some(c)
        };
        let mut processes: Vec<ProcessReport> = self
            .processes
            .iter()
            .filter_map(|p| {
                let counters = pick(&p.info.name, &p.account.counters, &p.account.matched)?;
                Some(ProcessReport {
                    pid: Some(p.info.pid),
                    start_time: p.info.start_time,
                    name: p.info.name.clone(),
                    user: p.info.user.clone(),
                    container: p.info.container.clone(),
                    exe: p.info.exe.clone(),
                    counters,
                    reasons: Vec::new(),
                    delegates: p.delegates.clone(),
                })
            })
            .collect();
        if let Some(counters) = pick(UNKNOWN, &self.unknown.counters, &self.unknown.matched) {
            processes.push(ProcessReport {
                pid: None,
                start_time: 0,
                name: UNKNOWN.to_string(),
                user: String::new(),
                container: None,
                exe: None,
                counters,
                reasons: self.unknown_reasons(),
                delegates: Vec::new(),
            });
        }
        processes.sort_by(|a, b| {
            b.counters
                .total_bytes()
                .cmp(&a.counters.total_bytes())
                .then_with(|| a.pid.is_none().cmp(&b.pid.is_none()))
                .then_with(|| a.pid.cmp(&b.pid))
        });
        let mut interfaces: Vec<InterfaceReport> = self
            .interfaces
            .iter()
            .filter(|i| i.counters.rx_packets + i.counters.tx_packets > 0)
            .map(|i| InterfaceReport {
                index: i.index,
                name: if i.name.is_empty() {
                    format!("if{}", i.index)
                } else {
                    i.name.clone()
                },
                counters: i.counters,
            })
            .collect();
        interfaces.sort_by_key(|i| i.index);
        EngineReport {
            processes,
            interfaces,
            capture: self.capture,
            stats: self.stats,
            flows: self.flows.len(),
        }
    }
}

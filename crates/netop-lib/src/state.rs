//! What the capture thread shares with the [`Monitor`](crate::Monitor)'s
//! callers: the watched pids and their figures, the socket ports, the
//! last report and the report subscribers. The capture thread writes it
//! once a refresh (never per packet); callers only read it, so a caller
//! never holds the engine and the capture never waits for a caller.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use netop_core::Engine;

use crate::report::{self, Report};
use crate::{Error, Proto, Traffic};

/// Where a monitor is in its life.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) enum Phase {
    #[default]
    Idle,
    Running,
    /// Stopped; the error that ended the capture, if one did.
    Stopped(Option<Error>),
}

/// Finds a process's parent (for watching children).
pub(crate) type Parents = Box<dyn Fn(u32) -> Option<u32> + Send + Sync>;

/// A socket's port and owner, from the last table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Port {
    pub proto: Proto,
    pub port: u16,
    pub pid: u32,
    /// Listening (TCP) or not connected (UDP): a server's port.
    pub unconnected: bool,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    pub phase: Phase,
    /// Interface indexes the figures are restricted to (`None`: all).
    pub chosen: Option<Vec<u32>>,
    /// Watched pids, with their figures when watched (subtracted).
    pub watched: BTreeMap<u32, Vec<Traffic>>,
    /// Each pid's figures since the start, by interface: every process in
    /// the engine, plus watched ones (and their children) the engine has
    /// forgotten since they exited.
    pub figures: HashMap<u32, Vec<Traffic>>,
    /// Children (any depth) of watched pids: child -> watched ancestor.
    pub children: HashMap<u32, u32>,
    pub ports: Vec<Port>,
    pub latest: Option<Report>,
    pub subscribers: Vec<SyncSender<Report>>,
    dns_seq: Option<u64>,
    seq: u64,
    started: Option<Instant>,
}

/// The state behind a lock that survives a panicking holder.
#[derive(Default)]
pub(crate) struct Shared {
    state: Mutex<State>,
    parents: Option<Parents>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").finish_non_exhaustive()
    }
}

/// How many ancestors are followed to find a watched one.
const MAX_DEPTH: usize = 32;

impl Shared {
    pub fn new(parents: Option<Parents>) -> Self {
        Shared {
            state: Mutex::default(),
            parents,
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The capture is running on `chosen` interfaces.
    pub fn running(&self, chosen: Option<Vec<u32>>) {
        let mut s = self.lock();
        s.phase = Phase::Running;
        s.chosen = chosen;
        s.started = Some(Instant::now());
    }

    /// The capture ended; subscribers' iterators end with it.
    pub fn stopped(&self, error: Option<Error>) {
        let mut s = self.lock();
        s.phase = Phase::Stopped(error);
        s.subscribers.clear();
    }

    /// One refresh: figures, children, ports and the report.
    pub fn update(&self, engine: &Engine) {
        let (chosen, dns_after) = {
            let s = self.lock();
            (s.chosen.clone(), s.dns_seq)
        };
        let reading = report::read(engine, chosen.as_deref(), dns_after);
        let ports: Vec<Port> = engine
            .sockets()
            .entries()
            .iter()
            .filter_map(|e| {
                Some(Port {
                    proto: Proto::of(e.proto)?,
                    port: e.local.port(),
                    pid: e.owner.as_ref()?.pid,
                    unconnected: e.is_unconnected(),
                })
            })
            .collect();
        let mut s = self.lock();
        let s = &mut *s;
        s.seq += 1;
        let mut report = reading.report;
        report.seq = s.seq;
        report.elapsed = s.started.map(|t| t.elapsed()).unwrap_or_default();
        s.dns_seq = reading.dns_seq;
        // Figures: the engine's now; watched processes and their children
        // the engine forgot keep their last ones.
        let mut figures: HashMap<u32, Vec<Traffic>> = report
            .processes
            .iter()
            .map(|p| (p.pid, p.traffic.clone()))
            .collect();
        for (pid, old) in s.figures.drain() {
            let kept = s.watched.contains_key(&pid) || s.children.contains_key(&pid);
            if kept {
                figures.entry(pid).or_insert(old);
            }
        }
        s.figures = figures;
        self.find_children(s);
        s.ports = ports;
        s.subscribers.retain(|tx| {
            !matches!(
                tx.try_send(report.clone()),
                Err(TrySendError::Disconnected(_))
            )
        });
        s.latest = Some(report);
    }

    /// Processes with traffic that descend from a watched pid.
    fn find_children(&self, s: &mut State) {
        let Some(parents) = &self.parents else {
            return;
        };
        if s.watched.is_empty() {
            return;
        }
        let unknown: Vec<u32> = s
            .figures
            .keys()
            .copied()
            .filter(|pid| !s.watched.contains_key(pid) && !s.children.contains_key(pid))
            .collect();
        for pid in unknown {
            let mut seen = HashSet::new();
            let mut at = pid;
            for _ in 0..MAX_DEPTH {
                let Some(parent) = parents(at) else { break };
                if parent <= 1 || !seen.insert(parent) {
                    break;
                }
                let root = if s.watched.contains_key(&parent) {
                    Some(parent)
                } else {
                    s.children.get(&parent).copied()
                };
                if let Some(root) = root {
                    s.children.insert(pid, root);
                    break;
                }
                at = parent;
            }
        }
    }
}

/// `now - before`, interface by interface; interfaces without packets
/// left out.
pub(crate) fn since(now: &[Traffic], before: &[Traffic]) -> Vec<Traffic> {
    now.iter()
        .filter_map(|t| {
            let b = before.iter().find(|b| b.interface == t.interface);
            let sub = |a: u64, f: fn(&Traffic) -> u64| a.saturating_sub(b.map_or(0, f));
            let d = Traffic {
                interface: t.interface.clone(),
                rx_bytes: sub(t.rx_bytes, |b| b.rx_bytes),
                tx_bytes: sub(t.tx_bytes, |b| b.tx_bytes),
                rx_packets: sub(t.rx_packets, |b| b.rx_packets),
                tx_packets: sub(t.tx_packets, |b| b.tx_packets),
            };
            (d.rx_packets + d.tx_packets > 0).then_some(d)
        })
        .collect()
}

/// Adds `more` into `into`, interface by interface.
pub(crate) fn add(into: &mut Vec<Traffic>, more: &[Traffic]) {
    for t in more {
        match into.iter_mut().find(|i| i.interface == t.interface) {
            Some(i) => {
                i.rx_bytes += t.rx_bytes;
                i.tx_bytes += t.tx_bytes;
                i.rx_packets += t.rx_packets;
                i.tx_packets += t.tx_packets;
            }
            None => into.push(t.clone()),
        }
    }
    into.sort_by(|a, b| a.interface.cmp(&b.interface));
}

//! The rows each view shows, in order: the report filtered by the active
//! pattern and sorted by the chosen column. Drawing and key handling both
//! come here, so the row under the cursor is the row on the screen.

use std::cmp::Ordering;

use netop_core::engine::{LiveConnection, LiveInterface, LiveProcess};
use netop_core::flow::Counters;
use netop_core::{FlowKey, UnknownReason};
use rustc_hash::FxHashMap;

use super::state::{AppState, SortColumn, View};

/// A row that keeps its identity when rows reorder.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RowId {
    /// A process (`None`: the unknown row).
    Process(Option<u32>),
    /// A socket or connection under an expanded process.
    Socket(Option<u32>, FlowKey),
    /// One reason under the expanded unknown row.
    Reason(UnknownReason),
    /// A process that moved bytes for the expanded process (macOS
    /// PKTAP's delegated traffic): the owner's pid, the delegate's.
    Delegate(Option<u32>, u32),
    Connection(Option<u32>, FlowKey),
    Interface(u32),
    /// A DNS log entry, by sequence number.
    Query(u64),
}

/// One line of the Process view.
#[derive(Debug, Clone, Copy)]
pub enum ProcessLine<'a> {
    Process {
        process: &'a LiveProcess,
        expanded: bool,
    },
    Socket {
        pid: Option<u32>,
        conn: &'a LiveConnection,
        /// The last child of its process (drawn with `└─`).
        last: bool,
    },
    /// Under the expanded unknown row: its bytes for one reason.
    Reason {
        why: UnknownReason,
        totals: &'a Counters,
        last: bool,
    },
    /// Under an expanded process: one that moved bytes on its behalf.
    Delegate {
        owner: Option<u32>,
        delegate: &'a (u32, String),
        last: bool,
    },
}

impl ProcessLine<'_> {
    pub fn id(&self) -> RowId {
        match self {
            ProcessLine::Process { process, .. } => RowId::Process(process.pid),
            ProcessLine::Socket { pid, conn, .. } => RowId::Socket(*pid, conn.key),
            ProcessLine::Reason { why, .. } => RowId::Reason(*why),
            ProcessLine::Delegate {
                owner, delegate, ..
            } => RowId::Delegate(*owner, delegate.0),
        }
    }
}

/// The ids of the current view's rows, in order.
pub fn ids(state: &AppState) -> Vec<RowId> {
    match state.view {
        View::Process => process_lines(state).iter().map(ProcessLine::id).collect(),
        View::Connection => connections(state)
            .iter()
            .map(|c| RowId::Connection(c.pid, c.key))
            .collect(),
        View::Interface => interfaces(state)
            .iter()
            .map(|i| RowId::Interface(i.index))
            .collect(),
        View::Dns => super::dns_view::query_ids(state),
    }
}

/// True when `pattern` (lower case) occurs in `text`, ignoring case.
pub fn contains(text: &str, pattern: &str) -> bool {
    if text.is_ascii() {
        // The common case without an allocation.
        text.as_bytes()
            .windows(pattern.len().max(1))
            .any(|w| w.eq_ignore_ascii_case(pattern.as_bytes()))
            || pattern.is_empty()
    } else {
        text.to_lowercase().contains(pattern)
    }
}

/// A connection matches on its process name, remote address or the
/// remote's DNS name.
fn connection_matches(c: &LiveConnection, pattern: &str) -> bool {
    contains(&c.process, pattern)
        || contains(&c.key.remote_ip.to_string(), pattern)
        || c.remote_name
            .as_deref()
            .is_some_and(|name| contains(name, pattern))
}

/// The Process view: processes (filtered, sorted; unknown last), each
/// followed by its sockets when expanded.
pub fn process_lines(state: &AppState) -> Vec<ProcessLine<'_>> {
    let report = &state.report;
    let mut by_pid: FxHashMap<Option<u32>, Vec<&LiveConnection>> = FxHashMap::default();
    for c in &report.connections {
        by_pid.entry(c.pid).or_default().push(c);
    }
    let mut processes: Vec<&LiveProcess> = report
        .processes
        .iter()
        .filter(|p| !excluded(state, p.pid.is_some(), &p.name))
        .filter(|p| match &state.filter {
            None => true,
            Some(f) => {
                contains(&p.name, f)
                    || p.pid.is_some_and(|pid| pid.to_string() == *f)
                    || by_pid
                        .get(&p.pid)
                        .is_some_and(|cs| cs.iter().any(|c| connection_matches(c, f)))
            }
        })
        .collect();
    processes.sort_by(|a, b| {
        let unknown_last = a.pid.is_none().cmp(&b.pid.is_none());
        let primary = match state.sort {
            SortColumn::Traffic => a
                .rate
                .total()
                .cmp(&b.rate.total())
                .then(a.totals.total_bytes().cmp(&b.totals.total_bytes())),
            SortColumn::Pid => a.pid.cmp(&b.pid),
            SortColumn::Name => a.name.to_lowercase().cmp(&b.name.to_lowercase()),
            SortColumn::Connections => a.conns.cmp(&b.conns).then(a.sockets.cmp(&b.sockets)),
            SortColumn::Remote => Ordering::Equal,
        };
        let primary = if state.descending {
            primary.reverse()
        } else {
            primary
        };
        let pinned_first = is_pinned_process(state, b).cmp(&is_pinned_process(state, a));
        unknown_last
            .then(pinned_first)
            .then(primary)
            .then(a.pid.cmp(&b.pid))
    });
    let mut lines = Vec::with_capacity(processes.len());
    for p in processes {
        let expanded = state.expanded.contains(&p.pid);
        lines.push(ProcessLine::Process {
            process: p,
            expanded,
        });
        if !expanded {
            continue;
        }
        let mut children: Vec<&LiveConnection> = by_pid.remove(&p.pid).unwrap_or_default();
        children.sort_by(|a, b| by_traffic(a, b).then(a.key.cmp(&b.key)));
        let n = children.len();
        // The unknown row opens on why it is unknown, then its flows.
        for (i, (why, totals)) in p.reasons.iter().enumerate() {
            lines.push(ProcessLine::Reason {
                why: *why,
                totals,
                last: n == 0 && i + 1 == p.reasons.len(),
            });
        }
        // Who moved bytes for it (delegated traffic), then its sockets.
        for (i, delegate) in p.delegates.iter().enumerate() {
            lines.push(ProcessLine::Delegate {
                owner: p.pid,
                delegate,
                last: n == 0 && i + 1 == p.delegates.len(),
            });
        }
        for (i, conn) in children.into_iter().enumerate() {
            lines.push(ProcessLine::Socket {
                pid: p.pid,
                conn,
                last: i + 1 == n,
            });
        }
    }
    lines
}

/// Busiest first: current rate, then bytes so far.
fn by_traffic(a: &LiveConnection, b: &LiveConnection) -> Ordering {
    b.rate
        .total()
        .cmp(&a.rate.total())
        .then(b.totals.total_bytes().cmp(&a.totals.total_bytes()))
}

/// The Connection view: connections with a remote end, filtered, sorted.
pub fn connections(state: &AppState) -> Vec<&LiveConnection> {
    let mut rows: Vec<&LiveConnection> = state
        .report
        .connections
        .iter()
        .filter(|c| !c.unconnected)
        .filter(|c| !excluded(state, c.pid.is_some(), &c.process))
        .filter(|c| match &state.filter {
            None => true,
            Some(f) => connection_matches(c, f),
        })
        .collect();
    rows.sort_unstable_by(|a, b| {
        let primary = match state.sort {
            SortColumn::Traffic | SortColumn::Connections => by_traffic(b, a),
            SortColumn::Pid => a.pid.cmp(&b.pid),
            SortColumn::Name => a.process.to_lowercase().cmp(&b.process.to_lowercase()),
            SortColumn::Remote => {
                (a.key.remote_ip, a.key.remote_port).cmp(&(b.key.remote_ip, b.key.remote_port))
            }
        };
        let primary = if state.descending {
            primary.reverse()
        } else {
            primary
        };
        let pinned_first = is_pinned_connection(state, b).cmp(&is_pinned_connection(state, a));
        pinned_first.then(primary).then(a.key.cmp(&b.key))
    });
    rows
}

/// `--exclude`: a process (not the unknown row) whose name contains one of
/// the patterns.
fn excluded(state: &AppState, is_process: bool, name: &str) -> bool {
    is_process && state.exclude.iter().any(|x| contains(name, x))
}

/// A pinned process (by name; never the unknown row).
pub fn is_pinned_process(state: &AppState, p: &LiveProcess) -> bool {
    p.pid.is_some() && state.pins.processes.contains(&p.name)
}

/// A pinned connection (by remote endpoint).
pub fn is_pinned_connection(state: &AppState, c: &LiveConnection) -> bool {
    !state.pins.remotes.is_empty()
        && state
            .pins
            .remotes
            .contains(&super::state::remote_key(&c.key))
}

/// The sliding windows of the iftop-style layout, in seconds.
pub const WINDOWS: [usize; 3] = [2, 10, 40];

/// The mean rate (rx + tx, bytes per second) over the last `seconds` of a
/// per-second history (oldest first, ending at the report's second). Read
/// from the history each report already carries: nothing is added per
/// packet. An empty history (an idle row) is 0.
pub fn window_rate(history: &[(u64, u64)], seconds: usize) -> u64 {
    if history.is_empty() || seconds == 0 {
        return 0;
    }
    let recent = &history[history.len().saturating_sub(seconds)..];
    recent.iter().map(|s| s.0 + s.1).sum::<u64>() / seconds as u64
}

/// The Interface view: the captured interface with `--interface`, else
/// every interface, those up first, then by index. (The filter names
/// processes, connections and queries; it does not hide interfaces.)
pub fn interfaces(state: &AppState) -> Vec<&LiveInterface> {
    let mut list: Vec<&LiveInterface> = state
        .report
        .interfaces
        .iter()
        .filter(|i| state.interface.as_ref().is_none_or(|only| *only == i.name))
        .collect();
    list.sort_by_key(|i| (!i.up, i.index));
    list
}

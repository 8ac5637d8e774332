//! The monitor's picture of an engine: every process with sockets or recent
//! traffic, every connection and socket, every interface, with rates and
//! histories, as owned data.
//!
//! The capture thread builds one [`LiveReport`] per refresh and hands it to
//! the drawing thread, so drawing never holds the engine and capture never
//! waits for drawing. Sorting and filtering for display happen on the
//! drawing side; here everything is listed once, in no promised order.

use std::net::IpAddr;

use rustc_hash::{FxHashMap, FxHashSet};

use crate::capture::{CaptureStats, Gap};
use crate::dns::{QueryRecord, ResolverStats};
use crate::flow::{Counters, Direction, FlowKey, Protocol};
use crate::history::HISTORY_LEN;
use crate::interfaces::{InterfaceInfo, KernelCounters};
use crate::socket::{Container, SocketEntry, TcpState};

use super::report::UNKNOWN;
use super::samples::{SampleBlock, Samples};
use super::{Engine, EngineStats};

/// Bytes per second, received and sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rate {
    pub rx: u64,
    pub tx: u64,
}

impl Rate {
    pub fn total(&self) -> u64 {
        self.rx + self.tx
    }

    /// The mean of the last `window` samples (at least one).
    fn of(samples: &[(u64, u64)], window: usize) -> Rate {
        let window = window.clamp(1, samples.len().max(1));
        let recent = &samples[samples.len().saturating_sub(window)..];
        let (rx, tx) = recent
            .iter()
            .fold((0, 0), |(rx, tx), s| (rx + s.0, tx + s.1));
        Rate {
            rx: rx / window as u64,
            tx: tx / window as u64,
        }
    }
}

/// One row of the Process view. `pid` is `None` for the unknown row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveProcess {
    pub pid: Option<u32>,
    pub name: String,
    pub user: String,
    /// The process's container, when the backend was asked to find it.
    pub container: Option<Container>,
    /// Open network sockets (from the last socket table).
    pub sockets: usize,
    /// Established TCP connections plus UDP flows with recent traffic.
    pub conns: usize,
    pub rate: Rate,
    /// Bytes since netop started.
    pub totals: Counters,
    /// Per-second (rx, tx) bytes, oldest first, ending at the report's
    /// second: [`HISTORY_LEN`] samples; empty for a row without traffic
    /// in that time (all zero: a listener, a TIME_WAIT socket), so that
    /// thousands of idle sockets cost no history on every refresh. All
    /// rows' samples share one block (see `engine/samples.rs`).
    pub history: Samples,
    /// The unknown row's bytes by reason; empty for processes.
    pub reasons: Vec<(crate::unknown::UnknownReason, Counters)>,
    /// The process has exited (its recent bytes are still shown; it is
    /// forgotten once idle, see `engine/lifecycle.rs`).
    pub exited: bool,
    /// Processes that moved bytes on this one's behalf (macOS PKTAP's
    /// delegated traffic), pid and name.
    pub delegates: Vec<(u32, String)>,
}

/// One connection (a flow, a connected socket without traffic yet) or one
/// unconnected socket (a listener, an unconnected UDP socket).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveConnection {
    pub pid: Option<u32>,
    pub process: String,
    pub key: FlowKey,
    /// The socket's TCP state; `None` when no socket is known for the flow
    /// or the protocol has no states.
    pub state: Option<TcpState>,
    /// A socket with no remote end: shown under its process, not in the
    /// Connection view.
    pub unconnected: bool,
    /// Who opened it: `Tx` = this host (Out), `Rx` = the remote end (In).
    pub opened_by: Option<Direction>,
    pub ifindex: u32,
    pub interface: String,
    pub rate: Rate,
    pub totals: Counters,
    pub rtt_us: Option<u32>,
    pub retrans: Option<u32>,
    /// Socket inode; 0 when no socket is known.
    pub inode: u64,
    /// The owner's fd number for the socket, when it was seen.
    pub fd: Option<u32>,
    /// The passive DNS name of the remote address, when one was seen.
    pub remote_name: Option<String>,
    /// As [`LiveProcess::history`].
    pub history: Samples,
}

/// One interface: the host's view plus what netop counted on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveInterface {
    pub index: u32,
    pub name: String,
    pub up: bool,
    pub addrs: Vec<IpAddr>,
    pub kernel: Option<KernelCounters>,
    /// Servers the system's configuration names for this interface.
    pub dns_servers: Vec<IpAddr>,
    pub rate: Rate,
    pub totals: Counters,
    /// Per-minute (rx, tx) bytes, oldest first, ending at the report's
    /// minute: [`HISTORY_LEN`] samples.
    pub minutes: Vec<(u64, u64)>,
}

/// Everything the monitor draws from, at one moment.
#[derive(Debug, Clone, Default)]
pub struct LiveReport {
    /// The last complete Unix second: rates and histories end here.
    pub second: u64,
    pub processes: Vec<LiveProcess>,
    pub connections: Vec<LiveConnection>,
    pub interfaces: Vec<LiveInterface>,
    pub capture: CaptureStats,
    /// The captured device while it is gone and being reopened (set by
    /// the capture loop, not the engine).
    pub capture_gone: Option<Gap>,
    /// Owner events the kernel dropped so far (set by the capture loop).
    pub lost_events: u64,
    pub stats: EngineStats,
    /// Flows in the engine's table.
    pub flows: usize,
    /// The DNS observatory's statistics and log; `None` with DNS off.
    pub dns: Option<LiveDns>,
}

/// What the DNS view shows.
#[derive(Debug, Clone, Default)]
pub struct LiveDns {
    pub resolvers: Vec<ResolverStats>,
    /// The most recent queries, oldest first (at most
    /// [`LIVE_DNS_ENTRIES`]).
    pub log: Vec<QueryRecord>,
}

/// Query log entries a report carries: more than any screen shows, few
/// enough to copy every refresh.
pub const LIVE_DNS_ENTRIES: usize = 2_000;

impl Engine {
    /// The monitor's report. `second` is the last complete Unix second
    /// (the caller's clock, so tests choose it); rates are the mean over
    /// the `window` seconds ending there.
    pub fn live_report(&self, second: u64, window: u32) -> LiveReport {
        let window = window.max(1) as usize;
        let iface_names: FxHashMap<u32, &str> = self
            .host_interfaces
            .iter()
            .map(|i| (i.index, i.name.as_str()))
            .collect();
        let iface_name = |index: u32| -> String {
            match iface_names.get(&index) {
                Some(name) => (*name).to_string(),
                None if index == 0 => String::new(),
                None => format!("if{index}"),
            }
        };

        let mut block =
            SampleBlock::with_room(self.flows.len() + self.processes.len() + 1, HISTORY_LEN);
        let mut connections = Vec::with_capacity(self.flows.len());
        let mut seen_sockets: FxHashSet<u64> = FxHashSet::default();
        for (packed, entry) in self.flows.iter() {
            if entry.is_sighting_only() {
                continue;
            }
            let key = packed.key();
            let (history, samples) =
                block.push(|out| entry.flow.history.samples_into(second, HISTORY_LEN, out));
            let rate = Rate::of(samples, window);
            let owner = entry.slot.map(|slot| &self.processes.get(slot).info);
            let socket = self.sockets.find(&key);
            if let Some(s) = socket {
                if !s.is_unconnected() {
                    seen_sockets.insert(s.inode);
                }
            }
            connections.push(LiveConnection {
                pid: owner.map(|o| o.pid),
                process: owner.map_or_else(|| UNKNOWN.to_string(), |o| o.name.clone()),
                key,
                state: socket
                    .filter(|s| !s.is_unconnected() || s.proto == Protocol::Tcp)
                    .map(|s| s.state)
                    .filter(|s| *s != TcpState::None),
                unconnected: false,
                opened_by: Some(entry.flow.opened_by),
                ifindex: entry.flow.ifindex,
                interface: iface_name(entry.flow.ifindex),
                rate,
                totals: entry.flow.counters,
                rtt_us: socket.and_then(|s| s.rtt_us),
                retrans: socket.and_then(|s| s.retrans),
                inode: socket.map_or(0, |s| s.inode),
                fd: socket.and_then(|s| s.fd),
                remote_name: self.remote_name(key.remote_ip),
                history,
            });
        }

        // Sockets the flow table has no traffic for: idle connections and
        // unconnected sockets.
        let listening: FxHashSet<(Protocol, u16)> = self
            .sockets
            .entries()
            .iter()
            .filter(|s| s.state == TcpState::Listen)
            .map(|s| (s.proto, s.local.port()))
            .collect();
        let mut per_pid: FxHashMap<u32, usize> = FxHashMap::default();
        for s in self.sockets.entries() {
            let Some(owner) = &s.owner else { continue };
            *per_pid.entry(owner.pid).or_default() += 1;
            if !s.is_unconnected() && seen_sockets.contains(&s.inode) {
                continue;
            }
            connections.push(socket_row(s, &listening));
        }

        let mut conns: FxHashMap<Option<u32>, usize> = FxHashMap::default();
        for c in &connections {
            let active = match c.key.proto {
                Protocol::Tcp => c.state == Some(TcpState::Established),
                Protocol::Udp => !c.unconnected && c.totals.total_bytes() > 0,
                _ => false,
            };
            if active {
                *conns.entry(c.pid).or_default() += 1;
            }
        }

        let mut processes = Vec::new();
        let mut listed: FxHashSet<u32> = FxHashSet::default();
        for p in self.processes.iter() {
            let sockets = per_pid.get(&p.info.pid).copied().unwrap_or(0);
            let quiet = second.saturating_sub(p.account.last_sec()) >= HISTORY_LEN as u64;
            if sockets == 0 && quiet {
                continue;
            }
            let (history, samples) =
                block.push(|out| p.account.history.samples_into(second, HISTORY_LEN, out));
            let recent = samples.iter().any(|s| s.0 + s.1 > 0);
            let rate = Rate::of(samples, window);
            if sockets == 0 && !recent {
                block.pop(history);
                continue;
            }
            listed.insert(p.info.pid);
            processes.push(LiveProcess {
                pid: Some(p.info.pid),
                name: p.info.name.clone(),
                user: p.info.user.clone(),
                container: p.info.container.clone(),
                sockets,
                conns: conns.get(&Some(p.info.pid)).copied().unwrap_or(0),
                rate,
                totals: p.account.counters,
                history,
                reasons: Vec::new(),
                exited: p.exited,
                delegates: p.delegates.clone(),
            });
        }
        // Processes with sockets and no traffic yet.
        for s in self.sockets.entries() {
            let Some(owner) = &s.owner else { continue };
            if !listed.insert(owner.pid) {
                continue;
            }
            processes.push(LiveProcess {
                pid: Some(owner.pid),
                name: owner.name.clone(),
                user: owner.user.clone(),
                container: owner.container.clone(),
                sockets: per_pid.get(&owner.pid).copied().unwrap_or(0),
                conns: conns.get(&Some(owner.pid)).copied().unwrap_or(0),
                rate: Rate::default(),
                totals: Counters::default(),
                history: Samples::default(),
                reasons: Vec::new(),
                exited: false,
                delegates: Vec::new(),
            });
        }
        let (unknown, samples) =
            block.push(|out| self.unknown.history.samples_into(second, HISTORY_LEN, out));
        if samples.iter().any(|s| s.0 + s.1 > 0) {
            let rate = Rate::of(samples, window);
            processes.push(LiveProcess {
                pid: None,
                name: UNKNOWN.to_string(),
                user: String::new(),
                container: None,
                sockets: 0,
                conns: conns.get(&None).copied().unwrap_or(0),
                rate,
                totals: self.unknown.counters,
                history: unknown,
                reasons: self.unknown_why.rows(false),
                exited: false,
                delegates: Vec::new(),
            });
        } else {
            block.pop(unknown);
        }

        block.seal(
            processes
                .iter_mut()
                .map(|p| &mut p.history)
                .chain(connections.iter_mut().map(|c| &mut c.history)),
        );
        LiveReport {
            second,
            processes,
            connections,
            interfaces: self.live_interfaces(second, window),
            capture: self.capture,
            capture_gone: None,
            lost_events: 0,
            stats: self.stats,
            flows: self.flows.len(),
            dns: self.dns.as_ref().map(|dns| {
                let skip = dns.log().len().saturating_sub(LIVE_DNS_ENTRIES);
                LiveDns {
                    resolvers: dns.resolver_stats(),
                    log: dns.log().skip(skip).cloned().collect(),
                }
            }),
        }
    }

    fn live_interfaces(&self, second: u64, window: usize) -> Vec<LiveInterface> {
        let counted: FxHashMap<u32, &super::InterfaceState> =
            self.interfaces.iter().map(|i| (i.index, i)).collect();
        let mut out: Vec<LiveInterface> = self
            .host_interfaces
            .iter()
            .map(|info: &InterfaceInfo| {
                let state = counted.get(&info.index);
                let history = state.map_or_else(
                    || vec![(0, 0); HISTORY_LEN],
                    |s| s.history.samples(second, HISTORY_LEN),
                );
                LiveInterface {
                    index: info.index,
                    name: info.name.clone(),
                    up: info.up,
                    addrs: info.addrs.clone(),
                    kernel: info.kernel,
                    dns_servers: info.dns_servers.clone(),
                    rate: Rate::of(&history, window),
                    totals: state.map_or_else(Counters::default, |s| s.counters),
                    minutes: state.map_or_else(
                        || vec![(0, 0); HISTORY_LEN],
                        |s| s.minutes.samples(second / 60, HISTORY_LEN),
                    ),
                }
            })
            .collect();
        out.sort_by_key(|i| i.index);
        out
    }

    /// The DNS name last seen for `ip`, if any.
    fn remote_name(&self, ip: IpAddr) -> Option<String> {
        self.dns.as_ref()?.name_of(ip).map(str::to_string)
    }
}

/// A socket without traffic in the flow table.
fn socket_row(s: &SocketEntry, listening: &FxHashSet<(Protocol, u16)>) -> LiveConnection {
    let unconnected = s.is_unconnected();
    let owner = s.owner.as_ref();
    let opened_by = if unconnected {
        None
    } else if listening.contains(&(s.proto, s.local.port())) {
        Some(Direction::Rx)
    } else {
        Some(Direction::Tx)
    };
    LiveConnection {
        pid: owner.map(|o| o.pid),
        process: owner.map_or_else(|| UNKNOWN.to_string(), |o| o.name.clone()),
        key: FlowKey {
            proto: s.proto,
            local_ip: s.local.ip(),
            local_port: s.local.port(),
            remote_ip: s.remote.ip(),
            remote_port: s.remote.port(),
        },
        state: (s.state != TcpState::None).then_some(s.state),
        unconnected,
        opened_by,
        ifindex: 0,
        interface: String::new(),
        rate: Rate::default(),
        totals: Counters::default(),
        rtt_us: s.rtt_us,
        retrans: s.retrans,
        inode: s.inode,
        fd: s.fd,
        remote_name: None,
        history: Samples::default(),
    }
}

#[cfg(test)]
#[path = "live_tests.rs"]
mod tests;

//! What a [`Monitor`](crate::Monitor) reports every interval: every
//! process's traffic by interface, the unknown bytes by reason, the DNS
//! queries logged since the previous report, each interface's totals.

use std::net::SocketAddr;
use std::time::Duration;

use netop_core::Engine;

use crate::Traffic;

/// One interval's report. Figures are totals since the monitor started;
/// `dns` holds only the queries logged since the previous report.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Report {
    /// The report's number, from 1.
    pub seq: u64,
    /// Time since the capture started.
    pub elapsed: Duration,
    /// Every process that moved bytes on the chosen interfaces, most
    /// bytes first.
    pub processes: Vec<ProcessTraffic>,
    /// Bytes no process could be named for, by reason (every interface
    /// captured: the reasons are not split by interface).
    pub unknown: Vec<UnknownTraffic>,
    /// DNS queries logged since the previous report (empty with
    /// [`Options::dns(false)`](crate::Options::dns)).
    pub dns: Vec<DnsQuery>,
    /// Each chosen interface's totals (all its frames).
    pub interfaces: Vec<Traffic>,
}

/// One process's traffic.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProcessTraffic {
    /// Its pid.
    pub pid: u32,
    /// Its short name (`/proc/PID/comm` on Linux).
    pub name: String,
    /// Its user's name.
    pub user: String,
    /// Its bytes by interface.
    pub traffic: Vec<Traffic>,
}

impl ProcessTraffic {
    /// All interfaces' bytes, received plus sent.
    pub fn total_bytes(&self) -> u64 {
        self.traffic.iter().map(Traffic::total_bytes).sum()
    }
}

/// Bytes without an owning process, under one reason.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UnknownTraffic {
    /// Why: `forwarded`, `no_listener`, `kernel`, `owner_gone`,
    /// `namespace` or `hidden` (see netop's README, "unknown").
    pub reason: String,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
    /// Packets received.
    pub rx_packets: u64,
    /// Packets sent.
    pub tx_packets: u64,
}

/// One DNS query with the process that asked it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsQuery {
    /// The asking process, when it was found.
    pub pid: Option<u32>,
    /// Its name (`unknown` when not found).
    pub process: String,
    /// The name asked about.
    pub name: String,
    /// The record type (`A`, `AAAA`, ...).
    pub qtype: String,
    /// `answered`, `nxdomain`, `servfail`, `timeout`, `pending`, ...
    pub status: String,
    /// The answer's records, as text.
    pub response: String,
    /// Time to the answer.
    pub latency: Option<Duration>,
    /// The server asked.
    pub resolver: SocketAddr,
    /// The asking socket.
    pub client: SocketAddr,
}

impl DnsQuery {
    fn of(r: &netop_core::dns::QueryRecord) -> Self {
        DnsQuery {
            pid: r.pid,
            process: r.process.clone(),
            name: r.name.clone(),
            qtype: r.qtype.clone(),
            status: r.status.as_str().to_string(),
            response: r.response.clone(),
            latency: r.latency,
            resolver: r.resolver,
            client: r.client,
        }
    }
}

/// What one refresh reads off the engine, restricted to the chosen
/// interfaces (`None`: all).
#[derive(Debug, Default)]
pub(crate) struct Reading {
    pub report: Report,
    /// The newest DNS log entry read so far.
    pub dns_seq: Option<u64>,
}

/// Reads a report off the engine: processes joined with their
/// per-interface split, unknown by reason, new DNS log entries.
pub(crate) fn read(engine: &Engine, chosen: Option<&[u32]>, dns_after: Option<u64>) -> Reading {
    let keep = |index: u32| chosen.is_none_or(|c| c.contains(&index));
    let totals = engine.report();
    let mut processes: Vec<ProcessTraffic> = engine
        .per_interface()
        .into_iter()
        .filter_map(|p| {
            let traffic: Vec<Traffic> = p
                .interfaces
                .iter()
                .filter(|i| keep(i.index))
                .map(|i| Traffic::of(i.name.clone(), &i.counters))
                .collect();
            if traffic.is_empty() {
                return None;
            }
            let row = totals
                .processes
                .iter()
                .find(|r| r.pid == Some(p.pid) && r.start_time == p.start_time);
            Some(ProcessTraffic {
                pid: p.pid,
                name: row.map(|r| r.name.clone()).unwrap_or_default(),
                user: row.map(|r| r.user.clone()).unwrap_or_default(),
                traffic,
            })
        })
        .collect();
    processes.sort_by(|a, b| {
        b.total_bytes()
            .cmp(&a.total_bytes())
            .then(a.pid.cmp(&b.pid))
    });
    let unknown = engine
        .unknown_reasons()
        .into_iter()
        .map(|(why, c)| UnknownTraffic {
            reason: why.as_str().to_string(),
            rx_bytes: c.rx_bytes,
            tx_bytes: c.tx_bytes,
            rx_packets: c.rx_packets,
            tx_packets: c.tx_packets,
        })
        .collect();
    let (mut dns, mut dns_seq) = (Vec::new(), dns_after);
    if let Some(observer) = engine.dns() {
        for record in observer
            .log()
            .filter(|r| dns_after.is_none_or(|after| r.seq > after))
        {
            dns_seq = Some(dns_seq.map_or(record.seq, |s| s.max(record.seq)));
            dns.push(DnsQuery::of(record));
        }
    }
    let interfaces = totals
        .interfaces
        .iter()
        .filter(|i| keep(i.index))
        .map(|i| Traffic::of(i.name.clone(), &i.counters))
        .collect();
    Reading {
        report: Report {
            seq: 0,
            elapsed: Duration::ZERO,
            processes,
            unknown,
            dns,
            interfaces,
        },
        dns_seq,
    }
}

//! What `netop serve` has counted since it started, kept so that it can be
//! exported and written: monotonic counters per process label (name, user,
//! container: never a pid), per interface, per unknown reason and per DNS
//! resolver; the minute being gathered for the history (whose process
//! rows also carry the executable's path); the last hour of seconds for
//! the dashboard; the DNS log's tail.
//!
//! The engine forgets processes that exited, and its unknown row may give
//! bytes back to a late owner; counters exported to Prometheus must never
//! go backwards. So the ledger adds up only growth (see `deltas.rs`) per
//! label, and its counters live as long as the service.
//!
//! The cardinality cap (`--metrics-top`): at most N process labels are
//! *members*, exported with their own series; the growth of every other
//! label goes to `process="other"` while it is not a member. A free place
//! goes to the label that moved the most bytes in that second; a member
//! idle for [`MEMBER_IDLE`] gives its place up (its series ends). Each
//! series only grows. Labels are forgotten after a day without traffic
//! unless members, and at most [`MAX_LABELS`] are remembered.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::IpAddr;

use netop_core::dns::{DnsObserver, QueryStatus};
use netop_core::flow::Counters;
use netop_core::UnknownReason;
use netop_history::{DnsCounts, Label, Minute, Traffic};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use rustc_hash::FxHashMap;

use crate::deltas::{Delta, Step};

/// A member without traffic for this long gives up its place (seconds).
pub const MEMBER_IDLE: u64 = 600;
/// A label without traffic for this long is forgotten (seconds).
const LABEL_IDLE: u64 = 86_400;
/// Labels remembered at most; beyond, new labels count only in `other`.
pub const MAX_LABELS: usize = 10_000;
/// Seconds of per-second samples kept for the dashboard.
pub const SECONDS_KEPT: usize = 3600;
/// Processes in one second's sample; the rest are summed as `other`.
const PROCESSES_PER_SECOND: usize = 30;
/// DNS queries kept for the dashboard's log.
pub const DNS_LOG_KEPT: usize = 200;
/// Resolvers with series of their own, at most (the observer keeps a
/// bounded table too; a host asking thousands of servers must not grow
/// the exposition).
pub const MAX_RESOLVERS: usize = 64;
/// The DNS latency histogram's buckets, in seconds.
const LATENCY_BUCKETS: [f64; 10] = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0];

/// A process as the metrics and the history name it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProcessLabel {
    pub process: String,
    pub user: String,
    /// Empty without `--containers`, or for a process in none.
    pub container: String,
}

#[derive(Debug, Clone, Default)]
struct Account {
    total: Counters,
    member: bool,
    /// Unix second of its last growth.
    active: u64,
}

/// One resolver's counters.
#[derive(Debug, Clone, Copy, Default)]
pub struct DnsAccount {
    pub queries: u64,
    pub failures: u64,
    /// The observer's figures at the last look (they may restart when it
    /// drops a resolver).
    seen_queries: u64,
    seen_failures: u64,
}

/// The labels of one DNS histogram series.
#[derive(Debug, Clone, PartialEq, Eq, Hash, prometheus_client::encoding::EncodeLabelSet)]
pub struct ResolverLabels {
    pub resolver: String,
}

/// One second of traffic for the dashboard.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Second {
    /// Unix second.
    pub t: u64,
    /// (process, rx bytes, tx bytes), the largest first.
    pub p: Vec<(String, u64, u64)>,
}

/// One query of the dashboard's DNS log.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DnsEntry {
    pub seq: u64,
    pub time: String,
    pub process: String,
    pub query: String,
    #[serde(rename = "type")]
    pub qtype: String,
    pub response: String,
    pub latency_ms: Option<f64>,
    pub resolver: String,
    pub status: String,
}

/// Everything counted since the start.
#[derive(Debug)]
pub struct Ledger {
    top: usize,
    containers: bool,
    accounts: FxHashMap<ProcessLabel, Account>,
    members: usize,
    pub other: Counters,
    pub unknown: BTreeMap<UnknownReason, Counters>,
    pub interfaces: BTreeMap<String, Counters>,
    pub dns: BTreeMap<IpAddr, DnsAccount>,
    pub dns_latency: Family<ResolverLabels, Histogram>,
    /// Next DNS log position not looked at, and queries seen pending.
    dns_next: u64,
    dns_pending: BTreeSet<u64>,
    pub dns_log: VecDeque<DnsEntry>,
    pub seconds: VecDeque<Second>,
    minute: Minute,
}

fn growth_of(c: &mut Counters, d: &Delta) {
    let g = d.growth();
    c.rx_bytes += g.rx_bytes;
    c.tx_bytes += g.tx_bytes;
    c.rx_packets += g.rx_packets;
    c.tx_packets += g.tx_packets;
}

fn traffic(d: &Delta) -> Traffic {
    Traffic {
        rx_bytes: d.rx_bytes,
        tx_bytes: d.tx_bytes,
        rx_packets: d.rx_packets,
        tx_packets: d.tx_packets,
    }
}

impl Ledger {
    pub fn new(top: usize, containers: bool, now: u64) -> Self {
        Ledger {
            top,
            containers,
            accounts: FxHashMap::default(),
            members: 0,
            other: Counters::default(),
            unknown: BTreeMap::new(),
            interfaces: BTreeMap::new(),
            dns: BTreeMap::new(),
            dns_latency: Family::new_with_constructor(|| {
                Histogram::new(LATENCY_BUCKETS.iter().copied())
            }),
            dns_next: 0,
            dns_pending: BTreeSet::new(),
            dns_log: VecDeque::new(),
            seconds: VecDeque::new(),
            minute: Minute {
                start: minute_of(now),
                ..Minute::default()
            },
        }
    }

    /// The exported process series: members with their totals, then
    /// `other` (always present, so the series exists from the start).
    pub fn process_series(&self) -> Vec<(ProcessLabel, Counters)> {
        let mut series: Vec<(ProcessLabel, Counters)> = self
            .accounts
            .iter()
            .filter(|(_, a)| a.member)
            .map(|(l, a)| (l.clone(), a.total))
            .collect();
        series.sort_by(|a, b| a.0.cmp(&b.0));
        series.push((
            ProcessLabel {
                process: "other".to_string(),
                user: String::new(),
                container: String::new(),
            },
            self.other,
        ));
        series
    }

    /// Labels known (members or not).
    pub fn label_count(&self) -> usize {
        self.accounts.len()
    }

    /// Adds one step (the engine's change in the last tick) at Unix
    /// second `now`. Returns the minute just completed, to be written.
    pub fn apply(&mut self, step: &Step, now: u64) -> Option<Minute> {
        let done = self.roll_minute(now);
        let mut second = Second {
            t: now,
            p: Vec::new(),
        };
        let mut per_process: FxHashMap<&str, (u64, u64)> = FxHashMap::default();
        let mut candidates: Vec<(u64, ProcessLabel, Delta)> = Vec::new();
        let mut minute: FxHashMap<Label, Traffic> = FxHashMap::default();
        for p in &step.processes {
            let d = &p.delta;
            let name = &p.process.name;
            let label = if p.process.pid.is_none() {
                None
            } else {
                Some(ProcessLabel {
                    process: name.clone(),
                    user: p.process.user.clone(),
                    container: if self.containers {
                        p.process
                            .container
                            .as_ref()
                            .map(ToString::to_string)
                            .unwrap_or_default()
                    } else {
                        String::new()
                    },
                })
            };
            let g = d.growth();
            if g.rx_bytes + g.tx_bytes > 0 {
                let e = per_process.entry(name.as_str()).or_default();
                e.0 += g.rx_bytes;
                e.1 += g.tx_bytes;
            }
            let Some(label) = label else {
                continue;
            };
            // The history tells processes of one name apart by their
            // executable; the metrics do not (one series per name).
            let history_label = Label::process(
                &label.process,
                &label.user,
                Some(label.container.as_str()).filter(|c| !c.is_empty()),
            )
            .with_exe(p.process.exe.as_deref());
            minute.entry(history_label).or_default().add(&traffic(d));
            match self.accounts.get_mut(&label) {
                Some(account) if account.member => {
                    growth_of(&mut account.total, d);
                    account.active = now;
                }
                // Non-members and new labels compete for free places.
                _ => candidates.push((g.rx_bytes + g.tx_bytes, label, *d)),
            }
        }
        // The largest first take the free places; the others count in
        // `other` for this second.
        candidates.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        for (_, label, d) in candidates {
            let known = self.accounts.contains_key(&label);
            if !known && self.accounts.len() >= MAX_LABELS && self.members >= self.top {
                growth_of(&mut self.other, &d);
                continue;
            }
            let account = self.accounts.entry(label).or_default();
            growth_of(&mut account.total, &d);
            account.active = now;
            if self.members < self.top {
                account.member = true;
                self.members += 1;
            } else {
                growth_of(&mut self.other, &d);
            }
        }
        for r in &step.reasons {
            growth_of(self.unknown.entry(r.key).or_default(), &r.delta);
            minute
                .entry(Label::unknown(r.key.as_str()))
                .or_default()
                .add(&traffic(&r.delta));
        }
        for i in &step.interfaces {
            growth_of(
                self.interfaces.entry(i.key.1.clone()).or_default(),
                &i.delta,
            );
            minute
                .entry(Label::interface(&i.key.1))
                .or_default()
                .add(&traffic(&i.delta));
        }
        self.add_to_minute(minute);
        let mut p: Vec<(String, u64, u64)> = per_process
            .into_iter()
            .map(|(n, (rx, tx))| (n.to_string(), rx, tx))
            .collect();
        p.sort_by(|a, b| (b.1 + b.2).cmp(&(a.1 + a.2)).then_with(|| a.0.cmp(&b.0)));
        if p.len() > PROCESSES_PER_SECOND {
            let rest = p.split_off(PROCESSES_PER_SECOND - 1);
            let (rx, tx) = rest.iter().fold((0, 0), |(r, t), x| (r + x.1, t + x.2));
            p.push(("other".to_string(), rx, tx));
        }
        second.p = p;
        self.seconds.push_back(second);
        while self.seconds.len() > SECONDS_KEPT {
            self.seconds.pop_front();
        }
        self.age(now);
        done
    }

    /// Members idle too long give up their places; old labels go.
    fn age(&mut self, now: u64) {
        let mut freed = 0;
        self.accounts.retain(|_, a| {
            let idle = now.saturating_sub(a.active);
            if a.member && idle >= MEMBER_IDLE {
                a.member = false;
                freed += 1;
            }
            a.member || idle < LABEL_IDLE
        });
        self.members -= freed;
    }

    /// Folds the DNS observer's resolver statistics and new log entries.
    pub fn observe_dns(&mut self, dns: &DnsObserver) {
        let mut now_seen: BTreeMap<IpAddr, (u64, u64)> = BTreeMap::new();
        for r in dns.resolver_stats() {
            let e = now_seen.entry(r.server).or_default();
            e.0 += r.queries;
            e.1 += r.failures;
        }
        let mut minute_dns = Vec::new();
        for (server, (queries, failures)) in now_seen {
            if !self.dns.contains_key(&server) && self.dns.len() >= MAX_RESOLVERS {
                continue;
            }
            let a = self.dns.entry(server).or_default();
            // A restart of the observer's figures counts from zero.
            let dq = queries.checked_sub(a.seen_queries).unwrap_or(queries);
            let df = failures.checked_sub(a.seen_failures).unwrap_or(failures);
            a.queries += dq;
            a.failures += df;
            a.seen_queries = queries;
            a.seen_failures = failures;
            if dq + df > 0 {
                minute_dns.push((
                    server.to_string(),
                    DnsCounts {
                        queries: dq as i64,
                        failures: df as i64,
                    },
                ));
            }
        }
        for (server, counts) in minute_dns {
            match self.minute.dns.iter_mut().find(|(s, _)| *s == server) {
                Some((_, c)) => {
                    c.queries += counts.queries;
                    c.failures += counts.failures;
                }
                None => self.minute.dns.push((server, counts)),
            }
        }
        let first = dns.log().next().map_or(0, |r| r.seq);
        self.dns_pending.retain(|s| *s >= first);
        for record in dns.log() {
            let new = record.seq >= self.dns_next;
            if !new && !self.dns_pending.contains(&record.seq) {
                continue;
            }
            if record.status == QueryStatus::Pending {
                self.dns_pending.insert(record.seq);
                continue;
            }
            self.dns_pending.remove(&record.seq);
            let counted = self.dns.contains_key(&record.resolver.ip());
            if let Some(latency) = record.latency.filter(|_| counted) {
                self.dns_latency
                    .get_or_create(&ResolverLabels {
                        resolver: record.resolver.ip().to_string(),
                    })
                    .observe(latency.as_secs_f64());
            }
            self.dns_log.push_back(DnsEntry {
                seq: record.seq,
                time: utc(record.ts),
                process: record.process.clone(),
                query: record.name.clone(),
                qtype: record.qtype.clone(),
                response: record.response.clone(),
                latency_ms: record.latency.map(|l| l.as_secs_f64() * 1000.0),
                resolver: record.resolver.ip().to_string(),
                status: record.status.to_string(),
            });
        }
        if let Some(last) = dns.log().next_back() {
            self.dns_next = self.dns_next.max(last.seq + 1);
        }
        while self.dns_log.len() > DNS_LOG_KEPT {
            self.dns_log.pop_front();
        }
    }

    fn add_to_minute(&mut self, rows: FxHashMap<Label, Traffic>) {
        let mut index: FxHashMap<Label, usize> = self
            .minute
            .traffic
            .iter()
            .enumerate()
            .map(|(i, (l, _))| (l.clone(), i))
            .collect();
        for (label, t) in rows {
            match index.get(&label) {
                Some(&i) => self.minute.traffic[i].1.add(&t),
                None => {
                    index.insert(label.clone(), self.minute.traffic.len());
                    self.minute.traffic.push((label, t));
                }
            }
        }
    }

    /// The minute being gathered, ended now (on the way out).
    pub fn take_minute(&mut self, now: u64) -> Minute {
        let next = Minute {
            start: minute_of(now),
            ..Minute::default()
        };
        std::mem::replace(&mut self.minute, next)
    }

    /// Starts a new minute when `now` is past the current one's end.
    fn roll_minute(&mut self, now: u64) -> Option<Minute> {
        (minute_of(now) > self.minute.start).then(|| self.take_minute(now))
    }
}

/// RFC 3339 in UTC with milliseconds, from time since the Unix epoch.
fn utc(at: std::time::Duration) -> String {
    let secs = i64::try_from(at.as_secs()).unwrap_or(i64::MAX);
    chrono::DateTime::from_timestamp(secs, at.subsec_nanos())
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// The start of the minute holding Unix second `now`.
fn minute_of(now: u64) -> i64 {
    let now = i64::try_from(now).unwrap_or(i64::MAX);
    now - now.rem_euclid(netop_history::MINUTE)
}

#[cfg(test)]
#[path = "ledger_tests.rs"]
pub(crate) mod tests;

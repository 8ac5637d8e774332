//! [`DnsObserver`]: port-53 packets in; the query log, resolver statistics
//! and passive names out.
//!
//! The engine hands over every UDP or TCP packet with port 53 on either
//! side, together with a [`DnsContext`] that answers "who owns this
//! socket" through the engine's own attribution, so a query belongs to the
//! same process its traffic does. Queries to a resolver on this host (a
//! stub such as systemd-resolved, dnsmasq or unbound) are remembered for a
//! moment so the stub's own upstream query for the same question can be
//! linked to the application query that caused it.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use rustc_hash::FxHashMap;

use super::log::QueryLog;
use super::message::{parse_message, rcode_name, type_name, AnswerData, DnsMessage};
use super::names::PassiveNames;
use super::pending::{Downstream, Downstreams, Pending, PendingKey, PendingTable, Upstream};
use super::record::{QueryRecord, QueryStatus, ResolverStats};
use super::resolvers::ResolverTable;
use super::tcp::{Segment, TcpStreams};
use super::DnsConfig;
/// The process name of a query whose socket owner was not found (the same
/// word the traffic table uses).
const UNKNOWN: &str = "unknown";
use crate::flow::Protocol;
use crate::interfaces::InterfaceInfo;
use crate::socket::ProcessInfo;

/// Longest response text kept in a log entry.
const MAX_RESPONSE_TEXT: usize = 512;
/// Distinct (interface, server) pairs with statistics, at most.
const MAX_RESOLVERS: usize = 1_024;
/// A TCP stream with no segment for this long is forgotten.
const TCP_IDLE: Duration = Duration::from_secs(60);

/// One captured port-53 packet, as the engine decoded it.
#[derive(Debug, Clone, Copy)]
pub struct DnsPacket<'a> {
    /// Capture timestamp since the Unix epoch.
    pub ts: Duration,
    pub ifindex: u32,
    /// UDP or TCP (anything else is ignored).
    pub proto: Protocol,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    /// TCP only: sequence number and flags.
    pub tcp_seq: u32,
    pub syn: bool,
    pub fin: bool,
    pub rst: bool,
    /// Transport payload.
    pub payload: &'a [u8],
}

/// What the observer asks its owner (the engine) about sockets.
pub trait DnsContext {
    /// The process owning the local socket `client` that talks to `server`.
    fn client_owner(
        &mut self,
        proto: Protocol,
        client: SocketAddr,
        server: SocketAddr,
    ) -> Option<ProcessInfo>;
    /// The process owning the local socket `server` (a resolver on this
    /// host) that `client` talks to.
    fn server_owner(
        &mut self,
        proto: Protocol,
        server: SocketAddr,
        client: SocketAddr,
    ) -> Option<ProcessInfo>;
    /// `ip` is one of this host's addresses (loopback included).
    fn is_local(&self, ip: IpAddr) -> bool;
}

/// Counters about the observer's own work.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DnsStats {
    /// Port-53 packets handed over.
    pub packets: u64,
    /// DNS messages read (UDP datagrams, reassembled TCP messages).
    pub messages: u64,
    /// Payloads that were not DNS (or too damaged to read).
    pub parse_errors: u64,
    /// Responses that matched no waiting query.
    pub unmatched: u64,
    /// Messages that are not standard queries (NOTIFY, UPDATE, ...) or
    /// queries without a question.
    pub ignored: u64,
    /// Queries not tracked because too many were waiting.
    pub untracked: u64,
    /// Bytes of TCP streams dropped at gaps in the capture.
    pub tcp_gap_bytes: u64,
}

/// The DNS observatory of one engine.
#[derive(Debug)]
pub struct DnsObserver {
    config: DnsConfig,
    log: QueryLog,
    pending: PendingTable,
    downstreams: Downstreams,
    resolvers: ResolverTable,
    names: PassiveNames,
    tcp: TcpStreams,
    interface_names: FxHashMap<u32, String>,
    /// (ifindex, server) from the system's configuration.
    configured: Vec<(u32, IpAddr)>,
    /// Newest capture time seen (frames or `expire`).
    now: Duration,
    stats: DnsStats,
}

impl DnsObserver {
    pub fn new(config: DnsConfig) -> Self {
        DnsObserver {
            log: QueryLog::new(config.log_capacity),
            pending: PendingTable::new(config.max_pending),
            downstreams: Downstreams::new(config.max_pending),
            resolvers: ResolverTable::new(config.latency_window, MAX_RESOLVERS),
            names: PassiveNames::new(config.max_names),
            tcp: TcpStreams::new(config.max_tcp_streams),
            interface_names: FxHashMap::default(),
            configured: Vec::new(),
            now: Duration::ZERO,
            stats: DnsStats::default(),
            config,
        }
    }

    pub fn config(&self) -> &DnsConfig {
        &self.config
    }

    /// The query log, oldest first.
    pub fn log(&self) -> impl DoubleEndedIterator<Item = &QueryRecord> + ExactSizeIterator {
        self.log.iter()
    }

    /// Queries logged since the start, including those the ring dropped.
    pub fn total_queries(&self) -> u64 {
        self.log.total()
    }

    /// One row per (interface, server): every server queried, and every
    /// configured one; sorted by interface index, then server.
    pub fn resolver_stats(&self) -> Vec<ResolverStats> {
        self.resolvers.stats(&self.configured, |ifindex| {
            self.interface_names
                .get(&ifindex)
                .cloned()
                .unwrap_or_else(|| format!("if{ifindex}"))
        })
    }

    /// The passive name of a remote address: the name whose answer most
    /// recently contained it, while its TTL plus the grace period lasts.
    pub fn name_of(&self, ip: IpAddr) -> Option<&str> {
        self.names.get(ip, self.now)
    }

    pub fn stats(&self) -> DnsStats {
        DnsStats {
            tcp_gap_bytes: self.tcp.gaps,
            ..self.stats
        }
    }

    /// Sizes of the bounded tables: (log, pending, names, tcp streams).
    pub fn sizes(&self) -> (usize, usize, usize, usize) {
        (
            self.log.len(),
            self.pending.len(),
            self.names.len(),
            self.tcp.len(),
        )
    }

    /// Takes interface names and configured servers.
    /// Forgets what it keeps per interface for one that is gone (the
    /// engine's lifecycle, in the monitor): its resolvers and its name.
    pub fn forget_interface(&mut self, ifindex: u32) {
        self.resolvers.forget_interface(ifindex);
        self.interface_names.remove(&ifindex);
    }

    pub fn set_interfaces(&mut self, interfaces: &[InterfaceInfo]) {
        self.configured.clear();
        for i in interfaces {
            self.interface_names.insert(i.index, i.name.clone());
            for server in &i.dns_servers {
                self.configured.push((i.index, *server));
            }
        }
        self.configured.sort_unstable();
        self.configured.dedup();
    }

    /// Reads one port-53 packet.
    pub fn observe(&mut self, packet: &DnsPacket<'_>, ctx: &mut dyn DnsContext) {
        self.stats.packets += 1;
        self.now = self.now.max(packet.ts);
        match packet.proto {
            Protocol::Udp => self.message(packet.payload, packet, ctx),
            Protocol::Tcp => {
                let segment = Segment {
                    src: packet.src,
                    dst: packet.dst,
                    seq: packet.tcp_seq,
                    syn: packet.syn,
                    fin: packet.fin,
                    rst: packet.rst,
                    payload: packet.payload,
                };
                // The stream table is moved out while its messages are
                // read, so reading them may use the rest of `self`.
                let mut tcp = std::mem::replace(&mut self.tcp, TcpStreams::new(1));
                tcp.segment(&segment, packet.ts, &mut |bytes| {
                    self.message(bytes, packet, ctx)
                });
                self.tcp = tcp;
            }
            _ => {}
        }
    }

    /// Gives log entries of the socket `client` (talking to `server`) that
    /// still have no owner to `owner`: the engine found it later.
    pub fn set_owner(&mut self, client: SocketAddr, server: SocketAddr, owner: &ProcessInfo) {
        for record in self.log.iter_mut().rev() {
            if record.pid.is_none() && record.client == client && record.resolver == server {
                record.pid = Some(owner.pid);
                record.process.clone_from(&owner.name);
            }
        }
        self.downstreams.owners_found(client, Some(owner.pid), None);
    }

    /// The process listening on the local resolver socket that `client`
    /// asked, found after `client`'s queries were seen: the stub's
    /// upstream queries for them are linked to it.
    pub fn set_stub_owner(&mut self, client: SocketAddr, owner: &ProcessInfo) {
        self.downstreams.owners_found(client, None, Some(owner));
    }

    /// Times out queries older than the timeout at `now`, forgets expired
    /// names and idle TCP streams.
    pub fn expire(&mut self, now: Duration) {
        self.now = self.now.max(now);
        let cutoff = now.saturating_sub(self.config.timeout);
        self.time_out(cutoff);
        self.downstreams
            .expire(now.saturating_sub(self.config.link_window));
        self.names.expire(now);
        self.tcp.expire(now.saturating_sub(TCP_IDLE));
    }

    fn time_out(&mut self, cutoff: Duration) {
        let mut timed_out = Vec::new();
        self.pending.expire(cutoff, &mut |p| timed_out.push(p));
        for p in timed_out {
            self.finish(&p, QueryStatus::Timeout, "timeout".to_string(), None);
        }
    }

    fn message(&mut self, bytes: &[u8], packet: &DnsPacket<'_>, ctx: &mut dyn DnsContext) {
        let message = match parse_message(bytes) {
            Ok(m) => m,
            Err(_) => {
                self.stats.parse_errors += 1;
                return;
            }
        };
        self.stats.messages += 1;
        if !message.standard_query {
            self.stats.ignored += 1;
            return;
        }
        if message.response {
            self.response(&message, packet);
        } else {
            self.query(&message, packet, ctx);
        }
    }

    fn query(&mut self, message: &DnsMessage, packet: &DnsPacket<'_>, ctx: &mut dyn DnsContext) {
        let Some(question) = &message.question else {
            self.stats.ignored += 1;
            return;
        };
        let (client, server) = (packet.src, packet.dst);
        let key = PendingKey {
            client,
            server,
            id: message.id,
        };
        let qkey = question.key();
        if let Some(p) = self.pending.find(&key, &qkey) {
            let seq = p.seq;
            if let Some(record) = self.log.get_mut(seq) {
                record.retransmits += 1;
            }
            return;
        }
        let mut owner = ctx.client_owner(packet.proto, client, server);
        let pid = owner.as_ref().map(|o| o.pid);
        let local_server = ctx.is_local(server.ip());
        let stub = if local_server {
            ctx.server_owner(packet.proto, server, client)
        } else {
            None
        };
        let downstream = self.downstreams.take_match(
            &qkey,
            Upstream {
                sent: packet.ts,
                client,
                pid,
            },
            self.config.link_window,
        );
        // A stub's upstream socket often lives for one query (dnsmasq
        // uses a fresh random port each time), too short to find its
        // owner; the process listening on the stub address sent it.
        if owner.is_none() {
            owner = downstream.as_ref().and_then(|d| d.stub.clone());
        }
        let pid = owner.as_ref().map(|o| o.pid);
        let record = QueryRecord {
            seq: 0,
            ts: packet.ts,
            pid,
            process: owner.map_or_else(|| UNKNOWN.to_string(), |o| o.name),
            name: question.name.clone(),
            qtype: type_name(question.qtype),
            response: String::new(),
            status: QueryStatus::Pending,
            latency: None,
            resolver: server,
            client,
            ifindex: packet.ifindex,
            tcp: packet.proto == Protocol::Tcp,
            retransmits: 0,
            upstream: None,
            downstream: downstream.as_ref().map(|d| d.seq),
        };
        let seq = self.log.push(record);
        if let Some(d) = downstream {
            if let Some(app) = self.log.get_mut(d.seq) {
                app.upstream = Some(seq);
            }
        }
        self.resolvers.query(packet.ifindex, server.ip());
        if self.pending.is_full() {
            self.time_out(packet.ts.saturating_sub(self.config.timeout));
        }
        let tracked = self.pending.insert(
            key,
            Pending {
                seq,
                question: qkey.clone(),
                sent: packet.ts,
                ifindex: packet.ifindex,
                server: server.ip(),
            },
        );
        if !tracked {
            self.stats.untracked += 1;
            if let Some(record) = self.log.get_mut(seq) {
                record.status = QueryStatus::Untracked;
            }
            return;
        }
        if local_server {
            self.downstreams.add(
                qkey,
                Downstream {
                    seq,
                    sent: packet.ts,
                    client,
                    client_pid: pid,
                    stub,
                },
            );
        }
    }

    fn response(&mut self, message: &DnsMessage, packet: &DnsPacket<'_>) {
        let (client, server) = (packet.dst, packet.src);
        self.learn_names(message, packet.ts);
        let key = PendingKey {
            client,
            server,
            id: message.id,
        };
        let qkey = message.question.as_ref().map(|q| q.key());
        let Some(pending) = self.pending.take(&key, qkey.as_ref()) else {
            self.stats.unmatched += 1;
            return;
        };
        let status = status_of(message);
        let latency = packet.ts.saturating_sub(pending.sent);
        self.finish(
            &pending,
            status,
            response_text(message, status),
            Some(latency),
        );
    }

    /// Records a query's outcome in its log entry and its resolver's tally.
    fn finish(
        &mut self,
        p: &Pending,
        status: QueryStatus,
        response: String,
        latency: Option<Duration>,
    ) {
        self.downstreams.remove(&p.question, p.seq);
        // The ring may have dropped the entry; the tally still counts.
        if let Some(record) = self.log.get_mut(p.seq) {
            record.status = status;
            record.response = response;
            record.latency = latency;
        }
        self.resolvers.outcome(p.ifindex, p.server, status, latency);
    }

    fn learn_names(&mut self, message: &DnsMessage, ts: Duration) {
        let Some(question) = &message.question else {
            return;
        };
        let mut name: Option<Arc<str>> = None;
        for answer in &message.answers {
            if let AnswerData::Addr(ip) = answer.data {
                let name = name.get_or_insert_with(|| Arc::from(question.name.as_str()));
                let expires =
                    ts + Duration::from_secs(u64::from(answer.ttl)) + self.config.name_grace;
                self.names.learn(ip, Arc::clone(name), expires, ts);
            }
        }
    }
}

fn status_of(message: &DnsMessage) -> QueryStatus {
    match message.rcode {
        0 if message.truncated => QueryStatus::Truncated,
        0 => QueryStatus::Answered,
        2 => QueryStatus::ServFail,
        3 => QueryStatus::NxDomain,
        5 => QueryStatus::Refused,
        other => QueryStatus::Other(other),
    }
}

/// What the log's Response column says.
fn response_text(message: &DnsMessage, status: QueryStatus) -> String {
    match status {
        QueryStatus::Answered => {}
        QueryStatus::Truncated => return "truncated, retry over TCP".to_string(),
        _ => return rcode_name(message.rcode),
    }
    let mut text = String::new();
    let mut push = |item: &dyn std::fmt::Display| {
        if text.len() < MAX_RESPONSE_TEXT {
            if !text.is_empty() {
                text.push_str(", ");
            }
            text.push_str(&item.to_string());
        }
    };
    let addrs = message
        .answers
        .iter()
        .filter(|a| matches!(a.data, AnswerData::Addr(_)));
    let mut any = false;
    for a in addrs {
        push(&a.data);
        any = true;
    }
    if !any {
        let final_alias = message.answers.iter().rev().find_map(|a| match &a.data {
            AnswerData::Alias(target) => Some(target),
            _ => None,
        });
        let texts = message
            .answers
            .iter()
            .filter(|a| matches!(a.data, AnswerData::Text(_)));
        for a in texts {
            push(&a.data);
            any = true;
        }
        if !any {
            if let Some(target) = final_alias {
                push(target);
                any = true;
            }
        }
    }
    if !any {
        text.push_str("NODATA");
    }
    if text.len() > MAX_RESPONSE_TEXT {
        let mut cut = MAX_RESPONSE_TEXT;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push('…');
    }
    text
}

//! The engine's side of the DNS observatory: hands port-53 packets to the
//! [`DnsObserver`] with a [`DnsContext`] that answers from the engine's
//! own attribution (the flow of the querying socket, its owner), tells the
//! observer when a querying socket's owner is found late, and lets the
//! filter match flows by the names their remote addresses were given.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::decode::IpPacket;
use crate::direction::LocalAddrs;
use crate::dns::{DnsContext, DnsObserver, DnsPacket};
use crate::flow::{FlowKey, PackedKey, Protocol};
use crate::socket::ProcessInfo;

use super::flow_table::FlowTable;
use super::slots::Slots;
use super::{Engine, FlowEntry, ProcessState};

/// DNS packets waiting at most for their flows' owner searches; past
/// this they are observed with what is known.
const MAX_DEFERRED_DNS: usize = 1024;

/// A port-53 packet kept until its flow's owner search has run.
#[derive(Debug, Clone)]
pub(super) struct Deferred {
    ts: Duration,
    ifindex: u32,
    proto: Protocol,
    src: SocketAddr,
    dst: SocketAddr,
    tcp_seq: u32,
    flags: [bool; 3],
    payload: Vec<u8>,
}

/// The engine's flows and processes, seen from the observer.
struct Attribution<'a> {
    flows: &'a mut FlowTable<FlowEntry>,
    processes: &'a Slots<ProcessState>,
    local: &'a LocalAddrs,
}

impl Attribution<'_> {
    fn owner(
        &mut self,
        proto: Protocol,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> Option<&ProcessInfo> {
        let key = FlowKey::new(proto, local, remote);
        let slot = self.flows.get_mut(&PackedKey::from(&key))?.slot?;
        Some(&self.processes.get(slot).info)
    }
}

impl DnsContext for Attribution<'_> {
    fn client_owner(
        &mut self,
        proto: Protocol,
        client: SocketAddr,
        server: SocketAddr,
    ) -> Option<ProcessInfo> {
        self.owner(proto, client, server).cloned()
    }

    fn server_owner(
        &mut self,
        proto: Protocol,
        server: SocketAddr,
        client: SocketAddr,
    ) -> Option<ProcessInfo> {
        self.owner(proto, server, client).cloned()
    }

    fn is_local(&self, ip: IpAddr) -> bool {
        self.local.contains(&ip)
    }
}

impl Engine {
    /// The DNS observatory, unless DNS is off (`--no-dns`).
    pub fn dns(&self) -> Option<&DnsObserver> {
        self.dns.as_ref()
    }

    /// Hands a port-53 packet (already accounted as traffic) to the
    /// observer. While a flow of the packet waits for its owner search
    /// (`queue.rs`), the packet waits too, and so do the DNS packets after
    /// it (the observer must see them in order): who asked matters to
    /// the log and to linking a stub's upstream queries, and the search
    /// runs before the next batch.
    pub(super) fn observe_dns(
        &mut self,
        ip: &IpPacket<'_>,
        ts: Duration,
        ifindex: u32,
        owner_waits: bool,
    ) {
        if self.dns.is_none() || !ip.proto.has_ports() {
            return;
        }
        if owner_waits || !self.deferred_dns.is_empty() {
            if self.deferred_dns.len() >= MAX_DEFERRED_DNS {
                self.flush_dns();
            }
            self.deferred_dns.push(Deferred {
                ts,
                ifindex,
                proto: ip.proto,
                src: SocketAddr::new(ip.src, ip.src_port),
                dst: SocketAddr::new(ip.dst, ip.dst_port),
                tcp_seq: ip.tcp.seq,
                flags: [ip.tcp.syn, ip.tcp.fin, ip.tcp.rst],
                payload: ip.payload.to_vec(),
            });
            return;
        }
        let packet = DnsPacket {
            ts,
            ifindex,
            proto: ip.proto,
            src: SocketAddr::new(ip.src, ip.src_port),
            dst: SocketAddr::new(ip.dst, ip.dst_port),
            tcp_seq: ip.tcp.seq,
            syn: ip.tcp.syn,
            fin: ip.tcp.fin,
            rst: ip.tcp.rst,
            payload: ip.payload,
        };
        self.observe_now(&packet);
    }

    fn observe_now(&mut self, packet: &DnsPacket<'_>) {
        let Some(dns) = &mut self.dns else {
            return;
        };
        let mut ctx = Attribution {
            flows: &mut self.flows,
            processes: &self.processes,
            local: &self.local,
        };
        dns.observe(packet, &mut ctx);
    }

    /// Hands the waiting DNS packets to the observer, in order, with the
    /// owners the searches found (those still unknown are filled in if
    /// they are found later).
    pub(super) fn flush_dns(&mut self) {
        for d in std::mem::take(&mut self.deferred_dns) {
            let [syn, fin, rst] = d.flags;
            self.observe_now(&DnsPacket {
                ts: d.ts,
                ifindex: d.ifindex,
                proto: d.proto,
                src: d.src,
                dst: d.dst,
                tcp_seq: d.tcp_seq,
                syn,
                fin,
                rst,
                payload: &d.payload,
            });
        }
    }

    /// A flow's owner was found after it started: if the flow is a DNS
    /// client's, its queries in the log get the owner too; if it is a
    /// local resolver's, its clients' waiting queries learn their stub.
    pub(super) fn dns_owner_found(&mut self, key: &FlowKey, slot: usize) {
        let Some(dns) = &mut self.dns else {
            return;
        };
        let info = &self.processes.get(slot).info;
        if key.remote_port == 53 {
            dns.set_owner(key.local(), key.remote(), info);
        } else if key.local_port == 53 {
            dns.set_stub_owner(key.remote(), info);
        }
    }

    /// The remote address's passive name contains the (lower-case)
    /// filter pattern.
    pub(super) fn remote_name_matches(&self, key: &FlowKey, pattern: &str) -> bool {
        self.dns
            .as_ref()
            .and_then(|d| d.name_of(key.remote_ip))
            .is_some_and(|name| name.to_lowercase().contains(pattern))
    }
}

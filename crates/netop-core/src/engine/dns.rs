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
    /// observer.
    pub(super) fn observe_dns(&mut self, ip: &IpPacket<'_>, ts: Duration, ifindex: u32) {
        let Some(dns) = &mut self.dns else {
            return;
        };
        if !ip.proto.has_ports() {
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
        let mut ctx = Attribution {
            flows: &mut self.flows,
            processes: &self.processes,
            local: &self.local,
        };
        dns.observe(&packet, &mut ctx);
    }

    /// A flow's owner was found after it started: if the flow is a DNS
    /// client's, its queries in the log get the owner too.
    pub(super) fn dns_owner_found(&mut self, key: &FlowKey, slot: usize) {
        let Some(dns) = &mut self.dns else {
            return;
        };
        if key.remote_port != 53 {
            return;
        }
        let info = &self.processes.get(slot).info;
        dns.set_owner(key.local(), key.remote(), info);
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

//! [`Tester`]: the counting program loaded but attached nowhere, run on
//! frames given by hand through `BPF_PROG_TEST_RUN`, so its parser can be
//! checked against the userspace decoder on the same bytes
//! (`tests/counting.rs`: same keys, same byte counts). Test support, but
//! public so the integration test can reach it; it changes no interface.

use std::os::fd::AsFd;
use std::time::Duration;

use aya::maps::MapData;
use netop_core::FlowDelta;

use super::attach::Attached;
use super::dns_ring::DnsRing;
use super::slots::Slots;
use super::table;
use super::CountingUnavailable;

/// The loaded program and its table.
pub struct Tester {
    attached: Attached,
    flows: MapData,
    full: MapData,
    slots: Slots,
    dns: Option<DnsRing>,
    cpus: usize,
}

/// A DNS frame from the ring, owned: cooked v2 bytes and original length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsFrame {
    pub data: Vec<u8>,
    pub orig_len: u32,
}

impl std::fmt::Debug for Tester {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tester").finish_non_exhaustive()
    }
}

impl Tester {
    /// Loads the programs (`skip_dns` as a run with the DNS observatory:
    /// port-53 packets go to the DNS ring).
    pub fn open(skip_dns: bool) -> Result<Tester, CountingUnavailable> {
        Self::with_capacity(skip_dns, super::CAPACITY)
    }

    /// The same with a table of `capacity` entries.
    pub fn with_capacity(skip_dns: bool, capacity: u32) -> Result<Tester, CountingUnavailable> {
        let mut attached = Attached::load(None, skip_dns, capacity)?;
        let flows = attached.take_map("FLOWS")?;
        let full = attached.take_map("FULL")?;
        let dns = if skip_dns {
            let ring = attached.take_ring("DNS")?;
            Some(DnsRing::new(ring, attached.take_map("DNS_FULL")?))
        } else {
            None
        };
        let cpus = aya::util::nr_cpus()
            .map_err(|(what, e)| CountingUnavailable::Failed(format!("{what}: {e}")))?;
        let slots = Slots::new(attached.take_map("SLOT")?, cpus);
        Ok(Tester {
            attached,
            flows,
            full,
            slots,
            dns,
            cpus,
        })
    }

    /// Runs `program` (`netop_eth_ingress`, ...) once on `frame`; the
    /// kernel makes an skb of it on the loopback device.
    pub fn run(&self, program: &str, frame: &[u8]) -> std::io::Result<()> {
        let fd = self
            .attached
            .program_fd(program)
            .ok_or_else(|| std::io::Error::other(format!("no program {program}")))?;
        super::test_run::on_frame(fd, frame).map(|_| ())
    }

    /// Packets the table had no room for.
    pub fn full(&self) -> u64 {
        super::capture::sum_percpu(&self.full, self.cpus)
    }

    /// The DNS frames waiting in the ring (none without `skip_dns`).
    pub fn dns_frames(&mut self) -> Vec<DnsFrame> {
        let mut out = Vec::new();
        if let Some(dns) = &mut self.dns {
            dns.drain(Duration::ZERO, &mut |f| {
                out.push(DnsFrame {
                    data: f.data.to_vec(),
                    orig_len: f.orig_len,
                });
            });
        }
        out
    }

    /// DNS packets the ring had no room for (counted in the table instead).
    pub fn dns_full(&self) -> u64 {
        self.dns.as_ref().map_or(0, |d| d.full(self.cpus))
    }

    /// What the table holds, read and emptied (times since boot), with
    /// the per-CPU slots merged into it first, as netop reads it.
    pub fn deltas(&mut self) -> std::io::Result<Vec<FlowDelta>> {
        self.attached.flush_slots(&mut self.slots, true)?;
        self.table_only()
    }

    /// What the table holds, read and emptied, without merging the slots:
    /// a stream's packets wait in its CPU's slot until another flow comes.
    pub fn table_only(&mut self) -> std::io::Result<Vec<FlowDelta>> {
        let cpus = self.cpus;
        let mut out = Vec::new();
        table::read_and_delete(self.flows.fd().as_fd(), cpus, &mut |k, v| {
            if let Some(d) = table::decode(k, v, cpus, Duration::ZERO) {
                out.push(d);
            }
        })?;
        Ok(out)
    }
}

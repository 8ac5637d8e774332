//! [`KernelCapture`]: the kernel's counters, and DNS frames from the
//! program's ring buffer (`dns_ring.rs`), as one [`Capture`] for the
//! collect loop.

use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use aya::maps::MapData;
use netop_core::{
    Batch, Capture, CaptureError, CaptureHealth, CaptureStats, Counting, Engine, FlowDelta, Poll,
};

use super::attach::Attached;
use super::dns_ring::DnsRing;
use super::links::LinkWatch;
use super::outages::Outages;
use super::sleep::Sleeper;
use super::slots::Slots;
use super::table;
use super::{capacity_for, CountingUnavailable, READ_EVERY, SCAN_EVERY};

/// Counts in the kernel; DNS packets (when the observatory is on) come as
/// frames.
pub struct KernelCapture {
    attached: Attached,
    flows: MapData,
    full: MapData,
    /// Each CPU's last flow, merged into `flows` before it is read.
    slots: Slots,
    cpus: usize,
    dns: Option<DnsRing>,
    last_read: Instant,
    last_scan: Instant,
    /// Link announcements; `None` where the socket could not be opened
    /// (then only the periodic scan finds new interfaces).
    links: Option<LinkWatch>,
    deltas: Vec<FlowDelta>,
    /// `deltas` wait for the engine to list a new interface.
    held: bool,
    /// Deltas and packets read so far; packets the table had no room for.
    read: u64,
    packets: u64,
    read_errors: u64,
    /// The asked-for interface's absences.
    outages: Outages,
    /// What ends a sleep between reads.
    sleeper: Sleeper,
}

impl std::fmt::Debug for KernelCapture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KernelCapture")
            .field("attached", &self.attached)
            .field("dns", &self.dns.is_some())
            .finish_non_exhaustive()
    }
}

/// Wall-clock time minus the kernel's monotonic clock (what
/// `bpf_ktime_get_ns` reads): moves the program's times to the Unix epoch.
fn boot_offset() -> Duration {
    let wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let mono = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .map_or(Duration::ZERO, Duration::from);
    wall.saturating_sub(mono)
}

impl KernelCapture {
    /// Loads and attaches the program to `interface` (or every one).
    /// With `skip_dns` port-53 packets come as frames through the DNS ring
    /// instead of being counted in the table; without, they are counted
    /// there like any other.
    pub fn open(
        interface: Option<String>,
        skip_dns: bool,
    ) -> Result<KernelCapture, CountingUnavailable> {
        let interface_asked = interface.clone();
        // Subscribed before the first listing, so no link is missed
        // between the two.
        let links = LinkWatch::open()
            .map_err(|e| tracing::warn!(error = %e, "no link notifications; scanning only"))
            .ok();
        let cpus = aya::util::nr_cpus()
            .map_err(|(what, e)| CountingUnavailable::Failed(format!("{what}: {e}")))?;
        let mut attached = Attached::open(interface, skip_dns, capacity_for(cpus))?;
        let flows = attached.take_map("FLOWS")?;
        let full = attached.take_map("FULL")?;
        let slots = Slots::new(attached.take_map("SLOT")?, cpus);
        let dns = if skip_dns {
            let ring = attached.take_ring("DNS")?;
            Some(DnsRing::new(ring, attached.take_map("DNS_FULL")?))
        } else {
            None
        };
        let sleeper = Sleeper::new(
            links
                .iter()
                .map(LinkWatch::fd)
                .chain(dns.iter().map(DnsRing::fd)),
        );
        let now = Instant::now();
        Ok(KernelCapture {
            attached,
            flows,
            full,
            slots,
            cpus,
            dns,
            last_read: now,
            last_scan: now,
            links,
            deltas: Vec::new(),
            held: false,
            read: 0,
            packets: 0,
            read_errors: 0,
            outages: Outages::new(interface_asked, now),
            sleeper,
        })
    }

    /// Also ends a sleep when the event source's ring fills up
    /// (`sleep.rs`), so its records are read before it overflows.
    pub fn wake_on_events(&mut self, events: OwnedFd) {
        self.sleeper.wake_on_events(events);
    }

    /// Reads and empties the table into the engine, in chunks of at most
    /// [`CHUNK`] deltas: a read of 20,000 new flows held whole was 2.6 MB
    /// at once, the largest part of the peak when they began. Deltas that
    /// wait for an interface listing (see [`give`]) are kept until the
    /// next read.
    fn read_into(&mut self, engine: &mut Engine, now: bool) {
        let boot = boot_offset();
        let cpus = self.cpus;
        let was_held = self.held;
        match self.attached.flush_slots(&mut self.slots, now) {
            // Busy each time it was asked: merged at the next read.
            Ok(left) if left > 0 => {
                tracing::debug!(left, "per-CPU slots left to the next read");
            }
            Ok(_) => {}
            Err(e) => {
                self.read_errors += 1;
                tracing::warn!(error = %e, "cannot merge the per-CPU slots into the kernel counters");
            }
        }
        let KernelCapture {
            flows,
            deltas,
            held,
            read,
            packets,
            ..
        } = self;
        let result = table::read_and_delete(flows.fd().as_fd(), cpus, &mut |k, v| {
            if let Some(d) = table::decode(k, v, cpus, boot) {
                *read += 1;
                *packets += d.packets;
                deltas.push(d);
                if deltas.len() >= CHUNK && !was_held && !*held {
                    give(engine, deltas, held, now);
                }
            }
        });
        if let Err(e) = result {
            self.read_errors += 1;
            tracing::warn!(error = %e, "cannot read the kernel counters");
        }
        // Held during this read: the listing comes first.
        if was_held || !self.held || now {
            give(engine, &mut self.deltas, &mut self.held, now);
        }
        // A burst leaves room behind: let it go between reads.
        self.deltas.shrink_to(CHUNK);
    }

    /// Packets the table had no room for (summed over CPUs).
    fn table_full(&self) -> u64 {
        sum_percpu(&self.full, self.cpus)
    }
}

/// Entry 0 of a per-CPU array of u64, summed over `cpus` CPUs (0 when it
/// cannot be read).
pub(super) fn sum_percpu(map: &MapData, cpus: usize) -> u64 {
    let mut buf = vec![0u8; 8 * cpus];
    if table::lookup_percpu(map.fd().as_fd(), 0, &mut buf).is_err() {
        return 0;
    }
    buf.chunks_exact(8)
        .map(|c| {
            let mut x = [0u8; 8];
            x.copy_from_slice(c);
            u64::from_ne_bytes(x)
        })
        .sum()
}

/// Deltas handed to the engine at once, at most (about 130 KB).
const CHUNK: usize = 1024;

/// Gives the engine `deltas`. Deltas with packets on an interface the
/// engine has not listed yet (created since: its addresses decide which end
/// of a flow is local) wait for one listing, which the engine asks the loop
/// for (`held`); the next call, or `now`, gives them anyway.
fn give(engine: &mut Engine, deltas: &mut Vec<FlowDelta>, held: &mut bool, now: bool) {
    if deltas.is_empty() {
        return;
    }
    if !now && !*held && deltas.iter().any(|d| !engine.is_listed(d.ifindex)) {
        *held = true;
        engine.request_listing();
        return;
    }
    *held = false;
    engine.ingest_deltas(deltas);
    deltas.clear();
}

impl Capture for KernelCapture {
    fn next_frame(&mut self) -> Result<Poll<'_>, CaptureError> {
        if self.dns.is_none() {
            std::thread::sleep(READ_EVERY);
            return Ok(Poll::Idle);
        }
        self.sleeper.sleep(READ_EVERY);
        let boot = boot_offset();
        match self.dns.as_mut().and_then(|d| d.next(boot)) {
            Some(frame) => Ok(Poll::Frame(frame)),
            None => Ok(Poll::Idle),
        }
    }

    fn dispatch_into(&mut self, engine: &mut Engine) -> Result<Batch, CaptureError> {
        // Returns at once while records wait in the ring.
        self.sleeper
            .sleep(READ_EVERY.saturating_sub(self.last_read.elapsed()));
        let batch = match &mut self.dns {
            Some(dns) => match dns.drain(boot_offset(), &mut |frame| engine.ingest(frame)) {
                0 => Batch::Idle,
                n => Batch::Frames(n),
            },
            None => Batch::Idle,
        };
        let now = Instant::now();
        let announced = self.links.as_ref().is_some_and(LinkWatch::changed);
        if announced || now.duration_since(self.last_scan) >= SCAN_EVERY {
            self.last_scan = now;
            if let Err(e) = self.attached.sync() {
                tracing::warn!(error = %e, "cannot attach to interfaces");
            }
            let present = self.attached.interfaces() > 0 || !self.attached.skipped().is_empty();
            self.outages.saw(present, now);
        }
        if now.duration_since(self.last_read) >= READ_EVERY {
            self.last_read = now;
            self.read_into(engine, false);
        }
        Ok(batch)
    }

    fn flush_into(&mut self, engine: &mut Engine) {
        self.last_read = Instant::now();
        self.read_into(engine, true);
    }

    fn counting(&self) -> Counting {
        let hook = if self.attached.tcx { "tcx" } else { "clsact" };
        let skipped = self.attached.skipped();
        Counting::Kernel {
            attach: if skipped.is_empty() {
                hook.to_string()
            } else {
                format!("{hook}; not counted: {}", skipped.join(", "))
            },
            interfaces: self.attached.interfaces(),
        }
    }

    fn stats(&mut self) -> Result<CaptureStats, CaptureError> {
        let (frames, full) = match &self.dns {
            Some(dns) => (dns.read, dns.full(self.cpus)),
            None => (0, 0),
        };
        Ok(CaptureStats {
            received: frames + self.packets,
            dropped: full + self.table_full(),
            if_dropped: 0,
        })
    }

    fn health(&self) -> CaptureHealth {
        self.outages.health(Instant::now())
    }
}

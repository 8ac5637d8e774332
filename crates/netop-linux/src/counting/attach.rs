//! Loads the counting program and keeps it attached to the interfaces
//! being counted: at start, and as interfaces appear and go (containers,
//! VPNs), rescanned by [`Attached::sync`].
//!
//! Each interface gets the program for its link type: Ethernet (and
//! loopback, whose packets carry a zero Ethernet header at this hook) or
//! bare IP (tun, WireGuard, IP tunnels); other types are left out and
//! named. Loopback is counted on ingress only: every loopback packet
//! crosses both hooks, and libpcap, whose totals kernel counting matches,
//! sees it once. aya attaches with TCX links where the kernel has them
//! (6.6+), else through the clsact qdisc (added when missing).

use std::collections::HashMap;

use aya::maps::{Map, MapData, RingBuf};
use aya::programs::tc::{self, SchedClassifierLinkId, TcAttachType};
use aya::programs::{RawTracePoint, SchedClassifier};
use aya::{Ebpf, EbpfLoader};

use super::slots::Slots;
use super::CountingUnavailable;

/// The program that merges a CPU's slot into the table (`counting/slots.rs`).
const FLUSH: &str = "netop_flush";

const ARPHRD_ETHER: u16 = 1;
const ARPHRD_LOOPBACK: u16 = 772;
/// Link types whose packets start with the IP header at the TC hook:
/// none (tun, WireGuard), IPIP, IPv6-in-IPv6, SIT, GRE, IPv6 GRE.
const RAW_IP: [u16; 6] = [65534, 768, 769, 776, 778, 823];

/// Which program an interface gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    Ethernet,
    Loopback,
    RawIp,
}

impl Link {
    /// The program for an ARPHRD type, if there is one.
    pub fn of(arphrd: u16) -> Option<Link> {
        match arphrd {
            ARPHRD_ETHER => Some(Link::Ethernet),
            ARPHRD_LOOPBACK => Some(Link::Loopback),
            t if RAW_IP.contains(&t) => Some(Link::RawIp),
            _ => None,
        }
    }

    /// (program, hook) pairs to attach.
    fn programs(self) -> &'static [(&'static str, TcAttachType)] {
        match self {
            Link::Ethernet => &[
                ("netop_eth_ingress", TcAttachType::Ingress),
                ("netop_eth_egress", TcAttachType::Egress),
            ],
            Link::Loopback => &[("netop_eth_ingress", TcAttachType::Ingress)],
            Link::RawIp => &[
                ("netop_raw_ingress", TcAttachType::Ingress),
                ("netop_raw_egress", TcAttachType::Egress),
            ],
        }
    }
}

#[cfg(netop_tc)]
fn object() -> Option<&'static [u8]> {
    Some(aya::include_bytes_aligned!(concat!(
        env!("OUT_DIR"),
        "/netop_tc.bpf.o"
    )))
}

#[cfg(not(netop_tc))]
fn object() -> Option<&'static [u8]> {
    None
}

/// Whether this build carries the counting program.
pub fn built() -> bool {
    object().is_some()
}

/// One interface's attachments.
struct Hooked {
    name: String,
    links: Vec<(&'static str, SchedClassifierLinkId)>,
}

/// The loaded program, its maps, and the interfaces it is attached to.
pub struct Attached {
    ebpf: Ebpf,
    /// Only this interface (`--interface`), or every one.
    only: Option<String>,
    hooked: HashMap<u32, Hooked>,
    /// Interfaces of a type no program parses, by name.
    skipped: Vec<String>,
    /// TCX links (Linux 6.6+), else clsact filters.
    pub tcx: bool,
    /// The classifiers keep each CPU's last flow in a slot
    /// (`counting/slots.rs`), to be flushed before the table is read.
    slots: bool,
}

impl std::fmt::Debug for Attached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attached")
            .field("only", &self.only)
            .field("interfaces", &self.hooked.len())
            .finish_non_exhaustive()
    }
}

fn failed(what: &str, e: &(dyn std::error::Error + 'static)) -> CountingUnavailable {
    let mut chain: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = chain {
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            if io.raw_os_error() == Some(libc::EPERM) {
                return CountingUnavailable::NotPermitted;
            }
        }
        chain = c.source();
    }
    let mut text = format!("{what}: {e}");
    let mut cause = e.source();
    while let Some(c) = cause {
        let s = c.to_string();
        if !text.contains(&s) {
            text.push_str(": ");
            text.push_str(&s);
        }
        cause = c.source();
    }
    CountingUnavailable::Failed(text.lines().next().unwrap_or_default().to_string())
}

/// The link type (`/sys/class/net/NAME/type`).
fn arphrd(name: &str) -> Option<u16> {
    std::fs::read_to_string(format!("/sys/class/net/{name}/type"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

impl Attached {
    /// Loads the programs (`skip_dns`: port-53 packets go to the DNS ring,
    /// not the table; `capacity`: the table's entries) and attaches them.
    pub fn open(
        only: Option<String>,
        skip_dns: bool,
        capacity: u32,
    ) -> Result<Attached, CountingUnavailable> {
        let mut attached = Self::load(only, skip_dns, capacity)?;
        attached.sync()?;
        if attached.hooked.is_empty() {
            return Err(CountingUnavailable::Failed(
                "no interface could be attached".into(),
            ));
        }
        Ok(attached)
    }

    /// Loads the programs, attached nowhere yet.
    pub fn load(
        only: Option<String>,
        skip_dns: bool,
        capacity: u32,
    ) -> Result<Attached, CountingUnavailable> {
        let object = object().ok_or(CountingUnavailable::NotBuilt)?;
        let skip = u32::from(skip_dns);
        let kernel = aya::util::KernelVersion::current().ok();
        let at_least = |major, minor| {
            kernel.is_some_and(|v| v >= aya::util::KernelVersion::new(major, minor, 0))
        };
        // bpf_ktime_get_coarse_ns came in 5.11 (netop_tc.bpf.c, last_now),
        // running a program on a chosen CPU in 5.10 (the slots' flush).
        let recent = at_least(5, 11);
        let coarse = u32::from(recent);
        // No kernel BTF: the classifiers read only the UAPI `__sk_buff`
        // and packet bytes (no CO-RE relocation), and parsing
        // /sys/kernel/btf/vmlinux, which aya does by default, peaks at
        // about 18 MB of heap.
        let mut ebpf = EbpfLoader::new()
            .btf(None)
            .override_global("skip_dns", &skip, true)
            .override_global("coarse_clock", &coarse, true)
            .override_global("use_slot", &coarse, true)
            .map_max_entries("FLOWS", capacity)
            .load(object)
            .map_err(|e| failed("loading the counting program", &e))?;
        for name in [
            "netop_eth_ingress",
            "netop_eth_egress",
            "netop_raw_ingress",
            "netop_raw_egress",
        ] {
            let program: &mut SchedClassifier = ebpf
                .program_mut(name)
                .ok_or_else(|| CountingUnavailable::Failed(format!("no program {name}")))?
                .try_into()
                .map_err(|e| failed(name, &e))?;
            program.load().map_err(|e| failed(name, &e))?;
        }
        let flush: &mut RawTracePoint = ebpf
            .program_mut(FLUSH)
            .ok_or_else(|| CountingUnavailable::Failed(format!("no program {FLUSH}")))?
            .try_into()
            .map_err(|e| failed(FLUSH, &e))?;
        flush.load().map_err(|e| failed(FLUSH, &e))?;
        crate::heap::release_heap();
        Ok(Attached {
            ebpf,
            only,
            hooked: HashMap::new(),
            skipped: Vec::new(),
            tcx: at_least(6, 6),
            slots: recent,
        })
    }

    /// The descriptor of a loaded program.
    pub fn program_fd(&self, name: &str) -> Option<std::os::fd::BorrowedFd<'_>> {
        use std::os::fd::AsFd;
        let p: &SchedClassifier = self.ebpf.program(name)?.try_into().ok()?;
        p.fd().ok().map(|fd| fd.as_fd())
    }

    /// The descriptor of the loaded slot flush (`netop_flush`).
    fn flush_fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        use std::os::fd::AsFd;
        let p: &RawTracePoint = self.ebpf.program(FLUSH)?.try_into().ok()?;
        p.fd().ok().map(|fd| fd.as_fd())
    }

    /// Merges the classifiers' stale slots (all when `all`) into the
    /// table (`counting/slots.rs`), when they keep them; returns how many
    /// were left to the next read.
    pub fn flush_slots(&self, slots: &mut Slots, all: bool) -> std::io::Result<usize> {
        if !self.slots {
            return Ok(0);
        }
        let fd = self
            .flush_fd()
            .ok_or_else(|| std::io::Error::other(format!("no program {FLUSH}")))?;
        slots.flush(fd, all)
    }

    /// Attaches to interfaces that appeared and forgets those that went;
    /// returns how many were attached now. An interface that cannot be
    /// attached is an error only for the one `--interface` names.
    pub fn sync(&mut self) -> Result<usize, CountingUnavailable> {
        let present: Vec<(u32, String)> = match nix::net::if_::if_nameindex() {
            Ok(list) => list
                .iter()
                .map(|i| (i.index(), i.name().to_string_lossy().into_owned()))
                .filter(|(_, name)| self.only.as_ref().is_none_or(|o| o == name))
                .collect(),
            Err(e) => return Err(failed("listing interfaces", &e)),
        };
        let gone: Vec<u32> = self
            .hooked
            .iter()
            .filter(|(index, h)| !present.iter().any(|(i, n)| i == *index && *n == h.name))
            .map(|(index, _)| *index)
            .collect();
        for index in gone {
            if let Some(h) = self.hooked.remove(&index) {
                self.detach(h);
            }
        }
        let mut added = 0;
        for (index, name) in present {
            if self.hooked.contains_key(&index) || self.skipped.contains(&name) {
                continue;
            }
            let Some(link) = arphrd(&name).and_then(Link::of) else {
                tracing::debug!(%name, "interface type not counted in the kernel");
                self.skipped.push(name);
                continue;
            };
            match self.attach(&name, link) {
                Ok(links) => {
                    self.hooked.insert(index, Hooked { name, links });
                    added += 1;
                }
                // It may have gone between the listing and the attach.
                Err(e) if self.only.is_none() => {
                    tracing::debug!(%name, error = %e, "cannot attach the counting program");
                }
                Err(e) => return Err(e),
            }
        }
        Ok(added)
    }

    fn attach(
        &mut self,
        name: &str,
        link: Link,
    ) -> Result<Vec<(&'static str, SchedClassifierLinkId)>, CountingUnavailable> {
        if !self.tcx {
            // clsact is the hook for filters without TCX; it may be there.
            let _ = tc::qdisc_add_clsact(name);
        }
        let mut links = Vec::new();
        for &(program, hook) in link.programs() {
            let p: &mut SchedClassifier = self
                .ebpf
                .program_mut(program)
                .ok_or_else(|| CountingUnavailable::Failed(format!("no program {program}")))?
                .try_into()
                .map_err(|e| failed(program, &e))?;
            match p.attach(name, hook) {
                Ok(id) => links.push((program, id)),
                Err(e) => {
                    let e = failed(&format!("attaching to {name}"), &e);
                    for (program, id) in links {
                        self.detach_one(program, id);
                    }
                    return Err(e);
                }
            }
        }
        Ok(links)
    }

    fn detach(&mut self, h: Hooked) {
        for (program, id) in h.links {
            self.detach_one(program, id);
        }
    }

    fn detach_one(&mut self, program: &str, id: SchedClassifierLinkId) {
        if let Some(p) = self.ebpf.program_mut(program) {
            if let Ok(p) = <&mut SchedClassifier>::try_from(p) {
                // A link whose interface went is already gone.
                let _ = p.detach(id);
            }
        }
    }

    /// The interfaces counted now.
    pub fn interfaces(&self) -> usize {
        self.hooked.len()
    }

    /// Interfaces of a type the program does not parse.
    pub fn skipped(&self) -> &[String] {
        &self.skipped
    }

    /// The map named `name`, taken out of the loader.
    pub fn take_map(&mut self, name: &str) -> Result<MapData, CountingUnavailable> {
        match self.ebpf.take_map(name) {
            Some(Map::PerCpuHashMap(m)) | Some(Map::PerCpuArray(m)) => Ok(m),
            _ => Err(CountingUnavailable::Failed(format!("no map {name}"))),
        }
    }

    /// The ring buffer named `name`, taken out of the loader.
    pub fn take_ring(&mut self, name: &str) -> Result<RingBuf<MapData>, CountingUnavailable> {
        match self.ebpf.take_map(name) {
            Some(map @ Map::RingBuf(_)) => {
                RingBuf::try_from(map).map_err(|e| failed(&format!("the ring {name}"), &e))
            }
            _ => Err(CountingUnavailable::Failed(format!("no ring {name}"))),
        }
    }
}

//! Loads and attaches the eBPF program with aya, and reads its ring buffer.
//!
//! The object is built by `build.rs` with clang and embedded in the binary;
//! when the build had no clang there is no object and [`Loaded::open`]
//! says so. Every failure becomes one [`EventsUnavailable`] that names the
//! cause (privileges, BTF, the verifier), so the frontend can say in one
//! line why it polls instead. Decoding records is `record.rs`'s job.

use aya::maps::{Array, MapData, RingBuf};
use aya::programs::BtfTracePoint;
use aya::{Btf, Ebpf, EbpfLoader};

use super::EventsUnavailable;

/// The programs and the tracepoints they attach to.
const PROGRAMS: [(&str, &str); 3] = [
    ("netop_send", "sock_send_length"),
    ("netop_recv", "sock_recv_length"),
    ("netop_state", "inet_sock_set_state"),
];

/// The running kernel's BTF, which aya reads for CO-RE and attach ids.
const VMLINUX_BTF: &str = "/sys/kernel/btf/vmlinux";

/// `CAP_SYS_ADMIN`, `CAP_PERFMON` and `CAP_BPF` in the capability sets.
const CAP_SYS_ADMIN: u32 = 21;
const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;

#[cfg(netop_bpf)]
fn object() -> Option<&'static [u8]> {
    Some(aya::include_bytes_aligned!(concat!(
        env!("OUT_DIR"),
        "/netop.bpf.o"
    )))
}

#[cfg(not(netop_bpf))]
fn object() -> Option<&'static [u8]> {
    None
}

/// Whether this build carries the eBPF program.
pub fn built_with_ebpf() -> bool {
    object().is_some()
}

/// The loaded programs (detached when dropped) and their ring buffer.
pub struct Loaded {
    // Owns the programs and their links; dropping it detaches them.
    _ebpf: Ebpf,
    ring: RingBuf<MapData>,
    lost: Array<MapData, u64>,
}

impl std::fmt::Debug for Loaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loaded").finish_non_exhaustive()
    }
}

fn permitted() -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    let caps = crate::privileges::effective_capabilities();
    let has = |cap: u32| caps & (1 << cap) != 0;
    has(CAP_SYS_ADMIN) || (has(CAP_BPF) && has(CAP_PERFMON))
}

fn is_permission(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cause {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::PermissionDenied
                || io.raw_os_error() == Some(libc::EPERM)
            {
                return true;
            }
        }
        cause = e.source();
    }
    false
}

/// The error and its causes on one line.
fn one_line(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(e) = cause {
        let s = e.to_string();
        if !text.contains(&s) {
            text.push_str(": ");
            text.push_str(&s);
        }
        cause = e.source();
    }
    // The verifier's log can be long; its first line names the problem.
    text.lines().next().unwrap_or_default().to_string()
}

fn failed(what: &str, err: &(dyn std::error::Error + 'static)) -> EventsUnavailable {
    if is_permission(err) {
        EventsUnavailable::NotPermitted
    } else {
        EventsUnavailable::Failed {
            message: format!("{what}: {}", one_line(err)),
        }
    }
}

impl Loaded {
    /// Loads the programs, attaches them and opens the ring buffer.
    pub fn open() -> Result<Loaded, EventsUnavailable> {
        let object = object().ok_or(EventsUnavailable::NotBuilt)?;
        if !permitted() {
            return Err(EventsUnavailable::NotPermitted);
        }
        // aya's loader parses the kernel's BTF itself (`EbpfLoader::new`
        // calls `Btf::from_sys_fs`, and it cannot be built without that),
        // so it is not handed a parse of ours: two parses alive at once
        // were most of a 41 MB start-up peak. The attach ids need a `Btf`
        // too; it is parsed again once the loader's has been freed, so only
        // one is ever resident (see docs/PERFORMANCE.md, "Event source").
        if let Err(e) = std::fs::File::open(VMLINUX_BTF) {
            return Err(EventsUnavailable::NoBtf {
                message: one_line(&e),
            });
        }
        let mut ebpf = EbpfLoader::new()
            .load(object)
            .map_err(|e| failed("loading the eBPF object", &e))?;
        let btf = Btf::from_sys_fs().map_err(|e| EventsUnavailable::NoBtf {
            message: one_line(&e),
        })?;
        for (name, tracepoint) in PROGRAMS {
            let program: &mut BtfTracePoint = ebpf
                .program_mut(name)
                .ok_or_else(|| EventsUnavailable::Failed {
                    message: format!("the eBPF object has no program {name}"),
                })?
                .try_into()
                .map_err(|e| failed(name, &e))?;
            program.load(tracepoint, &btf).map_err(|e| {
                if is_permission(&e) {
                    EventsUnavailable::NotPermitted
                } else {
                    EventsUnavailable::Rejected {
                        program: tracepoint.to_string(),
                        message: one_line(&e),
                    }
                }
            })?;
            program
                .attach()
                .map_err(|e| failed(&format!("attaching to {tracepoint}"), &e))?;
        }
        let missing = |map: &str| EventsUnavailable::Failed {
            message: format!("the eBPF object has no map {map}"),
        };
        let ring = ebpf.take_map("EVENTS").ok_or_else(|| missing("EVENTS"))?;
        let ring = RingBuf::try_from(ring).map_err(|e| failed("the ring buffer", &e))?;
        let lost = ebpf.take_map("LOST").ok_or_else(|| missing("LOST"))?;
        let lost = Array::try_from(lost).map_err(|e| failed("the lost counter", &e))?;
        drop(btf);
        crate::heap::release_heap();
        Ok(Loaded {
            _ebpf: ebpf,
            ring,
            lost,
        })
    }

    /// Hands each waiting record to `f`, at most `limit` of them; returns
    /// how many were read. Never blocks.
    pub fn read(&mut self, limit: usize, f: &mut dyn FnMut(&[u8])) -> usize {
        let mut n = 0;
        while n < limit {
            let Some(item) = self.ring.next() else {
                break;
            };
            f(&item);
            n += 1;
        }
        n
    }

    /// A descriptor of the ring for a reader's epoll set, its own copy
    /// (the ring itself stays here).
    pub fn wake_fd(&self) -> std::io::Result<std::os::fd::OwnedFd> {
        use std::os::fd::AsFd;
        self.ring.as_fd().try_clone_to_owned()
    }

    /// Records the kernel dropped because the ring buffer was full.
    pub fn lost(&self) -> u64 {
        self.lost.get(&0, 0).unwrap_or(0)
    }
}

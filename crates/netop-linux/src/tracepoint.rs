//! Owners of outgoing TCP connections from the `sock:inet_sock_set_state`
//! perf tracepoint, where the eBPF event source cannot run.
//!
//! The event source needs BPF programs with BTF (`tp_btf`): root, or
//! CAP_BPF and CAP_PERFMON, and a kernel with BTF. Perf tracepoints need
//! less: CAP_PERFMON (or root), and any kernel since 4.16. This source
//! opens the tracepoint system-wide with `perf_event_open`, one event and
//! one mapped ring per online CPU, sampling every firing with its pid
//! (`PERF_SAMPLE_TID`), time (`PERF_SAMPLE_TIME`, CLOCK_MONOTONIC, to
//! merge the CPUs' rings in order) and raw record (`PERF_SAMPLE_RAW`), and pairs each
//! socket's connect (CLOSE -> SYN_SENT, in the connecting process) with
//! its handshake (SYN_SENT -> ESTABLISHED, with the tuple) by socket
//! address (`pairing.rs`). Each completed connection becomes a
//! [`SocketEvent`] of kind [`EventKind::Connect`], so the resolver feeds
//! it to the core's owner cache exactly like the event source's.
//!
//! What it cannot tell (polling still covers these): accepted
//! connections and UDP (no state changes in the owner's context), and
//! sockets used by another process than the one that connected.
//!
//! The owner's command name, uid and network namespace are read from
//! `/proc/PID` when the connect's record is drained, usually while the
//! process still runs. When the process is already gone, its pid is still
//! right, but: the command name comes from the last `PERF_RECORD_COMM`
//! the kernel sent for it (`attr.comm`: sent at each `exec`, so known
//! for processes started after netop) or is empty; the uid is lost
//! (`u32::MAX`, shown as a number); the namespace is taken to be
//! netop's own (the tracepoint does not name it), so a loopback
//! connection of another namespace could be confused with one of ours.
//!
//! Parts: `tracefs.rs` finds the tracepoint's id and format, `format.rs`
//! reads the format (offsets, never constants), `record.rs` decodes ring
//! records, `pairing.rs` pairs the two events. The perf file descriptors
//! are opened by the resolver at start-up, before any thread confines
//! itself; the ring is read on the owner thread, which may read `/proc`.
//! The perf syscall and the ring reading are `perf-event2`'s.

mod format;
mod pairing;
mod record;
mod tracefs;

use netop_core::Protocol;
use perf_event::events::Tracepoint;
use perf_event::{Builder, Clock, SampleFlag, Sampler};
use rustc_hash::FxHashMap;

pub use format::{parse as parse_format, FormatError, Layout};
pub use pairing::{Connected, Pairing, Step};
pub use record::{decode, PerfRecord, RecordError, StateChange};

use crate::events::{EventKind, SocketEvent};

/// Bytes of ring per CPU (a power of two; a record is about 100 bytes:
/// some 2,600 state changes per CPU between two drains).
const RING_BYTES: usize = 256 << 10;

/// Records read per drain at most, so a flood cannot hold the owner
/// thread.
const DRAIN_LIMIT: usize = 65_536;

/// Connects in flight remembered at most (each a few dozen bytes).
const PENDING_CONNECTS: usize = 16_384;

/// Command names from `PERF_RECORD_COMM` kept at most; when full the map
/// is cleared (names of live processes are read from `/proc` anyway).
const COMMS_KEPT: usize = 16_384;

/// The uid of an owner whose process was gone before it was read.
pub const UNKNOWN_UID: u32 = u32::MAX;

/// Why the tracepoint source cannot run; one line each.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TracepointUnavailable {
    #[error("tracepoint sock:inet_sock_set_state unreadable: {0}")]
    Tracefs(String),
    #[error("tracepoint sock:inet_sock_set_state: {0}")]
    Format(#[from] FormatError),
    #[error(
        "perf_event_open refused: needs root, or CAP_PERFMON (or perf_event_paranoid -1) ({0})"
    )]
    NotPermitted(String),
    #[error("perf_event_open on the tracepoint failed: {0}")]
    Failed(String),
    #[error("turned off")]
    Disabled,
}

/// What was read of a connecting process.
#[derive(Debug, Clone)]
struct Owner {
    pid: u32,
    comm: String,
    uid: u32,
    netns: u64,
}

/// The opened tracepoint, its rings and the connects in flight. Dropping
/// it closes the events.
pub struct TracepointSource {
    samplers: Vec<Sampler>,
    layout: Layout,
    pairing: Pairing<Owner>,
    comms: FxHashMap<u32, String>,
    /// netop's own network namespace, for owners whose namespace is lost.
    home_netns: u64,
    lost: u64,
}

impl std::fmt::Debug for TracepointSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TracepointSource")
            .field("cpus", &self.samplers.len())
            .field("pending", &self.pairing.pending())
            .field("lost", &self.lost)
            .finish_non_exhaustive()
    }
}

impl TracepointSource {
    /// Finds the tracepoint and opens it on every online CPU.
    pub fn open() -> Result<TracepointSource, TracepointUnavailable> {
        let described = tracefs::describe().map_err(TracepointUnavailable::Tracefs)?;
        let layout = format::parse(&described.format)?;
        let cpus = tracefs::online_cpus().map_err(TracepointUnavailable::Failed)?;
        let mut samplers = Vec::with_capacity(cpus.len());
        for cpu in cpus {
            samplers.push(open_on(described.id, cpu)?);
        }
        Ok(TracepointSource {
            samplers,
            layout,
            pairing: Pairing::new(PENDING_CONNECTS),
            comms: FxHashMap::default(),
            home_netns: crate::events::own_netns().unwrap_or(0),
            lost: 0,
        })
    }

    /// Hands each connection completed since the last drain to `f`, as
    /// the event source's records. Never blocks; returns how many ring
    /// records were read.
    pub fn drain_with(&mut self, f: &mut dyn FnMut(&SocketEvent)) -> usize {
        let mut read = 0;
        let mut changes = Vec::new();
        for sampler in &mut self.samplers {
            while read < DRAIN_LIMIT {
                let Some(rec) = sampler.next_record() else {
                    break;
                };
                read += 1;
                let body = rec.to_contiguous();
                match record::decode(rec.ty(), &body, &self.layout) {
                    Ok(PerfRecord::Sample(change)) => changes.push(change),
                    Ok(PerfRecord::Comm { pid, tid, comm }) if pid == tid => {
                        if self.comms.len() >= COMMS_KEPT {
                            self.comms.clear();
                        }
                        self.comms.insert(pid, comm);
                    }
                    Ok(PerfRecord::Lost(n)) => self.lost += n,
                    Ok(_) => {}
                    Err(e) => tracing::debug!(error = %e, "undecodable perf record"),
                }
            }
        }
        // Per CPU the records are in order; a connect and its handshake
        // may sit on two CPUs: one order by time. (Not connects first: a
        // freed socket's address is soon another socket's, and two
        // connects at one address in a drain must each meet their own
        // handshake.)
        changes.sort_by_key(|c| c.time);
        for change in &changes {
            match self.pairing.step(change) {
                Step::Connecting => {
                    let owner = self.owner_of(change.pid);
                    if let Some(done) = self.pairing.remember(change, owner) {
                        f(&self.event_of(done));
                    }
                }
                Step::Connected(done) => f(&self.event_of(done)),
                Step::Nothing => {}
            }
        }
        self.pairing.end_drain();
        read
    }

    /// Samples the kernel could not queue (a ring was full).
    pub fn lost(&self) -> u64 {
        self.lost
    }

    fn owner_of(&self, pid: u32) -> Owner {
        let known = read_process(pid);
        Owner {
            pid,
            comm: known
                .as_ref()
                .map(|k| k.0.clone())
                .or_else(|| self.comms.get(&pid).cloned())
                .unwrap_or_default(),
            uid: known.as_ref().map_or(UNKNOWN_UID, |k| k.1),
            netns: known.and_then(|k| k.2).unwrap_or(self.home_netns),
        }
    }

    fn event_of(&self, done: Connected<Owner>) -> SocketEvent {
        SocketEvent {
            netns: done.owner.netns,
            proto: Protocol::Tcp,
            local: done.local,
            remote: done.remote,
            pid: done.owner.pid,
            comm: done.owner.comm,
            uid: done.owner.uid,
            kind: EventKind::Connect,
            // The tracepoint's raw record has no cookie.
            cookie: None,
        }
    }
}

/// Opens the tracepoint on one CPU for every process, sampling each
/// firing.
fn open_on(id: u64, cpu: usize) -> Result<Sampler, TracepointUnavailable> {
    let mut builder = Builder::new(Tracepoint::with_id(id));
    builder
        .one_cpu(cpu)
        .any_pid()
        .include_kernel()
        .sample(SampleFlag::TID | SampleFlag::TIME | SampleFlag::RAW)
        .clockid(Clock::MONOTONIC)
        .sample_period(1)
        .comm(true);
    let refused = |e: std::io::Error| match e.raw_os_error() {
        Some(libc::EACCES | libc::EPERM) => TracepointUnavailable::NotPermitted(e.to_string()),
        _ => TracepointUnavailable::Failed(format!("cpu {cpu}: {e}")),
    };
    let counter = builder.build().map_err(refused)?;
    let mut sampler = counter.sampled(RING_BYTES).map_err(refused)?;
    sampler.enable().map_err(refused)?;
    Ok(sampler)
}

/// A live process's command name, uid and network namespace inode.
fn read_process(pid: u32) -> Option<(String, u32, Option<u64>)> {
    use std::os::unix::fs::MetadataExt;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let mut name = None;
    let mut uid = None;
    for line in status.lines() {
        if let Some(v) = line.strip_prefix("Name:") {
            name = Some(v.trim().to_string());
        } else if let Some(v) = line.strip_prefix("Uid:") {
            uid = v.split_whitespace().next().and_then(|u| u.parse().ok());
        }
    }
    let netns = std::fs::metadata(format!("/proc/{pid}/ns/net"))
        .ok()
        .map(|m| m.ino());
    Some((name?, uid?, netns))
}

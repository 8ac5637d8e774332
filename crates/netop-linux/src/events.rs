//! The event source: which process owns each socket that sends or
//! receives, told by the kernel as it happens.
//!
//! Polling sock_diag and `/proc` misses what lives less than a poll: a
//! 50 ms process doing one request, a DNS query from a process that has
//! exited by the time its packets are read. An eBPF program on the
//! `sock_send_length`, `sock_recv_length` and `inet_sock_set_state`
//! tracepoints (`events/netop.bpf.c`) reports each socket's tuple,
//! network namespace, cookie and owner (tgid, comm, uid) once, in the owner's own
//! context, into a ring buffer. [`EventSource::drain`] moves what is there
//! into the core's [`OwnerCache`], which answers by tuple (and by cookie,
//! for a kernel counter's deltas) for a minute after the socket was last
//! seen, long after the process is gone.
//!
//! Parts: `record.rs` decodes the program's records (plain Rust, byte
//! fixtures), `loader.rs` loads and
//! attaches the program with aya. The event source only tells owners; the
//! resolver decides how to use them, and polling stays the fallback where
//! eBPF is not permitted ([`EventsUnavailable`] says why).

mod loader;
mod record;

use std::time::Instant;

pub use netop_core::owners::{CachedOwner, OwnerCache};
pub use record::{decode, EventKind, RecordError, SocketEvent, RECORD_LEN};

/// Records read per drain at most, so a flood cannot hold the capture.
const DRAIN_LIMIT: usize = 65_536;

/// Why there are no events; each says so in one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventsUnavailable {
    #[error("built without eBPF support")]
    NotBuilt,
    #[error("not permitted: eBPF needs root, or CAP_BPF and CAP_PERFMON")]
    NotPermitted,
    #[error("kernel BTF missing (/sys/kernel/btf/vmlinux): {message}")]
    NoBtf { message: String },
    #[error("the kernel rejected the {program} program: {message}")]
    Rejected { program: String, message: String },
    #[error("{message}")]
    Failed { message: String },
    #[error("turned off with {flag}")]
    Disabled { flag: String },
    #[error("not tried ({flag})")]
    Skipped { flag: String },
}

/// The attached eBPF programs and their ring buffer. Dropping it
/// detaches them.
#[derive(Debug)]
pub struct EventSource {
    loaded: loader::Loaded,
}

impl EventSource {
    /// Loads and attaches the programs.
    pub fn open() -> Result<EventSource, EventsUnavailable> {
        let loaded = loader::Loaded::open()?;
        Ok(EventSource { loaded })
    }

    /// Whether this build carries the eBPF program at all.
    pub fn built_with_ebpf() -> bool {
        loader::built_with_ebpf()
    }

    /// Moves every waiting event into `into`, stamped now. Never blocks;
    /// returns how many were read.
    pub fn drain(&mut self, into: &mut OwnerCache) -> usize {
        let now = Instant::now();
        self.drain_with(&mut |event| {
            if let Some(cookie) = event.cookie {
                into.insert_cookie(cookie, &event.owner(now));
            }
            into.insert(event.proto, event.local, event.remote, event.owner(now));
        })
    }

    /// Hands every waiting event to `f`. Never blocks; returns how many
    /// records were read. A record that cannot be decoded (a program and
    /// a netop of different versions) is logged and skipped.
    pub fn drain_with(&mut self, f: &mut dyn FnMut(&SocketEvent)) -> usize {
        self.loaded
            .read(DRAIN_LIMIT, &mut |bytes| match decode(bytes) {
                Ok(event) => f(&event),
                Err(e) => tracing::debug!(error = %e, "undecodable event record"),
            })
    }

    /// A descriptor that wakes an edge-triggered epoll when the ring is a
    /// quarter full (before then records wake no one: they are read in
    /// batches). A capture loop that sleeps between batches waits on it
    /// too, so a burst of new sockets is drained before the ring
    /// overflows.
    pub fn wake_fd(&self) -> std::io::Result<std::os::fd::OwnedFd> {
        self.loaded.wake_fd()
    }

    /// Records the kernel dropped because the ring buffer was full.
    pub fn lost(&self) -> u64 {
        self.loaded.lost()
    }
}

/// The inode of this process's network namespace (`/proc/self/ns/net`),
/// as the event records name namespaces.
pub fn own_netns() -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self/ns/net").ok().map(|m| m.ino())
}

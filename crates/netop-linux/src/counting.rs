//! Kernel counting: traffic counted per flow by an eBPF program on each
//! interface's traffic-control hooks, so no packet is copied to netop.
//!
//! libpcap makes the kernel copy every packet's headers into a ring and
//! wake netop to read them; at high packet rates that costs the host a
//! third of its sender's rate. Here a classifier (`counting/netop_tc.bpf.c`)
//! adds each packet to a per-CPU table keyed by interface, direction and
//! tuple, and [`KernelCapture`] reads and deletes the table every
//! [`READ_EVERY`] (`counting/table.rs`), handing the engine flow deltas
//! instead of frames. DNS packets (port 53), whose payloads the DNS
//! observatory needs, are copied by the same program into a ring buffer
//! and come back as frames (`counting/dns_ring.rs`); the program leaves
//! them out of the table so each packet is counted once, and no packet
//! socket sees the rest of the traffic. `counting/attach.rs` loads the
//! program and follows interfaces as they come and go.
//!
//! Where the program cannot run (no clang at build time, no privileges, a
//! kernel without TC BPF) [`CountingUnavailable`] says why in one line and
//! the backend captures with libpcap as before.

mod attach;
mod capture;
pub mod dns_ring;
mod fallback;
mod links;
mod outages;
mod sleep;
mod slots;
pub mod table;
mod test_run;
mod tester;

pub use attach::Link;
pub use capture::KernelCapture;
pub use fallback::Fallback;
pub use tester::{DnsFrame, Tester};

use std::time::Duration;

/// How often the table is read and emptied: often enough that a short
/// flow's owner is searched while its socket may still exist, and the
/// monitor's one-second rates are whole.
pub const READ_EVERY: Duration = Duration::from_millis(100);
/// How often interfaces are listed to attach to new ones, besides when
/// rtnetlink announces a link change (`counting/links.rs`).
pub const SCAN_EVERY: Duration = Duration::from_millis(1000);
/// Table entries at most: distinct (interface, direction, tuple) keys
/// between two reads. 65,536 per 100 ms is 650,000 new keys a second.
pub const CAPACITY: u32 = 65_536;
/// Kernel memory the table may take. It is preallocated (entries taken
/// from and returned to the kernel's free list; allocating them as used,
/// from the per-CPU allocator, cost a sender half its rate at 100,000
/// packets a second over 20,000 flows), and each entry holds a value per
/// possible CPU, so hosts with many CPUs get fewer entries.
pub const TABLE_BUDGET: u64 = 32 << 20;
/// A table entry's bytes besides its per-CPU values (the key, the hash
/// table's element header), and each per-CPU value's.
const ENTRY_BYTES: u64 = 104;
const VALUE_BYTES: u64 = 48;

/// The table's entries on a host with `cpus` possible CPUs: [`CAPACITY`],
/// or what [`TABLE_BUDGET`] holds (at least 4,096).
pub fn capacity_for(cpus: usize) -> u32 {
    let per_entry = ENTRY_BYTES + VALUE_BYTES * cpus.max(1) as u64;
    let fits = TABLE_BUDGET / per_entry;
    u32::try_from(fits)
        .unwrap_or(u32::MAX)
        .clamp(4_096, CAPACITY)
}

#[cfg(test)]
mod capacity_tests {
    use super::*;

    #[test]
    fn the_table_is_sized_for_the_possible_cpus() {
        // This project's machines: the whole capacity, 12.8 MB.
        assert_eq!(capacity_for(2), CAPACITY);
        assert_eq!(capacity_for(0), CAPACITY);
        // 16 CPUs: 872 bytes an entry, 38,479 entries in 32 MiB.
        assert_eq!(capacity_for(16), 38_479);
        // 256 CPUs: the floor.
        assert_eq!(capacity_for(256), 4_096);
        for cpus in [1, 8, 64, 128] {
            let entries = u64::from(capacity_for(cpus));
            let bytes = entries * (ENTRY_BYTES + VALUE_BYTES * cpus as u64);
            assert!(bytes <= TABLE_BUDGET || entries == 4_096, "{cpus} CPUs");
        }
    }
}

/// Why the kernel cannot count; each says so in one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CountingUnavailable {
    #[error("built without the counting program (no clang at build time)")]
    NotBuilt,
    #[error("not permitted: needs root, or CAP_BPF and CAP_NET_ADMIN")]
    NotPermitted,
    #[error("{0}")]
    Failed(String),
}

/// Whether this build carries the counting program.
pub fn built() -> bool {
    attach::built()
}

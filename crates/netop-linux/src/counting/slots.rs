//! The classifiers' per-CPU last-flow slots (`netop_tc.bpf.c`, `struct
//! slot`), merged into the table before each read.
//!
//! A classifier adds a packet of the same flow as the one before on its
//! CPU to that CPU's slot instead of the table, which saves the hash
//! lookup on a stream's every packet. What a slot holds is in no table
//! entry yet. A stream merges its own slot every 50 ms (`SLOT_AGE` in the
//! program); a slot older than [`STALE`] was left by a flow that stopped,
//! and before the table is read netop runs the `netop_flush` program on
//! that slot's CPU (`BPF_PROG_TEST_RUN` with `BPF_F_TEST_RUN_ON_CPU`),
//! which merges it. The last read flushes every slot. Only stale slots are
//! flushed because the run is an interrupt on that CPU which netop waits
//! for: on a VM, waiting for a CPU busy with a sender took up to 20 ms.
//! A flush that comes in the middle of that CPU's classifier answers
//! "busy" and is run again; one still busy after [`TRIES`] is left to the
//! next read (its packets are counted then, not lost).

use std::os::fd::{AsFd, BorrowedFd};
use std::time::Duration;

use aya::maps::MapData;
use nix::time::{clock_gettime, ClockId};

use super::{table, test_run};

/// `sizeof(struct slot)`: the key (44 bytes), `used`, the value (48),
/// `busy`, padding and `since`; per-CPU values come 8-byte aligned, which
/// it is.
pub const SLOT_LEN: usize = 112;
/// Offset of `used` in `struct slot`.
const USED_AT: usize = table::KEY_LEN;
/// Offset of `since` (coarse monotonic nanoseconds: when it was filled).
const SINCE_AT: usize = 104;
/// A slot older than this is flushed by netop: twice the age at which a
/// stream merges its own (`SLOT_AGE`), so a CPU still counting is not
/// interrupted.
pub const STALE: Duration = Duration::from_millis(100);
/// Runs of the flush on one CPU before leaving its slot to the next read:
/// a classifier is busy for well under a microsecond.
pub const TRIES: usize = 100;
/// `ENXIO`: the CPU is not online (its slot cannot be in use for long).
const OFFLINE: i32 = libc::ENXIO;

/// The CPUs whose slot to flush, from a per-CPU read of the slot map
/// (`cpus` values of [`SLOT_LEN`] bytes): those in use, filled [`STALE`]
/// or longer before `now` (the coarse monotonic clock), or all in use
/// when `all`.
pub fn to_flush(values: &[u8], cpus: usize, now: Duration, all: bool) -> Vec<u32> {
    values
        .chunks_exact(SLOT_LEN)
        .take(cpus)
        .enumerate()
        .filter(|(_, v)| v[USED_AT..USED_AT + 4] != [0, 0, 0, 0])
        .filter(|(_, v)| {
            let mut since = [0u8; 8];
            since.copy_from_slice(&v[SINCE_AT..SINCE_AT + 8]);
            let since = Duration::from_nanos(u64::from_ne_bytes(since));
            all || now.saturating_sub(since) >= STALE
        })
        .map(|(cpu, _)| cpu as u32)
        .collect()
}

/// `CLOCK_MONOTONIC_COARSE`, what the program's `since` is read from
/// (`Duration::MAX` if it cannot be read: every slot is then stale).
fn coarse_now() -> Duration {
    clock_gettime(ClockId::CLOCK_MONOTONIC_COARSE).map_or(Duration::MAX, Duration::from)
}

/// The slot map and a buffer for reading it.
pub struct Slots {
    map: MapData,
    cpus: usize,
    buf: Vec<u8>,
}

impl std::fmt::Debug for Slots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slots")
            .field("cpus", &self.cpus)
            .finish_non_exhaustive()
    }
}

impl Slots {
    pub fn new(map: MapData, cpus: usize) -> Slots {
        Slots {
            map,
            cpus,
            buf: vec![0; SLOT_LEN * cpus],
        }
    }

    /// Merges the stale slots (every slot in use when `all`) into the
    /// table with `flush` (the loaded `netop_flush`); returns how many
    /// were still busy after [`TRIES`] runs, left to the next read.
    pub fn flush(&mut self, flush: BorrowedFd<'_>, all: bool) -> std::io::Result<usize> {
        table::lookup_percpu(self.map.fd().as_fd(), 0, &mut self.buf)?;
        let mut left = 0;
        'cpus: for cpu in to_flush(&self.buf, self.cpus, coarse_now(), all) {
            for _ in 0..TRIES {
                match test_run::on_cpu(flush, cpu) {
                    Ok(0) => continue 'cpus,
                    Ok(_) => std::hint::spin_loop(),
                    Err(e) if e.raw_os_error() == Some(OFFLINE) => continue 'cpus,
                    Err(e) => return Err(e),
                }
            }
            left += 1;
        }
        Ok(left)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Duration = Duration::from_secs(1_000);

    fn slot(used: u32, age: Duration) -> Vec<u8> {
        let mut v = vec![0xAAu8; SLOT_LEN];
        v[USED_AT..USED_AT + 4].copy_from_slice(&used.to_ne_bytes());
        let since = (NOW - age).as_nanos() as u64;
        v[SINCE_AT..SINCE_AT + 8].copy_from_slice(&since.to_ne_bytes());
        v
    }

    fn old(used: u32) -> Vec<u8> {
        slot(used, Duration::from_millis(300))
    }

    #[test]
    fn the_stale_slots_in_use_are_flushed() {
        let values = [old(1), old(0), old(0), old(1)].concat();
        assert_eq!(to_flush(&values, 4, NOW, false), vec![0, 3]);
    }

    #[test]
    fn a_slot_its_stream_still_merges_is_left_alone_until_the_last_read() {
        let busy = slot(1, Duration::from_millis(20));
        let edge = slot(1, STALE);
        let values = [busy.clone(), edge, old(1)].concat();
        assert_eq!(to_flush(&values, 3, NOW, false), vec![1, 2]);
        assert_eq!(to_flush(&values, 3, NOW, true), vec![0, 1, 2]);
        // Filled after `now` was read (the clock moved on): not stale.
        let ahead = slot(1, Duration::ZERO);
        assert!(to_flush(&ahead, 1, NOW - Duration::from_millis(4), false).is_empty());
    }

    #[test]
    fn a_short_read_names_only_the_cpus_it_holds() {
        let values = [old(1), old(1)].concat();
        assert_eq!(to_flush(&values, 4, NOW, false), vec![0, 1]);
        assert_eq!(to_flush(&values[..SLOT_LEN + 10], 4, NOW, false), vec![0]);
        assert!(to_flush(&[], 4, NOW, true).is_empty());
    }

    #[test]
    fn only_the_possible_cpus_are_read() {
        let values = [old(0), old(1), old(1)].concat();
        assert_eq!(to_flush(&values, 2, NOW, false), vec![1]);
    }
}

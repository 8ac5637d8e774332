//! The classifiers' per-CPU last-flow slots (`netop_tc.bpf.c`, `struct
//! slot`), merged into the table before each read.
//!
//! A classifier adds a packet of the same flow as the one before on its
//! CPU to that CPU's slot instead of the table, which saves the hash
//! lookup on a stream's every packet. What a slot holds is in no table
//! entry yet, so before the table is read netop runs the `netop_flush`
//! program on every CPU whose slot is in use (`BPF_PROG_TEST_RUN` with
//! `BPF_F_TEST_RUN_ON_CPU`): each merges its own CPU's slot. A flush that
//! comes in the middle of that CPU's classifier answers "busy" and is run
//! again; one still busy after [`TRIES`] is left to the next read (its
//! packets are counted then, not lost).

use std::os::fd::{AsFd, BorrowedFd};

use aya::maps::MapData;

use super::{table, test_run};

/// `sizeof(struct slot)`: the key (44 bytes), `used`, the value (48),
/// `busy` and padding; per-CPU values come 8-byte aligned, which it is.
pub const SLOT_LEN: usize = 104;
/// Offset of `used` in `struct slot`.
const USED_AT: usize = table::KEY_LEN;
/// Runs of the flush on one CPU before leaving its slot to the next read:
/// a classifier is busy for well under a microsecond.
pub const TRIES: usize = 100;
/// `ENXIO`: the CPU is not online (its slot cannot be in use for long).
const OFFLINE: i32 = libc::ENXIO;

/// The CPUs whose slot is in use, from a per-CPU read of the slot map
/// (`cpus` values of [`SLOT_LEN`] bytes).
pub fn used_cpus(values: &[u8], cpus: usize) -> Vec<u32> {
    values
        .chunks_exact(SLOT_LEN)
        .take(cpus)
        .enumerate()
        .filter(|(_, v)| v[USED_AT..USED_AT + 4] != [0, 0, 0, 0])
        .map(|(cpu, _)| cpu as u32)
        .collect()
}

/// What one flush round did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Flushed {
    /// Slots merged into the table.
    pub merged: usize,
    /// Slots still busy after [`TRIES`] runs, left to the next read.
    pub left: usize,
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

    /// Merges every CPU's slot in use into the table with `flush` (the
    /// loaded `netop_flush`).
    pub fn flush(&mut self, flush: BorrowedFd<'_>) -> std::io::Result<Flushed> {
        table::lookup_percpu(self.map.fd().as_fd(), 0, &mut self.buf)?;
        let mut done = Flushed::default();
        for cpu in used_cpus(&self.buf, self.cpus) {
            let mut merged = false;
            for _ in 0..TRIES {
                match test_run::on_cpu(flush, cpu) {
                    Ok(0) => {
                        merged = true;
                        break;
                    }
                    Ok(_) => std::hint::spin_loop(),
                    Err(e) if e.raw_os_error() == Some(OFFLINE) => {
                        merged = true;
                        break;
                    }
                    Err(e) => return Err(e),
                }
            }
            if merged {
                done.merged += 1;
            } else {
                done.left += 1;
            }
        }
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(used: u32) -> Vec<u8> {
        let mut v = vec![0xAAu8; SLOT_LEN];
        v[USED_AT..USED_AT + 4].copy_from_slice(&used.to_ne_bytes());
        v
    }

    #[test]
    fn the_cpus_with_a_slot_in_use_are_flushed() {
        let values = [slot(1), slot(0), slot(0), slot(1)].concat();
        assert_eq!(used_cpus(&values, 4), vec![0, 3]);
    }

    #[test]
    fn a_short_read_names_only_the_cpus_it_holds() {
        let values = [slot(1), slot(1)].concat();
        assert_eq!(used_cpus(&values, 4), vec![0, 1]);
        assert_eq!(used_cpus(&values[..SLOT_LEN + 10], 4), vec![0]);
        assert!(used_cpus(&[], 4).is_empty());
    }

    #[test]
    fn only_the_possible_cpus_are_read() {
        let values = [slot(0), slot(1), slot(1)].concat();
        assert_eq!(used_cpus(&values, 2), vec![1]);
    }
}

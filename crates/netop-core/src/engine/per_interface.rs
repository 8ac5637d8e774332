//! Each process's bytes split by the interface they were credited on, for
//! the library's `traffic(pid)` (bytes per interface, as netprocmon gave
//! them). The per-process account stays the one total every view shows;
//! this split is kept beside it and always adds up to it.
//!
//! A packet is credited once, at its seat (`engine/once.rs`), so its bytes
//! go to the seat's interface. A flow whose owner is found late brings the
//! bytes it gathered in the unknown bucket: each direction goes to the
//! interface of that direction's seat, or, when no seat is decided, the
//! flow's last interface.

use crate::flow::{Counters, Direction, Flow};

use super::once::{ELSEWHERE, UNDECIDED};
use super::Engine;

/// One process's bytes by interface index, in the order the interfaces
/// were first credited. A process uses one or two interfaces, so a short
/// list beats a map; the first is kept in the process's own record, so
/// the common packet finds its counters without following a pointer to
/// the list (11 of the instructions decode plus flow update had gained
/// since issue 10's base: `docs/PERFORMANCE.md`, fifth session).
#[derive(Debug, Clone, Default)]
pub(super) struct PerInterface {
    first: Option<(u32, Counters)>,
    more: Vec<(u32, Counters)>,
}

impl PerInterface {
    #[inline]
    fn entry(&mut self, ifindex: u32) -> &mut Counters {
        match self.first {
            Some((index, _)) if index != ifindex => self.more_entry(ifindex),
            _ => &mut self.first.get_or_insert((ifindex, Counters::default())).1,
        }
    }

    /// An interface after the first.
    fn more_entry(&mut self, ifindex: u32) -> &mut Counters {
        let at = match self.more.iter().position(|(i, _)| *i == ifindex) {
            Some(at) => at,
            None => {
                self.more.push((ifindex, Counters::default()));
                self.more.len() - 1
            }
        };
        &mut self.more[at].1
    }

    /// Every interface credited so far, first first.
    fn iter(&self) -> impl Iterator<Item = &(u32, Counters)> {
        self.first.iter().chain(&self.more)
    }

    fn is_empty(&self) -> bool {
        self.first.is_none()
    }

    /// `packets` packets of `bytes` in all credited on `ifindex` (one for
    /// a frame, a kernel counter's count for a delta).
    #[inline]
    pub(super) fn add(&mut self, ifindex: u32, dir: Direction, bytes: u64, packets: u64) {
        self.entry(ifindex).add_n(dir, bytes, packets);
    }

    /// A flow's bytes so far, given to this process: each direction on the
    /// interface of its seat (`at`: tx, rx), else the flow's last one.
    pub(super) fn give_flow(&mut self, flow: &Flow, at: [u32; 2]) {
        let seat = |a: u32| {
            if a == UNDECIDED || a == ELSEWHERE {
                flow.ifindex
            } else {
                a
            }
        };
        let c = &flow.counters;
        if c.tx_packets > 0 {
            let e = self.entry(seat(at[0]));
            e.tx_bytes += c.tx_bytes;
            e.tx_packets += c.tx_packets;
        }
        if c.rx_packets > 0 {
            let e = self.entry(seat(at[1]));
            e.rx_bytes += c.rx_bytes;
            e.rx_packets += c.rx_packets;
        }
    }
}

/// One process's totals on one interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceShare {
    /// The interface's index.
    pub index: u32,
    /// Its name (`if<index>` when the host did not list it).
    pub name: String,
    /// Bytes and packets credited to the process there.
    pub counters: Counters,
}

/// A process's totals split by interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessInterfaces {
    /// The process.
    pub pid: u32,
    /// With `pid`, names the process (see `ProcessInfo::start_time`).
    pub start_time: u64,
    /// By interface index, ascending; only interfaces with packets.
    pub interfaces: Vec<InterfaceShare>,
}

impl Engine {
    /// Every process with traffic, its totals split by the interface they
    /// were credited on (the split adds up to the process's total in
    /// [`Engine::report`]). No filter applies.
    pub fn per_interface(&self) -> Vec<ProcessInterfaces> {
        self.processes
            .iter()
            .filter(|p| !p.interfaces.is_empty())
            .map(|p| {
                let mut interfaces: Vec<InterfaceShare> = p
                    .interfaces
                    .iter()
                    .filter(|(_, c)| c.rx_packets + c.tx_packets > 0)
                    .map(|&(index, counters)| InterfaceShare {
                        index,
                        name: self.interface_name(index),
                        counters,
                    })
                    .collect();
                interfaces.sort_by_key(|i| i.index);
                ProcessInterfaces {
                    pid: p.info.pid,
                    start_time: p.info.start_time,
                    interfaces,
                }
            })
            .collect()
    }

    /// The name the engine knows an interface by.
    fn interface_name(&self, index: u32) -> String {
        self.interfaces
            .iter()
            .find(|i| i.index == index && !i.name.is_empty())
            .map_or_else(|| format!("if{index}"), |i| i.name.clone())
    }
}

#[cfg(test)]
#[path = "per_interface_tests.rs"]
mod tests;

//! Processes have a lifecycle: a monitor left open for weeks on a busy
//! host sees millions of short-lived processes, and must not keep them all.
//!
//! With [`EngineConfig::forget_exited_after`](super::EngineConfig) set (the
//! monitor), every few seconds the processes idle for a while are asked
//! about ([`SocketResolver::exited`]); one that has exited is marked (its
//! row says so), and once it has also moved no bytes for the configured
//! time and no flow points at it any more, it is forgotten: its slot and
//! history are freed for the next process. Snapshots keep every process,
//! so their report lists all that moved bytes in the period.
//!
//! Processes are told apart by pid and start time (see
//! [`Engine::register`](super::Engine)): a recycled pid is a new process,
//! never the heir of the old one's totals.
//!
//! Interfaces have the same lifecycle: a container restarted is a new veth
//! with a new index, so a monitor on a host whose containers come and go
//! would keep one account per interface ever seen. One that is no longer
//! in the host's list and has carried nothing for the same time is
//! forgotten, with the DNS resolvers seen on it (the monitor shows only
//! listed interfaces; snapshots keep every one).

use std::time::Duration;

use rustc_hash::FxHashSet;

use super::{Engine, InterfaceState, ProcessState};
use crate::socket::SocketResolver;

/// Seconds a process must be idle before it is asked about.
const IDLE_BEFORE_CHECK: u64 = 5;
/// Seconds between two rounds of asking.
const CHECK_EVERY: u64 = 5;
/// Vacant process slots that make compacting worth it (when they are
/// also more than the occupied ones).
const COMPACT_AT_LEAST: usize = 256;

impl Engine {
    /// One round of the lifecycle at `now` (capture time: a live capture
    /// passes the wall clock, since an idle interface brings no frames):
    /// marks idle processes that exited, forgets those idle past the
    /// limit. Does nothing unless the engine was configured to forget, or
    /// if the last round was under [`CHECK_EVERY`] seconds ago.
    pub fn age_processes(&mut self, now: Duration, resolver: &mut dyn SocketResolver) {
        let Some(after) = self.config.forget_exited_after else {
            return;
        };
        let now = now.as_secs();
        if self
            .last_aging
            .is_some_and(|at| now.saturating_sub(at) < CHECK_EVERY)
        {
            return;
        }
        self.last_aging = Some(now);
        self.forget_gone_interfaces(now, after.as_secs());
        let idle = |p: &ProcessState, secs: u64| now.saturating_sub(p.account.last_sec()) >= secs;
        let asked: Vec<(u32, u64)> = self
            .processes
            .iter()
            .filter(|p| !p.exited && idle(p, IDLE_BEFORE_CHECK))
            .map(|p| (p.info.pid, p.info.start_time))
            .collect();
        if !asked.is_empty() {
            let gone: FxHashSet<(u32, u64)> = resolver.exited(&asked).into_iter().collect();
            let slots: Vec<usize> = self
                .processes
                .iter_slots()
                .filter(|(_, p)| !p.exited && gone.contains(&(p.info.pid, p.info.start_time)))
                .map(|(slot, _)| slot)
                .collect();
            for slot in slots {
                self.processes.get_mut(slot).exited = true;
            }
        }
        let after = after.as_secs();
        let due: Vec<(usize, u32)> = self
            .processes
            .iter_slots()
            .filter(|(_, p)| p.exited && idle(p, after))
            .map(|(slot, p)| (slot, p.info.pid))
            .collect();
        tracing::debug!(
            now,
            asked = asked.len(),
            due = due.len(),
            kept = self.processes.len(),
            "process lifecycle round"
        );
        if due.is_empty() {
            return;
        }
        // Their flows go with them: idle at least as long (a flow's bytes
        // are its owner's), and no exited process sends again. A socket
        // that lived on in another process makes a new flow with its next
        // packet, and a new owner search.
        let slots: FxHashSet<usize> = due.iter().map(|&(slot, _)| slot).collect();
        self.drop_flows(|e| e.slot.is_some_and(|slot| slots.contains(&slot)));
        for (slot, pid) in due {
            self.processes.remove(pid, slot, ProcessState::default());
            self.stats.processes_forgotten += 1;
        }
        self.forget_cookies_of_gone();
        self.compact_processes();
    }

    /// Forgets the interfaces the host no longer lists that have carried
    /// nothing for `after` seconds at second `now`.
    fn forget_gone_interfaces(&mut self, now: u64, after: u64) {
        let listed: FxHashSet<u32> = self.host_interfaces.iter().map(|i| i.index).collect();
        let gone: Vec<(usize, u32)> = self
            .interfaces
            .iter_slots()
            .filter(|(_, i)| {
                !listed.contains(&i.index) && now.saturating_sub(i.history.newest()) >= after
            })
            .map(|(slot, i)| (slot, i.index))
            .collect();
        if gone.is_empty() {
            return;
        }
        for (slot, index) in gone {
            self.interfaces
                .remove(index, slot, InterfaceState::default());
            if let Some(dns) = &mut self.dns {
                dns.forget_interface(index);
            }
        }
        self.last_interface = None;
    }

    /// After a mass exit (a build, a burst of cron jobs), most process
    /// slots are vacant: renumber the rest and give the memory back, so a
    /// burst does not leave its high-water mark behind.
    fn compact_processes(&mut self) {
        let vacant = self.processes.vacant();
        if vacant < COMPACT_AT_LEAST || vacant < self.processes.len() {
            return;
        }
        let map = self.processes.compact();
        for (_, e) in self.flows.iter_mut() {
            e.slot = e.slot.and_then(|slot| map.get(slot).copied().flatten());
        }
    }

    /// Interfaces the engine keeps an account of.
    pub fn interface_count(&self) -> usize {
        self.interfaces.len()
    }

    /// Processes the engine keeps (live and exited, not yet forgotten).
    pub fn process_count(&self) -> usize {
        self.processes.len()
    }
}

#[cfg(test)]
#[path = "lifecycle_tests.rs"]
mod tests;

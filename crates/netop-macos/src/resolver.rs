//! [`SocketResolver`] for macOS: the pcblist sysctls for sockets, the
//! core's owner model over libproc for owners. Glue only, as on Linux:
//! sockets come from `pcblist.rs`, owners from
//! [`netop_core::owners::Owners`] searching [`MacProcesses`].
//!
//! macOS has no exact one-socket query like Linux's sock_diag, so a
//! lookup reads the flow's protocol table again (one sysctl) and matches
//! it by the core's one rule. A burst of new flows between two capture
//! batches shares one read: a protocol's table is read at most once per
//! [`DUMP_REUSE`] (a flow whose socket is newer is looked up again by the
//! engine's retries). The engine runs lookups between capture batches
//! within its time budget. With PKTAP most flows need none: the header
//! names the process.

use std::time::{Duration, Instant};

use netop_core::clock::{Clock, SystemClock};
use netop_core::owners::{OwnerIndex, Owners};
use netop_core::{FlowKey, Protocol, ResolveError, SocketEntry, SocketResolver, SocketTable};

use crate::bsdinfo::bsdinfo;
use crate::pcblist::{parse, Pcb};
use crate::procs::MacProcesses;
use crate::system::{System, TCP_PCBLIST, UDP_PCBLIST};

/// How long one read of a protocol's table answers lookups.
pub const DUMP_REUSE: Duration = Duration::from_millis(10);

/// The macOS socket resolver.
pub struct MacResolver<S> {
    system: S,
    owners: Owners,
    clock: Box<dyn Clock + Send>,
    /// The last read of each protocol's table for lookups (TCP, UDP).
    recent: [Option<(Instant, netop_core::SocketTable)>; 2],
    /// sysctl reads of the socket tables, for tests and debugging.
    reads: u64,
}

impl<S> std::fmt::Debug for MacResolver<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MacResolver")
            .field("owners", &self.owners)
            .field("reads", &self.reads)
            .finish_non_exhaustive()
    }
}

impl<S: System + Clone + std::fmt::Debug + 'static> MacResolver<S> {
    /// Owners searched over `system`'s processes on the system clock.
    pub fn new(system: S) -> Self {
        let index = OwnerIndex::new(Box::new(MacProcesses::new(system.clone())));
        Self::with_index(system, index, Box::new(SystemClock))
    }

    /// With an owner index and a clock of the caller's (tests give both
    /// a fake clock).
    pub fn with_index(system: S, index: OwnerIndex, clock: Box<dyn Clock + Send>) -> Self {
        MacResolver {
            system,
            owners: Owners::polling(index),
            clock,
            recent: [None, None],
            reads: 0,
        }
    }

    /// sysctl reads of the socket tables so far.
    pub fn table_reads(&self) -> u64 {
        self.reads
    }

    /// One protocol's sockets, without owners.
    fn dump(&mut self, proto: Protocol) -> Result<Vec<SocketEntry>, ResolveError> {
        let name = match proto {
            Protocol::Tcp => TCP_PCBLIST,
            _ => UDP_PCBLIST,
        };
        let failed = |message: String| ResolveError::Failed {
            what: format!("sockets (sysctl {name})"),
            message,
        };
        self.reads += 1;
        let bytes = self.system.sysctl(name).map_err(failed)?;
        let pcbs = parse(&bytes, proto).map_err(|e| failed(e.to_string()))?;
        Ok(pcbs.into_iter().map(entry).collect())
    }
}

/// A pcblist socket as the core's entry; its identity is `xso_so`.
fn entry(p: Pcb) -> SocketEntry {
    SocketEntry {
        proto: p.proto,
        local: p.local,
        remote: p.remote,
        state: p.state,
        inode: p.so,
        uid: p.uid,
        rtt_us: p.rtt_us,
        retrans: None,
        owner: None,
        fd: None,
    }
}

impl<S: System + Clone + std::fmt::Debug + 'static> SocketResolver for MacResolver<S> {
    fn sockets(&mut self) -> Result<SocketTable, ResolveError> {
        let mut entries = self.dump(Protocol::Tcp)?;
        entries.extend(self.dump(Protocol::Udp)?);
        self.owners.fill_table(&mut entries, Instant::now());
        Ok(SocketTable::new(entries))
    }

    fn lookup(&mut self, key: &FlowKey) -> Result<Option<SocketEntry>, ResolveError> {
        if !key.proto.has_ports() {
            return Ok(None);
        }
        let slot = usize::from(key.proto != Protocol::Tcp);
        let now = self.clock.now();
        let fresh = self.recent[slot]
            .as_ref()
            .is_some_and(|(at, _)| now.saturating_duration_since(*at) < DUMP_REUSE);
        if !fresh {
            let table = SocketTable::new(self.dump(key.proto)?);
            self.recent[slot] = Some((now, table));
        }
        let found = self.recent[slot]
            .as_ref()
            .and_then(|(_, table)| table.find(key).cloned());
        let Some(mut entry) = found else {
            return Ok(None);
        };
        self.owners.fill_answer(&mut entry);
        Ok(Some(entry))
    }

    /// Without root, libproc shows only this user's processes.
    fn visible_uid(&self) -> Option<u32> {
        let me = self.system.euid();
        (me != 0).then_some(me)
    }

    fn exited(&mut self, processes: &[(u32, u64)]) -> Vec<(u32, u64)> {
        let gone: Vec<(u32, u64)> = processes
            .iter()
            .copied()
            .filter(
                |&(pid, start)| match self.system.bsdinfo(pid).and_then(|b| bsdinfo(&b).ok()) {
                    Some(info) => info.zombie || (start != 0 && info.start_us != start),
                    None => true,
                },
            )
            .collect();
        for &(pid, _) in &gone {
            self.owners.forget(pid);
        }
        gone
    }
}

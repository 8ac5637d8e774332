//! The socket seam: which process owns which socket.
//!
//! A backend implements [`SocketResolver`] (sock_diag and /proc on Linux,
//! libproc on macOS). The core only ever sees [`SocketTable`]s and single
//! [`SocketEntry`] answers; it never asks the OS itself.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use crate::flow::{FlowKey, Protocol};
use crate::tuples::TupleIndex;

/// TCP state as the kernel names it; other protocols use [`TcpState::None`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TcpState {
    Established,
    SynSent,
    SynRecv,
    FinWait1,
    FinWait2,
    TimeWait,
    Close,
    CloseWait,
    LastAck,
    Listen,
    Closing,
    /// Not a TCP socket.
    None,
}

impl TcpState {
    /// Maps the Linux/BSD numeric TCP state (`TCP_ESTABLISHED` = 1, ...).
    pub fn from_linux(n: u8) -> Self {
        match n {
            1 => TcpState::Established,
            2 => TcpState::SynSent,
            3 => TcpState::SynRecv,
            4 => TcpState::FinWait1,
            5 => TcpState::FinWait2,
            6 => TcpState::TimeWait,
            7 => TcpState::Close,
            8 => TcpState::CloseWait,
            9 => TcpState::LastAck,
            10 => TcpState::Listen,
            11 => TcpState::Closing,
            _ => TcpState::None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TcpState::Established => "ESTABLISHED",
            TcpState::SynSent => "SYN_SENT",
            TcpState::SynRecv => "SYN_RECV",
            TcpState::FinWait1 => "FIN_WAIT1",
            TcpState::FinWait2 => "FIN_WAIT2",
            TcpState::TimeWait => "TIME_WAIT",
            TcpState::Close => "CLOSED",
            TcpState::CloseWait => "CLOSE_WAIT",
            TcpState::LastAck => "LAST_ACK",
            TcpState::Listen => "LISTEN",
            TcpState::Closing => "CLOSING",
            TcpState::None => "-",
        }
    }
}

/// A process that owns sockets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcessInfo {
    pub pid: u32,
    /// Short name (`/proc/PID/comm` on Linux).
    pub name: String,
    /// User name, or the numeric uid when it has no name.
    pub user: String,
    /// The container the process runs in, when asked for (`--containers`)
    /// and it runs in one.
    pub container: Option<Container>,
    /// When the process started, in clock ticks since boot (Linux:
    /// `/proc/PID/stat`'s `starttime`); 0 when unknown (a process known
    /// only from an event after it exited). With the pid it names one
    /// process: a recycled pid with another start time is another process.
    pub start_time: u64,
    /// The executable's path (Linux: `/proc/PID/exe`), when the backend
    /// can read it: it tells apart processes of the same name (the
    /// history keeps it). Shared, since every socket of the process
    /// carries a copy of this.
    pub exe: Option<Arc<str>>,
}

/// A container as its cgroup names it: the runtime and a name or short id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Container {
    /// `docker`, `podman`, `containerd`, `crio`, `lxc`, `nspawn`, ...
    pub runtime: String,
    /// The container's name when the cgroup carries one, else its id
    /// shortened to 12 characters.
    pub name: String,
}

impl std::fmt::Display for Container {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.runtime, self.name)
    }
}

/// One socket of the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketEntry {
    pub proto: Protocol,
    /// Local address and port; the unspecified address for wildcard binds.
    pub local: SocketAddr,
    /// Remote address and port; unspecified with port 0 when unconnected.
    pub remote: SocketAddr,
    pub state: TcpState,
    /// Kernel socket identity (inode on Linux); 0 when the kernel gave none.
    pub inode: u64,
    pub uid: u32,
    /// Smoothed round-trip time in microseconds (TCP only).
    pub rtt_us: Option<u32>,
    /// Retransmitted segments in total (TCP only).
    pub retrans: Option<u32>,
    /// The owning process, when it could be found: shared by the
    /// process's sockets in one table (10,000 sockets of one process held
    /// 10,000 copies of its name, user and path, most of a table's size).
    pub owner: Option<Arc<ProcessInfo>>,
    /// The owner's file descriptor for the socket, when it was seen.
    pub fd: Option<u32>,
}

impl SocketEntry {
    /// True when the socket is bound to a local port but not connected to a
    /// peer (listening TCP, unconnected UDP).
    pub fn is_unconnected(&self) -> bool {
        crate::tuples::is_unconnected(&self.remote)
    }
}

/// Errors a socket backend reports.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("permission denied reading {what}")]
    PermissionDenied { what: String },
    #[error("reading {what} failed: {message}")]
    Failed { what: String, message: String },
    /// The flow leads (through NAT) into a network namespace that could
    /// not be read.
    #[error("network namespace of {what} not readable: {message}")]
    Namespace { what: String, message: String },
}

/// Resolves sockets and their owners.
pub trait SocketResolver {
    /// The full socket table of the host (one network namespace).
    fn sockets(&mut self) -> Result<SocketTable, ResolveError>;
    /// Finds the socket of one flow right now, cheaply (one kernel query,
    /// and an owner search that does not rescan every process). Used for
    /// flows the last table did not know, so short-lived connections are
    /// caught while their socket still exists.
    fn lookup(&mut self, key: &FlowKey) -> Result<Option<SocketEntry>, ResolveError>;
    /// The flow as it was before this host's NAT translated it, when the
    /// last [`SocketResolver::lookup`] of `key` found it translated (on
    /// Linux, through conntrack) and no socket of this host at either
    /// tuple: traffic the host forwards and masquerades (or publishes a
    /// port) for another machine, a router's NAT. The engine credits it
    /// as forwarded along that inside path, so its sighting before the
    /// translation and the one after count once. Asked only right after
    /// a lookup of `key` that found no socket; a backend that cannot tell
    /// returns none.
    fn untranslated(&mut self, key: &FlowKey) -> Option<FlowKey> {
        let _ = key;
        None
    }
    /// Sockets that passed to another process since the last call (a
    /// fork, an exec, a descriptor sent over a UNIX socket), each with its
    /// new owner. Called between capture batches, so it must be cheap; a
    /// backend that cannot tell returns none.
    fn owner_changes(&mut self) -> Vec<SocketEntry> {
        Vec::new()
    }
    /// The owners of the sockets named by these cookies (Linux: the
    /// socket cookie a kernel counter reads from a socket's egress
    /// packets, [`crate::delta::FlowDelta::cookie`], which the event
    /// source records with each owner), each with its process, for the
    /// cookies the backend knows; and, asked or not, every cookie whose
    /// socket changed hands since the last call, with its new owner. No
    /// search runs: an unknown cookie has no answer and its flow's owner
    /// is searched by tuple as usual. A backend that cannot tell returns
    /// none.
    ///
    /// Why a method of its own, asked once a capture batch with every
    /// cookie the engine has not placed yet, rather than the cookie riding
    /// along with the queued [`SocketResolver::lookup`]: a flow the last
    /// socket table explains is never queued, but with SO_REUSEPORT or a
    /// socket shared after a fork the table's answer by tuple may be the
    /// wrong socket, and the cookie must be able to overrule it; a socket
    /// that changes hands keeps its cookie, so the engine must also hear
    /// of owners that changed for cookies it already placed. One call per
    /// batch (not per delta) keeps the owner thread's round trips as rare
    /// as [`SocketResolver::owner_changes`]'.
    fn cookie_owners(&mut self, cookies: &[u64]) -> Vec<(u64, ProcessInfo)> {
        let _ = cookies;
        Vec::new()
    }
    /// Which of these processes, each a (pid, start time) as in
    /// [`ProcessInfo`], have exited: gone, a zombie, or the pid now
    /// another process's (start time 0 matches any). The resolver forgets
    /// them, so that a socket one of them held is searched for again by
    /// the next [`SocketResolver::lookup`] (it may live on in a child). A
    /// backend that cannot tell returns none.
    fn exited(&mut self, processes: &[(u32, u64)]) -> Vec<(u32, u64)> {
        let _ = processes;
        Vec::new()
    }
    /// Owner records the source of owners had to drop (an event ring
    /// that overflowed); 0 for resolvers that never drop any.
    fn lost_events(&self) -> u64 {
        0
    }
    /// The only user whose processes this run can see (macOS without
    /// root: libproc shows your own), or `None` when it sees every
    /// user's. A socket of another user without an owner is then
    /// reported as hidden rather than as an owner that went away.
    fn visible_uid(&self) -> Option<u32> {
        None
    }
}

/// Unwraps IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) so dual-stack
/// sockets match the IPv4 packets they carry.
pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

/// [`canonical_ip`] for a socket address.
pub fn canonical(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(canonical_ip(addr.ip()), addr.port())
}

/// A snapshot of the host's sockets, indexed for matching flows by the
/// rule of [`crate::tuples`].
#[derive(Debug, Default, Clone)]
pub struct SocketTable {
    entries: Vec<SocketEntry>,
    /// Index into `entries`; unconnected sockets on one address are told
    /// apart by inode (SO_REUSEPORT groups).
    index: TupleIndex<usize>,
}

impl SocketTable {
    pub fn new(entries: Vec<SocketEntry>) -> Self {
        let mut table = SocketTable::default();
        for entry in entries {
            table.insert(entry);
        }
        table
    }

    /// Adds one socket (e.g. an exact-lookup answer) to the table. A
    /// socket the table already has (the same tuple; for an unconnected
    /// one the same local address, port and inode: sockets sharing a port
    /// with SO_REUSEPORT stay apart) is replaced, so a table that takes
    /// answers for the same sockets does not grow.
    pub fn insert(&mut self, mut entry: SocketEntry) {
        entry.local = canonical(entry.local);
        entry.remote = canonical(entry.remote);
        let (proto, local, remote, inode) = (entry.proto, entry.local, entry.remote, entry.inode);
        match self
            .index
            .insert(proto, local, remote, inode, self.entries.len())
        {
            Some(old) => {
                // Known: the index points at its old place again.
                self.index.insert(proto, local, remote, inode, old);
                self.entries[old] = entry;
            }
            None => self.entries.push(entry),
        }
    }

    pub fn entries(&self) -> &[SocketEntry] {
        &self.entries
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The socket a flow belongs to, by the rule of [`crate::tuples`].
    pub fn find(&self, key: &FlowKey) -> Option<&SocketEntry> {
        self.index
            .find(key.proto, key.local(), key.remote(), |_, _| true, |_| 0u8)
            .map(|found| &self.entries[*found.value])
    }
}

#[cfg(test)]
#[path = "socket_tests.rs"]
mod tests;

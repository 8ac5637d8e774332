//! The engine: frames in, attributed per-process and per-interface totals out.
//!
//! One [`Engine`] is owned by one capture loop. For each frame it decodes,
//! decides direction, counts the frame on its interface, updates the flow,
//! and credits the flow's owner, once per packet however many of the
//! host's interfaces it crosses (`engine/once.rs`). A flow's owner comes
//! from the last socket table when it knows the flow; otherwise the flow
//! is queued for an exact lookup through the [`SocketResolver`], which the
//! capture loop runs between batches ([`Engine::resolve_pending`],
//! `engine/queue.rs`): soon enough to catch connections that live a few
//! milliseconds while their socket still exists, and never inside
//! [`Engine::ingest`]. Flows without an owner keep their bytes in the
//! unknown bucket until a search or a later socket table names the
//! owner, and then the bytes move.
//!
//! The engine does no I/O of its own and reads no clock: time comes from
//! frame timestamps and from the `now` given to [`Engine::expire`].

use std::time::Duration;

use crate::capture::{CaptureStats, Frame, LinkType};
use crate::decode::{decode, TcpFlags};
use crate::direction::LocalAddrs;
use crate::flow::{Counters, Direction, Flow, FlowKey, PackedKey, Protocol};
use crate::history::{FlowHistory, History};
use crate::interfaces::InterfaceInfo;
use crate::socket::{ProcessInfo, ResolveError, SocketResolver, SocketTable};
use crate::unknown::{Breakdown, UnknownReason};

mod cookies;
mod crediting;
mod deltas;
mod dns;
mod flow_table;
mod frame_owner;
mod handoff;
mod lifecycle;
mod live;
mod once;
mod per_interface;
mod queue;
mod report;
mod samples;
mod slots;
mod tap;
mod translated;

use crediting::sight;
use flow_table::FlowTable;
pub use live::{
    LiveConnection, LiveDns, LiveInterface, LiveProcess, LiveReport, Rate, LIVE_DNS_ENTRIES,
};
use once::{Seats, ELSEWHERE, UNDECIDED};
pub use per_interface::{InterfaceShare, ProcessInterfaces};
use queue::LookupQueue;
pub use queue::{Resolved, SearchPacer};
pub use report::{EngineReport, InterfaceReport, ProcessReport, UNKNOWN};
pub use samples::Samples;
use slots::Slots;

/// Settings of an [`Engine`].
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// A flow with no packets for this long is forgotten (its bytes stay in
    /// its process's totals).
    pub idle_timeout: Duration,
    /// The same, for TCP flows that have seen a FIN or RST.
    pub closed_timeout: Duration,
    /// Case-insensitive substring matched against process names and remote
    /// addresses; `None` keeps everything.
    pub filter: Option<String>,
    /// Look up unknown flows right away (on) or wait for the next socket
    /// table (off; for measuring what the lookup buys).
    pub lookup_new_flows: bool,
    /// The DNS observatory's settings; `None` (`--no-dns`) reads no DNS.
    pub dns: Option<crate::dns::DnsConfig>,
    /// Lookup answers for connected sockets join the socket table (on), so
    /// a screen shows a new connection's state and the owner's socket
    /// count at once; off, only answers for unconnected sockets (which
    /// later flows match) are kept: a snapshot shows no sockets, and under
    /// a churn of short connections the answers were most of its memory.
    /// Either way at most [`UNCONNECTED_ANSWERS_KEPT`] unconnected answers
    /// join one table.
    pub keep_answers: bool,
    /// A process that has exited and moved no bytes for this long is
    /// forgotten (the monitor: its state has a lifecycle); `None` keeps
    /// every process (a snapshot lists all that moved bytes).
    pub forget_exited_after: Option<Duration>,
    /// Each flow keeps its last minute second by second (on), for the
    /// monitor's connection sparklines and for moving a flow's seconds
    /// between accounts when its owner is found late; off (a snapshot,
    /// which shows totals only) a flow keeps its totals alone: a ring is
    /// about 500 bytes, 10 MB over 20,000 flows.
    pub flow_history: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            idle_timeout: Duration::from_secs(60),
            closed_timeout: Duration::from_secs(5),
            filter: None,
            lookup_new_flows: true,
            dns: Some(crate::dns::DnsConfig::default()),
            keep_answers: true,
            forget_exited_after: None,
            flow_history: true,
        }
    }
}

/// Lookup answers for unconnected sockets one socket table takes at most
/// (the next table starts again). Such an answer serves later flows of the
/// same socket (a server answering many peers); 20,000 short-lived UDP
/// sockets, each with one flow, kept 5 MB of answers no flow would use
/// again. Past the limit a later flow of such a socket is searched again.
pub const UNCONNECTED_ANSWERS_KEPT: usize = 4_096;

/// Counters about the engine's own work.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EngineStats {
    pub frames: u64,
    pub decode_errors: u64,
    pub non_ip_frames: u64,
    pub lookups: u64,
    pub lookup_hits: u64,
    pub lookup_errors: u64,
    pub flows_expired: u64,
    /// Flows whose socket passed to another process.
    pub handovers: u64,
    /// Flows given their owner, or a new one, by the socket cookie of a
    /// kernel counter's delta (`engine/cookies.rs`), not by a tuple.
    pub cookie_owners: u64,
    /// Pids seen again with another start time (recycled).
    pub pids_reused: u64,
    /// Exited processes forgotten (see `forget_exited_after`).
    pub processes_forgotten: u64,
    /// Packets to closed ports counted without a flow of their own (a
    /// flood: see `PROBES_KEPT_UNTIL`).
    pub probes_without_flow: u64,
}

/// Bytes credited to one owner (a process, or the unknown bucket).
#[derive(Debug, Clone, Default)]
struct Account {
    counters: Counters,
    /// Only the flows whose remote address matched the filter.
    matched: Counters,
    history: History,
}

impl Account {
    /// The second of the newest byte credited (0: none yet).
    fn last_sec(&self) -> u64 {
        self.history.newest()
    }

    fn add(&mut self, dir: Direction, (bytes, packets): (u64, u64), sec: u64, matched: bool) {
        self.counters.add_n(dir, bytes, packets);
        if matched {
            self.matched.add_n(dir, bytes, packets);
        }
        self.history.add(sec, dir == Direction::Rx, bytes);
    }

    fn take_flow(&mut self, flow: &Flow, matched: bool) {
        self.counters.remove(&flow.counters);
        if matched {
            self.matched.remove(&flow.counters);
        }
        self.history.subtract(&flow.history.settled());
    }

    fn give_flow(&mut self, flow: &Flow, matched: bool) {
        self.counters.merge(&flow.counters);
        if matched {
            self.matched.merge(&flow.counters);
        }
        self.history.merge(&flow.history.settled());
    }
}

#[derive(Debug, Clone, Default)]
struct ProcessState {
    info: ProcessInfo,
    account: Account,
    /// The account's totals by interface (`engine/per_interface.rs`).
    interfaces: per_interface::PerInterface,
    /// The backend said it has exited (see `engine/lifecycle.rs`).
    exited: bool,
    /// Processes that moved bytes on this one's behalf (PKTAP's real pid
    /// when its effective pid is this one), pid and name.
    delegates: Vec<(u32, String)>,
}

#[derive(Debug, Clone, Default)]
struct InterfaceState {
    index: u32,
    name: String,
    counters: Counters,
    history: History,
    /// Per-minute bytes (the ring indexed by Unix minute), for the
    /// Interface view's hour of history.
    minutes: History,
}

/// Flow table, attribution and aggregation.
#[derive(Debug)]
pub struct Engine {
    config: EngineConfig,
    /// Lower-cased filter pattern.
    pattern: Option<String>,
    local: LocalAddrs,
    /// This host's MAC addresses: an Ethernet frame from one of them is
    /// outgoing (single-interface captures carry no direction).
    macs: Vec<[u8; 6]>,
    flows: FlowTable<FlowEntry>,
    /// Where each owner's packets are credited when they cross several
    /// interfaces (`engine/once.rs`).
    seats: Seats,
    /// Forwarded flows the host translates (a router's NAT), with their
    /// inside flow (`engine/translated.rs`).
    translated: translated::Translated,
    sockets: SocketTable,
    /// Unconnected-socket answers `sockets` took since it was read.
    unconnected_answers: usize,
    /// Processes by pid; flows point at their slot, so crediting bytes
    /// needs no second hash lookup.
    processes: Slots<ProcessState>,
    unknown: Account,
    /// The unknown bucket split by reason.
    unknown_why: Breakdown,
    interfaces: Slots<InterfaceState>,
    /// The host's interfaces as last listed (addresses, state, kernel
    /// counters), for the monitor.
    host_interfaces: Vec<InterfaceInfo>,
    /// The interface of the previous packet: (ifindex, slot).
    last_interface: Option<(u32, usize)>,
    /// A packet came on an interface the last list did not have (one
    /// created during the run): its addresses are worth reading now.
    unlisted_interface: bool,
    stats: EngineStats,
    capture: CaptureStats,
    /// Timestamp of the newest frame.
    latest: Duration,
    /// The DNS observatory, when DNS is on (see `engine/dns.rs`).
    dns: Option<crate::dns::DnsObserver>,
    /// Second of the last lifecycle round (see `engine/lifecycle.rs`).
    last_aging: Option<u64>,
    /// Flows whose owner search waits for the space between two capture
    /// batches (`engine/queue.rs`).
    queue: LookupQueue,
    /// Frame time of the last socket table.
    table_at: Option<Duration>,
    /// Port-53 packets waiting for their flows' searches (`engine/dns.rs`).
    deferred_dns: Vec<dns::Deferred>,
    /// Interface names PKTAP headers gave (`engine/tap.rs`).
    tap_names: tap::TapNames,
    /// Owners by socket cookie, as the resolver answered (`engine/cookies.rs`).
    cookies: cookies::CookieMemo,
    /// The only user whose processes the backend sees (`None`: all);
    /// see [`Engine::set_visible_uid`].
    visible_uid: Option<u32>,
}

/// A flow plus what the engine derived about it once.
#[derive(Debug, Clone)]
struct FlowEntry {
    /// Its key is the table's (`PackedKey::key`).
    flow: Flow,
    /// The remote address matches the filter.
    matched: bool,
    /// Slot of the owning process in `Engine::processes`.
    slot: Option<usize>,
    /// Why it has no owner (meaningless while `slot` is set).
    why: UnknownReason,
    /// Owner searches so far, and when the last one was (frame time).
    tries: u8,
    last_try: Duration,
    /// Socket tables this flow was matched against without finding one.
    tables: u8,
    /// In the lookup queue now.
    queued: bool,
    /// Per direction (tx, rx): the interface where this key's packets are
    /// credited, or `UNDECIDED`/`ELSEWHERE` (`engine/once.rs`; its
    /// identity is kept in `Engine::seats`).
    at: [u32; 2],
}

/// An owner found for a flow: its process slot, and the flow as the
/// socket sees it (through NAT: the untranslated tuple).
#[derive(Debug, Clone, Copy)]
struct Owner {
    slot: usize,
    view: FlowKey,
}

impl FlowEntry {
    /// Only a sighting of packets another flow credits (a container's
    /// flow seen again after NAT): not a connection of its own to show.
    fn is_sighting_only(&self) -> bool {
        self.flow.counters.total_bytes() == 0
            && self.at.iter().all(|&a| a == ELSEWHERE || a == UNDECIDED)
    }

    /// Whether a packet of this flow travelling `dir`, seen on `ifindex`,
    /// is credited (its seat) or only a sighting of a packet credited
    /// elsewhere. Decides the seat on the first packet each way.
    #[inline]
    fn credits(
        &mut self,
        seats: &mut Seats,
        packed: PackedKey,
        dir: Direction,
        ifindex: u32,
    ) -> bool {
        let d = once::side(dir, false);
        let at = self.at[d];
        if at == ifindex {
            return true;
        }
        if at != UNDECIDED {
            return false;
        }
        let at = seats.decide(&packed, dir, ifindex);
        self.at[d] = at;
        at == ifindex
    }

    /// No owner yet, not queued, and time for another search.
    fn wants_retry(&self, proto: Protocol, now: Duration) -> bool {
        self.slot.is_none()
            && !self.queued
            && self.tries < MAX_TRIES
            && proto.has_ports()
            && now.saturating_sub(self.last_try) >= RETRY_AFTER
    }
}

/// Adds one packet to a known flow and to its owner's account.
fn credit(
    entry: &mut FlowEntry,
    processes: &mut Slots<ProcessState>,
    unknown: &mut Account,
    unknown_why: &mut Breakdown,
    dir: Direction,
    u: &Update,
) {
    let flow = &mut entry.flow;
    flow.counters.add_n(dir, u.bytes, u.packets);
    if u.history {
        flow.history.add(u.sec, dir == Direction::Rx, u.bytes);
    }
    flow.last_seen = flow.last_seen.max(u.ts);
    flow.ifindex = u.ifindex;
    flow.closing |= u.tcp.fin || u.tcp.rst;
    let account = match entry.slot {
        Some(slot) => {
            let process = processes.get_mut(slot);
            process.interfaces.add(u.ifindex, dir, u.bytes, u.packets);
            &mut process.account
        }
        None => {
            unknown_why.add_n(entry.why, dir, u.amount(), entry.matched);
            unknown
        }
    };
    account.add(dir, u.amount(), u.sec, entry.matched);
}

/// Owner searches for one flow: when it is first seen, and again on later
/// packets while it has none (a socket or process appearing a moment late,
/// a `/proc` scan that was rate-limited), until the socket table takes over.
const MAX_TRIES: u8 = 4;
/// Socket tables a flow without an owner is matched against before it is
/// given up (it stays unknown, and stops causing table reads).
const MAX_TABLES: u8 = 4;
const RETRY_AFTER: Duration = Duration::from_millis(50);
/// Flows waiting for a search from which new flows to closed ports are
/// not searched for.
const SEARCH_PRESSURE: usize = 256;
/// Flows in the table past which a new flow to a closed port is not kept
/// (its bytes still count, under unknown).
const PROBES_KEPT_UNTIL: usize = 65_536;
/// A socket table this recent answers "nobody listens on that port"
/// without a search.
const FRESH_TABLE: Duration = Duration::from_secs(2);

impl Engine {
    pub fn new(config: EngineConfig) -> Self {
        let pattern = config
            .filter
            .as_ref()
            .map(|f| f.to_lowercase())
            .filter(|f| !f.is_empty());
        let dns = config.dns.clone().map(crate::dns::DnsObserver::new);
        Engine {
            dns,
            config,
            pattern,
            local: LocalAddrs::default(),
            macs: Vec::new(),
            flows: FlowTable::default(),
            seats: Seats::default(),
            translated: translated::Translated::default(),
            sockets: SocketTable::default(),
            unconnected_answers: 0,
            processes: Slots::default(),
            unknown: Account::default(),
            unknown_why: Breakdown::default(),
            interfaces: Slots::default(),
            host_interfaces: Vec::new(),
            last_interface: None,
            unlisted_interface: false,
            stats: EngineStats::default(),
            capture: CaptureStats::default(),
            latest: Duration::ZERO,
            last_aging: None,
            queue: LookupQueue::default(),
            table_at: None,
            deferred_dns: Vec::new(),
            tap_names: tap::TapNames::default(),
            cookies: cookies::CookieMemo::default(),
            visible_uid: None,
        }
    }

    /// Replaces the host's interfaces and addresses.
    pub fn set_interfaces(&mut self, interfaces: &[InterfaceInfo]) {
        self.local = LocalAddrs::from_interfaces(interfaces);
        self.macs = interfaces.iter().filter_map(|i| i.mac).collect();
        for i in interfaces {
            let slot = self.interface_slot(i.index);
            let state = self.interfaces.get_mut(slot);
            if state.name != i.name {
                state.name = i.name.clone();
            }
        }
        self.host_interfaces = interfaces.to_vec();
        self.unlisted_interface = false;
        if let Some(dns) = &mut self.dns {
            dns.set_interfaces(interfaces);
        }
    }

    /// The only user whose processes the backend can see
    /// ([`SocketResolver::visible_uid`]); another user's socket without
    /// an owner is then filed as [`UnknownReason::Hidden`].
    pub fn set_visible_uid(&mut self, uid: Option<u32>) {
        self.visible_uid = uid;
    }

    /// Why a socket the backend found has no owner: hidden (another
    /// user's, which this run cannot see) or gone.
    fn ownerless(&self, socket_uid: u32) -> UnknownReason {
        match self.visible_uid {
            Some(me) if socket_uid != me => UnknownReason::Hidden,
            _ => UnknownReason::OwnerGone,
        }
    }

    /// Records the capture's kernel counters.
    pub fn set_capture_stats(&mut self, stats: CaptureStats) {
        self.capture = stats;
    }

    pub fn stats(&self) -> EngineStats {
        self.stats
    }

    /// Number of flows currently in the table.
    pub fn flow_count(&self) -> usize {
        self.flows.len()
    }

    /// Sockets in the last socket table (with the answers since).
    pub fn socket_count(&self) -> usize {
        self.sockets.len()
    }

    /// The last socket table (with the answers since): the library's
    /// port queries read it.
    pub fn sockets(&self) -> &SocketTable {
        &self.sockets
    }

    /// True when some TCP or UDP flow still waits for its owner: only then
    /// does a new socket table change anything. (ICMP and other protocols
    /// have no sockets to find; a flow no table explained in a few tries,
    /// such as traffic to a port nobody listens on, is given up.)
    pub fn has_pending(&self) -> bool {
        self.flows
            .iter()
            .any(|(k, e)| e.slot.is_none() && e.tables < MAX_TABLES && k.proto().has_ports())
    }

    /// Whether the last socket table is recent enough to say that nobody
    /// listens on a port (the capture loop reads one a second while flows
    /// wait).
    fn table_is_fresh(&self) -> bool {
        self.table_at
            .is_some_and(|at| self.latest.saturating_sub(at) <= FRESH_TABLE)
    }

    /// Timestamp of the newest frame seen.
    pub fn latest(&self) -> Duration {
        self.latest
    }

    /// Accounts one frame. A flow the socket table does not explain is
    /// queued for an owner search, which [`Engine::resolve_pending`] does
    /// between capture batches: no system call happens here.
    pub fn ingest(&mut self, frame: &Frame<'_>) {
        self.stats.frames += 1;
        // Used where decode wrote it: moved out of the `Result`, the
        // packet was copied whole (a `memcpy` of 144 bytes), whose wide
        // loads of decode's narrow stores stalled every frame.
        let mut decoded = decode(frame);
        let packet = match &mut decoded {
            Ok(p) => p,
            Err(e) => {
                self.stats.decode_errors += 1;
                tracing::trace!(error = %e, "frame skipped");
                return;
            }
        };
        if packet.outgoing.is_none() && frame.link == LinkType::Ethernet && !self.macs.is_empty() {
            if let Some(src) = frame.data.get(6..12) {
                packet.outgoing = Some(self.macs.iter().any(|m| m[..] == *src));
            }
        }
        if self.latest.is_zero() && self.table_at == Some(Duration::ZERO) {
            // The table read before the capture started is as old as the
            // first frame.
            self.table_at = Some(frame.ts);
        }
        self.latest = self.latest.max(frame.ts);
        let sec = frame.ts.as_secs();
        if let Some(tap) = &packet.tap {
            packet.ifindex = Some(self.tap_interface(tap.ifname));
        }
        let packet = &*packet;
        let ifindex = packet.ifindex.unwrap_or(0);
        let bytes = u64::from(packet.wire_len);
        let Some(ip) = &packet.ip else {
            self.stats.non_ip_frames += 1;
            self.count_non_ip(ifindex, packet.outgoing == Some(true), (bytes, 1), sec);
            return;
        };
        // A PKTAP header names the process, and its direction says which
        // side is the process's.
        let (sides, owner) = match (tap::tap_process(&packet.tap), packet.outgoing) {
            (Some(p), Some(out)) => (self.tap_sides(ip, out), Some((self.tap_owner(&p), out))),
            _ => (self.local.sides(ip, packet.outgoing), None),
        };
        let update = Update {
            bytes,
            packets: 1,
            sec,
            ts: frame.ts,
            first: frame.ts,
            ifindex,
            tcp: ip.tcp,
            cookie_asked: false,
            history: self.config.flow_history,
        };
        let waits = self.count_packet(sides, packet.outgoing, owner, &update);
        if self.dns.is_some() && (ip.src_port == 53 || ip.dst_port == 53) {
            self.observe_dns(ip, frame.ts, ifindex, waits);
        }
    }

    /// A non-IP frame (ARP, LLDP, ...): its interface's, and unknown
    /// (kernel).
    fn count_non_ip(&mut self, ifindex: u32, outgoing: bool, amount: (u64, u64), sec: u64) {
        let dir = if outgoing {
            Direction::Tx
        } else {
            Direction::Rx
        };
        self.count_interface(ifindex, dir, amount, sec);
        self.unknown.add(dir, amount, sec, false);
        self.unknown_why
            .add_n(UnknownReason::Kernel, dir, amount, false);
    }

    /// Counts an IP packet (or a kernel delta of them) on its interface
    /// and on the flows of its sides; true when a flow waits for an owner
    /// search. `owner`: the process slot a PKTAP header named, and
    /// whether the packet was outgoing.
    fn count_packet(
        &mut self,
        sides: crate::direction::Sides,
        outgoing: Option<bool>,
        owner: Option<(usize, bool)>,
        update: &Update,
    ) -> bool {
        let hint = |dir: Direction| match owner {
            Some((slot, out)) if (dir == Direction::Tx) == out => Some(slot),
            _ => None,
        };
        let (ifindex, amount, sec) = (update.ifindex, update.amount(), update.sec);
        // The interface counts the frame the way its kernel counters do:
        // by the packet's own direction when the capture says it, whatever
        // end it is credited to (a container's upload is received by the
        // host's end of its veth). Loopback's second side is the other way.
        let on_link = match outgoing {
            Some(true) => Direction::Tx,
            Some(false) => Direction::Rx,
            None => sides.first.0,
        };
        self.count_interface(ifindex, on_link, amount, sec);
        let mut waits = self.account(sides.first.0, sides.first.1, update, hint(sides.first.0));
        if let Some((dir, key)) = sides.second {
            let back = match on_link {
                Direction::Tx => Direction::Rx,
                Direction::Rx => Direction::Tx,
            };
            self.count_interface(ifindex, back, amount, sec);
            waits |= self.account(dir, key, update, hint(dir));
        }
        waits
    }

    fn interface_slot(&mut self, ifindex: u32) -> usize {
        if let Some((index, slot)) = self.last_interface {
            if index == ifindex {
                return slot;
            }
        }
        let mut inserted = false;
        let slot = self.interfaces.slot_or_insert(ifindex, || {
            inserted = true;
            InterfaceState {
                index: ifindex,
                ..InterfaceState::default()
            }
        });
        self.unlisted_interface |= inserted && ifindex != 0;
        self.last_interface = Some((ifindex, slot));
        slot
    }

    /// True once after a packet arrived on an interface the last
    /// [`Engine::set_interfaces`] did not list: the caller should list
    /// them again now rather than at the next refresh, so the new
    /// interface's addresses decide the direction of its next packets.
    pub fn take_unlisted_interface(&mut self) -> bool {
        std::mem::take(&mut self.unlisted_interface)
    }

    fn count_interface(
        &mut self,
        ifindex: u32,
        dir: Direction,
        (bytes, packets): (u64, u64),
        sec: u64,
    ) {
        let slot = self.interface_slot(ifindex);
        let iface = self.interfaces.get_mut(slot);
        iface.counters.add_n(dir, bytes, packets);
        iface.history.add(sec, dir == Direction::Rx, bytes);
        iface.minutes.add(sec / 60, dir == Direction::Rx, bytes);
    }

    /// Accounts one side of a packet; true when the flow waits for an
    /// owner search. `tap`: the process slot the capture named for this
    /// side (PKTAP), which owns the flow from now on.
    fn account(&mut self, dir: Direction, key: FlowKey, u: &Update, tap: Option<usize>) -> bool {
        let packed = PackedKey::from(&key);
        let retry = self.config.lookup_new_flows;
        if let Some(slot) = tap {
            if self
                .flows
                .get_mut(&packed)
                .is_some_and(|e| e.slot != Some(slot))
            {
                self.tap_hand_over(&packed, key, slot);
            }
        }
        if let Some(entry) = self.flows.get_mut(&packed) {
            if retry && entry.wants_retry(key.proto, u.ts) {
                entry.queued = self.queue.push(packed);
            }
            let waits = entry.queued;
            sight(
                entry,
                &mut self.seats,
                &mut self.processes,
                &mut self.unknown,
                &mut self.unknown_why,
                (packed, dir),
                u,
            );
            return waits;
        }
        let found = match tap {
            Some(slot) => Ok(Owner { slot, view: key }),
            // Queued: the cookie's answer comes before the tuple search.
            None if u.cookie_asked && dir == Direction::Tx => Err(UnknownReason::OwnerGone),
            None => self.owner_in_table(&key, dir),
        };
        let matched = self.remote_matches(&key);
        let (slot, mut why) = match found {
            Ok(owner) => (Some(owner.slot), UnknownReason::OwnerGone),
            Err(why) => (None, why),
        };
        // A reset from one of our ports that no socket holds is the
        // kernel's answer to a probe of a closed port (its probe may have
        // gone uncounted, see below, or undecoded).
        if slot.is_none() && u.tcp.rst && dir == Direction::Tx && why == UnknownReason::OwnerGone {
            why = UnknownReason::NoListener;
        }
        // Under pressure (the search queue backing up, or a flow table
        // grown by a flood), a flow someone opened towards a port of ours
        // that a fresh table shows nobody listening on (a scan, a flood)
        // is not searched for. Without pressure it is: a published port
        // (DNAT into a container) looks exactly like a closed port until
        // conntrack is asked.
        let pressure = self.queue.len() >= SEARCH_PRESSURE || self.flows.len() >= PROBES_KEPT_UNTIL;
        let closed_port = pressure && why == UnknownReason::NoListener && self.table_is_fresh();
        // Under a flood of probes to closed ports, they are no longer kept
        // one by one: their bytes go to unknown (no listener) as they come,
        // and the flow table stays bounded by the real connections.
        if closed_port && self.flows.len() >= PROBES_KEPT_UNTIL {
            self.stats.probes_without_flow += 1;
            self.unknown_why.add_n(why, dir, u.amount(), false);
            self.unknown.add(dir, u.amount(), u.sec, false);
            return false;
        }
        let queued = slot.is_none()
            && retry
            && !closed_port
            && key.proto.has_ports()
            && self.queue.push(packed);
        let flow = Flow {
            counters: Counters::default(),
            first_seen: u.first,
            last_seen: u.ts,
            ifindex: u.ifindex,
            closing: u.tcp.fin || u.tcp.rst || closed_port,
            opened_by: dir,
            history: FlowHistory::default(),
        };
        let mut entry = FlowEntry {
            flow,
            matched,
            slot,
            why,
            // A closed port's flow may be searched on a later packet, when
            // the pressure has gone.
            tries: 0,
            last_try: u.ts,
            tables: 0,
            queued,
            at: [UNDECIDED; 2],
        };
        // A flow waiting for its search is its own identity until the
        // search says what it is: a flow that looks forwarded now may be a
        // local socket's, seen first where no end is local.
        let provisional = if queued && why == UnknownReason::Forwarded {
            UnknownReason::OwnerGone
        } else {
            why
        };
        self.identity_of(packed, &key, provisional, found.ok());
        if entry.credits(&mut self.seats, packed, dir, u.ifindex) {
            entry.flow.counters.add_n(dir, u.bytes, u.packets);
            if u.history {
                entry.flow.history.add(u.sec, dir == Direction::Rx, u.bytes);
            }
            let account = match slot {
                Some(slot) => {
                    let process = self.processes.get_mut(slot);
                    process.interfaces.add(u.ifindex, dir, u.bytes, u.packets);
                    &mut process.account
                }
                None => {
                    self.unknown_why.add_n(why, dir, u.amount(), matched);
                    &mut self.unknown
                }
            };
            account.add(dir, u.amount(), u.sec, matched);
        }
        self.flows.insert(packed, entry);
        queued
    }

    fn remote_matches(&self, key: &FlowKey) -> bool {
        match &self.pattern {
            Some(p) => {
                key.remote_ip.to_string().contains(p.as_str()) || self.remote_name_matches(key, p)
            }
            None => false,
        }
    }

    /// Gives a flow without an owner to the process in `slot`, moving its
    /// bytes out of the unknown bucket.
    /// Its identity becomes the owner's socket end; its seats are decided
    /// again on its next packets.
    fn attach(&mut self, packed: &PackedKey, owner: Owner) {
        let slot = owner.slot;
        let process_key = self.process_key(slot);
        let Some(entry) = self.flows.get_mut(packed) else {
            return;
        };
        let process = self.processes.get_mut(slot);
        entry.slot = Some(slot);
        self.unknown.take_flow(&entry.flow, entry.matched);
        self.unknown_why
            .take(entry.why, &entry.flow.counters, entry.matched);
        let key = packed.key();
        let why = entry.why;
        self.seats.exit(packed);
        // Another flow of the same socket end already credits its packets
        // (a container's flow, seen owned on its veth while this translated
        // sighting waited for conntrack): the bytes this one collected are
        // those same packets, so they are dropped, not given.
        let identity = once::socket_identity(process_key, &owner.view);
        if self.seats.held_by_other(&identity, packed) {
            entry.flow.counters = Counters::default();
            entry.flow.history = FlowHistory::default();
        } else {
            process.account.give_flow(&entry.flow, entry.matched);
            process.interfaces.give_flow(&entry.flow, entry.at);
        }
        self.reidentify(packed, &key, why, Some(owner));
        self.dns_owner_found(&key, slot);
    }

    /// Files an unowned flow's bytes under a new reason.
    fn refile(&mut self, packed: &PackedKey, why: UnknownReason) {
        let Some(entry) = self.flows.get_mut(packed) else {
            return;
        };
        if entry.slot.is_some() {
            return;
        }
        if entry.why != why {
            self.unknown_why
                .take(entry.why, &entry.flow.counters, entry.matched);
            self.unknown_why
                .give(why, &entry.flow.counters, entry.matched);
        }
        let was_forwarded = entry.why == UnknownReason::Forwarded;
        entry.why = why;
        let key = packed.key();
        // Forwarded or not decides the identity, and so does a NAT
        // translation found since (`engine/translated.rs`).
        if was_forwarded != (why == UnknownReason::Forwarded)
            || self.unowned_identity_changed(packed, &key, why)
        {
            self.seats.exit(packed);
            self.reidentify(packed, &key, why, None);
        }
    }

    /// The owner of a flow by the last socket table alone (the packet
    /// path's only search), or why it has none so far.
    fn owner_in_table(
        &mut self,
        key: &FlowKey,
        opened_by: Direction,
    ) -> Result<Owner, UnknownReason> {
        let known = self.sockets.find(key).map(|s| {
            (
                s.owner.as_deref().cloned(),
                once::socket_view(s, key),
                s.uid,
            )
        });
        match known {
            Some((Some(info), view, _)) => {
                let slot = self.register(info);
                Ok(Owner { slot, view })
            }
            Some((None, _, uid)) => Err(self.ownerless(uid)),
            None if !key.proto.has_ports() => Err(UnknownReason::Kernel),
            None => Err(self.none_found(key, opened_by, false)),
        }
    }

    /// Why a flow no search placed has no owner: a socket without a
    /// process lost its owner; no socket at all is forwarding (no end is
    /// ours), a closed port (they opened it) or an owner that has gone
    /// (we opened it).
    fn none_found(&self, key: &FlowKey, opened_by: Direction, socket_seen: bool) -> UnknownReason {
        if socket_seen {
            UnknownReason::OwnerGone
        } else if !self.local.contains(&key.local_ip) && !self.local.contains(&key.remote_ip) {
            UnknownReason::Forwarded
        } else if opened_by == Direction::Rx {
            UnknownReason::NoListener
        } else {
            UnknownReason::OwnerGone
        }
    }

    /// Finds the owner of a flow (`opened_by`: the direction of its first
    /// packet): last socket table first, then one exact lookup. Returns
    /// the owner's process slot, or why there is none.
    fn owner_of(
        &mut self,
        key: &FlowKey,
        opened_by: Direction,
        resolver: &mut dyn SocketResolver,
    ) -> Result<Owner, UnknownReason> {
        let known = match self.owner_in_table(key, opened_by) {
            Ok(owner) => return Ok(owner),
            Err(UnknownReason::Kernel) => return Err(UnknownReason::Kernel),
            Err(_) => self.sockets.find(key).is_some(),
        };
        if !self.config.lookup_new_flows {
            return Err(self.none_found(key, opened_by, known));
        }
        self.stats.lookups += 1;
        let packed = PackedKey::from(key);
        self.translated.forget(&packed);
        match resolver.lookup(key) {
            Ok(Some(entry)) => {
                let owner = entry.owner.as_deref().cloned();
                let view = once::socket_view(&entry, key);
                if owner.is_none() {
                    tracing::debug!(flow = %key, inode = entry.inode, state = entry.state.as_str(), "socket found, owner not");
                }
                let uid = entry.uid;
                if entry.is_unconnected() {
                    if self.unconnected_answers < UNCONNECTED_ANSWERS_KEPT {
                        self.unconnected_answers += 1;
                        self.sockets.insert(entry);
                    }
                } else if self.config.keep_answers {
                    self.sockets.insert(entry);
                }
                if let Some(info) = owner {
                    self.stats.lookup_hits += 1;
                    let slot = self.register(info);
                    return Ok(Owner { slot, view });
                }
                Err(self.ownerless(uid))
            }
            Ok(None) => {
                // Another machine's traffic through this host's NAT (a
                // router's masquerade): forwarded, along its inside path.
                if let Some(inside) = resolver.untranslated(key) {
                    self.translated.note(packed, inside);
                    return Err(UnknownReason::Forwarded);
                }
                tracing::debug!(flow = %key, "no socket found for new flow");
                Err(self.none_found(key, opened_by, known))
            }
            Err(ResolveError::Namespace { .. }) => {
                self.stats.lookup_errors += 1;
                Err(UnknownReason::Namespace)
            }
            Err(e) => {
                self.stats.lookup_errors += 1;
                tracing::debug!(error = %e, flow = %key, "exact lookup failed");
                Err(self.none_found(key, opened_by, known))
            }
        }
    }

    /// The slot of a process, made on first sight; its name and user are
    /// updated when they change (exec, setuid). A pid seen again with
    /// another start time was recycled: a new process, with a new slot
    /// (the old one keeps its totals).
    fn register(&mut self, mut info: ProcessInfo) -> usize {
        let slot = self.processes.slot_or_insert(info.pid, || ProcessState {
            info: info.clone(),
            ..ProcessState::default()
        });
        let state = self.processes.get_mut(slot);
        let known = state.info.start_time;
        if known != 0 && info.start_time != 0 && known != info.start_time {
            self.stats.pids_reused += 1;
            return self.processes.renew(
                info.pid,
                ProcessState {
                    info,
                    ..ProcessState::default()
                },
            );
        }
        if info.start_time == 0 {
            info.start_time = known;
        }
        // An answer without the path (an event's) keeps the one known.
        if info.exe.is_none() {
            info.exe.clone_from(&state.info.exe);
        }
        if state.info != info {
            state.info = info;
        }
        slot
    }

    /// Takes a fresh socket table: flows still waiting for an owner get one
    /// if the table now knows their socket, and their bytes move from the
    /// unknown bucket to the process.
    pub fn refresh(&mut self, table: SocketTable) {
        self.sockets = table;
        self.unconnected_answers = 0;
        self.table_at = Some(self.latest);
        let mut found = Vec::new();
        for (packed, entry) in self.flows.iter_mut() {
            if entry.slot.is_some() {
                continue;
            }
            let key = packed.key();
            let socket = self.sockets.find(&key);
            match socket.and_then(|s| s.owner.as_deref().cloned().map(|o| (o, s))) {
                Some((info, s)) => found.push((*packed, info, once::socket_view(s, &key))),
                None => entry.tables = entry.tables.saturating_add(1),
            }
        }
        for (packed, info, view) in found {
            let slot = self.register(info);
            self.attach(&packed, Owner { slot, view });
        }
    }

    /// Forgets flows idle past their timeout at `now`. Their bytes stay
    /// with their owner.
    pub fn expire(&mut self, now: Duration) {
        let idle = self.config.idle_timeout;
        let closed = self.config.closed_timeout;
        self.drop_flows(|e| {
            let limit = if e.flow.closing { closed } else { idle };
            now.saturating_sub(e.flow.last_seen) >= limit
        });
        if let Some(dns) = &mut self.dns {
            dns.expire(now);
        }
    }

    /// Forgets the flows `gone` picks (their bytes stay with their owner)
    /// and frees their seats; returns how many went.
    fn drop_flows(&mut self, mut gone: impl FnMut(&FlowEntry) -> bool) -> usize {
        let before = self.flows.len();
        let seats = &mut self.seats;
        let translated = &mut self.translated;
        // A set: after a flood hundreds of thousands of seats are freed at
        // once, and each remaining flow is checked against them.
        let mut freed = rustc_hash::FxHashSet::default();
        self.flows.retain(|packed, e| {
            let drop = gone(e);
            if drop {
                translated.forget(packed);
                if let Some((identity, true)) = seats.exit(packed) {
                    if seats.has_flows(identity) {
                        freed.insert(identity);
                    }
                }
            }
            !drop
        });
        // A seat whose flow went is free: the identity's other flows, if
        // any still carry packets, decide again.
        if !freed.is_empty() {
            for (packed, e) in self.flows.iter_mut() {
                if self
                    .seats
                    .identity(packed)
                    .is_some_and(|id| freed.contains(&id))
                {
                    e.at = [UNDECIDED; 2];
                }
            }
        }
        if !freed.is_empty() || before > self.flows.len() {
            self.seats.shrink();
            self.translated.shrink();
        }
        let dropped = before - self.flows.len();
        self.stats.flows_expired += dropped as u64;
        dropped
    }
}

/// What one packet (or one kernel counter's delta: `engine/deltas.rs`)
/// adds to one side.
struct Update {
    bytes: u64,
    packets: u64,
    sec: u64,
    /// The last packet's time; `first` the first one's.
    ts: Duration,
    first: Duration,
    ifindex: u32,
    tcp: TcpFlags,
    /// The sending side's socket cookie was asked about and its answer
    /// waits (`engine/cookies.rs`): a new flow of that side does not take
    /// the last socket table's answer by tuple (with sockets sharing a
    /// port it may be another process's), it waits for the cookie's.
    cookie_asked: bool,
    /// [`EngineConfig::flow_history`].
    history: bool,
}

impl Update {
    fn amount(&self) -> (u64, u64) {
        (self.bytes, self.packets)
    }
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "engine_once_tests.rs"]
mod once_tests;

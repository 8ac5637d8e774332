//! Fakes for testing everything above the backends without root: a capture
//! that replays frames from memory, a resolver with a fixed socket table,
//! and builders for the frames a Linux `any` capture delivers.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use etherparse::PacketBuilder;

use crate::capture::{Capture, CaptureError, CaptureStats, Frame, LinkType, Poll};
use crate::flow::{FlowKey, Protocol};
use crate::socket::{
    ProcessInfo, ResolveError, SocketEntry, SocketResolver, SocketTable, TcpState,
};

/// A frame that owns its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedFrame {
    pub ts: Duration,
    pub ifindex: Option<u32>,
    pub link: LinkType,
    pub orig_len: u32,
    pub data: Vec<u8>,
}

impl OwnedFrame {
    pub fn as_frame(&self) -> Frame<'_> {
        Frame {
            ts: self.ts,
            ifindex: self.ifindex,
            link: self.link,
            orig_len: self.orig_len,
            data: &self.data,
        }
    }
}

/// Replays frames from memory, then reports [`Poll::Closed`].
#[derive(Debug, Default)]
pub struct ReplayCapture {
    frames: Vec<OwnedFrame>,
    next: usize,
    pub stats: CaptureStats,
}

impl ReplayCapture {
    pub fn new(frames: Vec<OwnedFrame>) -> Self {
        ReplayCapture {
            frames,
            next: 0,
            stats: CaptureStats::default(),
        }
    }
}

impl Capture for ReplayCapture {
    fn next_frame(&mut self) -> Result<Poll<'_>, CaptureError> {
        let Some(f) = self.frames.get(self.next) else {
            return Ok(Poll::Closed);
        };
        self.next += 1;
        Ok(Poll::Frame(f.as_frame()))
    }

    fn stats(&mut self) -> Result<CaptureStats, CaptureError> {
        Ok(self.stats)
    }
}

/// A resolver over fixed sockets. `dump` is what a full table shows;
/// `live` is what an exact lookup can still find (a short-lived socket is
/// in `live` but gone from later dumps).
#[derive(Debug, Default, Clone)]
pub struct StaticResolver {
    pub dump: Vec<SocketEntry>,
    pub live: Vec<SocketEntry>,
    /// Exact lookups asked so far.
    pub lookups: usize,
    /// Sockets that changed hands, handed out by the next `owner_changes`.
    pub changes: Vec<SocketEntry>,
    /// Processes that have exited (`exited` answers from it).
    pub exited: Vec<u32>,
    /// Owners by socket cookie (`cookie_owners` answers from it).
    pub cookies: Vec<(u64, ProcessInfo)>,
    /// Cookies whose socket changed hands, handed out by the next
    /// `cookie_owners` whatever it asks.
    pub cookie_changes: Vec<(u64, ProcessInfo)>,
    /// Cookies asked about so far.
    pub cookies_asked: Vec<u64>,
}

impl StaticResolver {
    pub fn new(dump: Vec<SocketEntry>) -> Self {
        StaticResolver {
            live: dump.clone(),
            dump,
            lookups: 0,
            changes: Vec::new(),
            exited: Vec::new(),
            cookies: Vec::new(),
            cookie_changes: Vec::new(),
            cookies_asked: Vec::new(),
        }
    }
}

impl SocketResolver for StaticResolver {
    fn sockets(&mut self) -> Result<SocketTable, ResolveError> {
        Ok(SocketTable::new(self.dump.clone()))
    }

    fn lookup(&mut self, key: &FlowKey) -> Result<Option<SocketEntry>, ResolveError> {
        self.lookups += 1;
        let table = SocketTable::new(self.live.clone());
        Ok(table.find(key).cloned())
    }

    fn owner_changes(&mut self) -> Vec<SocketEntry> {
        std::mem::take(&mut self.changes)
    }

    fn cookie_owners(&mut self, cookies: &[u64]) -> Vec<(u64, ProcessInfo)> {
        self.cookies_asked.extend_from_slice(cookies);
        let mut answers = std::mem::take(&mut self.cookie_changes);
        answers.extend(
            self.cookies
                .iter()
                .filter(|(c, _)| cookies.contains(c))
                .cloned(),
        );
        answers
    }

    fn exited(&mut self, processes: &[(u32, u64)]) -> Vec<(u32, u64)> {
        processes
            .iter()
            .copied()
            .filter(|(pid, _)| self.exited.contains(pid))
            .collect()
    }
}

/// A clock that moves only when told to; clones share one time.
#[derive(Debug, Clone)]
pub struct FakeClock {
    base: std::time::Instant,
    nanos: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Default for FakeClock {
    fn default() -> Self {
        FakeClock {
            base: std::time::Instant::now(),
            nanos: std::sync::Arc::default(),
        }
    }
}

impl FakeClock {
    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        self.nanos
            .fetch_add(by, std::sync::atomic::Ordering::Relaxed);
    }
}

impl crate::clock::Clock for FakeClock {
    fn now(&self) -> std::time::Instant {
        self.base + Duration::from_nanos(self.nanos.load(std::sync::atomic::Ordering::Relaxed))
    }
}

/// A connected socket owned by `pid`/`name`.
pub fn socket(proto: Protocol, local: &str, remote: &str, pid: u32, name: &str) -> SocketEntry {
    let parse = |s: &str| -> SocketAddr { s.parse().unwrap_or_else(|_| panic!("bad address {s}")) };
    SocketEntry {
        proto,
        local: parse(local),
        remote: parse(remote),
        state: if proto == Protocol::Tcp {
            TcpState::Established
        } else {
            TcpState::None
        },
        inode: u64::from(pid) * 1000,
        uid: 1000,
        rtt_us: None,
        retrans: None,
        owner: Some(std::sync::Arc::new(ProcessInfo {
            pid,
            name: name.to_string(),
            user: "alice".to_string(),
            container: None,
            start_time: 0,
            exe: None,
        })),
        fd: None,
    }
}

/// One packet to build: addresses, ports and sizes.
#[derive(Debug, Clone, Copy)]
pub struct PacketSpec {
    pub proto: Protocol,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub payload: usize,
    /// TCP only: a reset (RST|ACK) instead of an ACK.
    pub rst: bool,
}

impl PacketSpec {
    pub fn tcp(src: &str, dst: &str, payload: usize) -> Self {
        Self::new(Protocol::Tcp, src, dst, payload)
    }

    pub fn udp(src: &str, dst: &str, payload: usize) -> Self {
        Self::new(Protocol::Udp, src, dst, payload)
    }

    fn new(proto: Protocol, src: &str, dst: &str, payload: usize) -> Self {
        let parse =
            |s: &str| -> SocketAddr { s.parse().unwrap_or_else(|_| panic!("bad address {s}")) };
        PacketSpec {
            proto,
            src: parse(src),
            dst: parse(dst),
            payload,
            rst: false,
        }
    }

    /// The bare IP packet (TCP ACK or UDP datagram with a zero payload).
    pub fn ip_bytes(&self) -> Vec<u8> {
        let ttl = 64;
        let builder = match (self.src.ip(), self.dst.ip()) {
            (IpAddr::V4(s), IpAddr::V4(d)) => PacketBuilder::ipv4(s.octets(), d.octets(), ttl),
            (IpAddr::V6(s), IpAddr::V6(d)) => PacketBuilder::ipv6(s.octets(), d.octets(), ttl),
            _ => panic!("mixed address families"),
        };
        let payload = vec![0u8; self.payload];
        let mut out = Vec::new();
        let written = match self.proto {
            Protocol::Tcp if self.rst => builder
                .tcp(self.src.port(), self.dst.port(), 1, 65535)
                .ack(1)
                .rst()
                .write(&mut out, &payload),
            Protocol::Tcp => builder
                .tcp(self.src.port(), self.dst.port(), 1, 65535)
                .ack(1)
                .write(&mut out, &payload),
            Protocol::Udp => builder
                .udp(self.src.port(), self.dst.port())
                .write(&mut out, &payload),
            other => panic!("cannot build {other}"),
        };
        written.expect("packet builds");
        out
    }

    /// A Linux cooked v2 frame, as a capture on `any` delivers it, cut to
    /// `snaplen` bytes.
    /// An Ethernet frame from MAC `src_mac` on interface `ifindex` (a
    /// single-interface capture: no direction in the frame).
    pub fn ethernet(&self, ts: Duration, ifindex: u32, src_mac: [u8; 6]) -> OwnedFrame {
        let ip = self.ip_bytes();
        let ether_type: u16 = if self.src.is_ipv4() { 0x0800 } else { 0x86dd };
        let mut data = Vec::with_capacity(14 + ip.len());
        data.extend_from_slice(&[0x02, 0xee, 0, 0, 0, 0x99]);
        data.extend_from_slice(&src_mac);
        data.extend_from_slice(&ether_type.to_be_bytes());
        data.extend_from_slice(&ip);
        OwnedFrame {
            ts,
            ifindex: Some(ifindex),
            link: LinkType::Ethernet,
            orig_len: data.len() as u32,
            data,
        }
    }

    /// A PKTAP frame (version 1 header, as macOS's `pktap` device and
    /// LINKTYPE_PKTAP files carry it) around an Ethernet frame of this
    /// packet; `tap` names the interface, direction and process (its
    /// `dlt` is set to Ethernet).
    pub fn pktap(&self, ts: Duration, tap: &crate::pktap::build::Spec) -> OwnedFrame {
        let inner = self.ethernet(ts, 0, [0x02, 0, 0, 0, 0, 1]);
        let spec = crate::pktap::build::Spec {
            dlt: 1,
            ..tap.clone()
        };
        let data = crate::pktap::build::v1(&spec, &inner.data);
        OwnedFrame {
            ts,
            ifindex: None,
            link: LinkType::Pktap,
            orig_len: data.len() as u32,
            data,
        }
    }

    pub fn sll2(&self, ts: Duration, ifindex: u32, outgoing: bool, snaplen: usize) -> OwnedFrame {
        let ip = self.ip_bytes();
        let ether_type: u16 = if self.src.is_ipv4() { 0x0800 } else { 0x86dd };
        let mut data = Vec::with_capacity(20 + ip.len());
        data.extend_from_slice(&ether_type.to_be_bytes());
        data.extend_from_slice(&[0, 0]);
        data.extend_from_slice(&ifindex.to_be_bytes());
        data.extend_from_slice(&1u16.to_be_bytes()); // ARPHRD_ETHER
        data.push(if outgoing { 4 } else { 0 });
        data.push(6);
        data.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0, 0]);
        data.extend_from_slice(&ip);
        let orig_len = data.len() as u32;
        data.truncate(snaplen);
        OwnedFrame {
            ts,
            ifindex: None,
            link: LinkType::LinuxSll2,
            orig_len,
            data,
        }
    }
}

/// Whether this is CI's run: `CI` set, not empty and not `0`. CI runs the
/// tests as root with everything installed, so nothing may skip there.
pub fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "0")
}

/// The one way a test says it cannot run here: a `skipped: REASON` line
/// on stderr elsewhere, a failure (panic with the reason) under CI.
/// Returns only when skipping is allowed; the caller then returns.
pub fn skip(reason: &str) {
    if in_ci() {
        panic!("{reason}; CI is set, so this is a failure, not a skip");
    }
    // Straight to the stream: libtest's capture would hide a println!.
    let _ = std::io::Write::write_all(
        &mut std::io::stderr(),
        format!("skipped: {reason}\n").as_bytes(),
    );
}

/// What a kernel counter would have handed over for `frames`: one
/// [`FlowDelta`](crate::delta::FlowDelta) per interface, direction and IP
/// tuple (non-IP frames: per interface and direction) for each `window`
/// of frame time, the windows in order. Frames must carry their
/// direction (cooked captures) and decode; the byte measure is the
/// decoder's.
pub fn deltas_of(frames: &[OwnedFrame], window: Duration) -> Vec<Vec<crate::delta::FlowDelta>> {
    use crate::delta::{DeltaTuple, FlowDelta, SeenFlags};
    let mut windows: Vec<(u128, Vec<FlowDelta>)> = Vec::new();
    for f in frames {
        let frame = f.as_frame();
        let p = crate::decode::decode(&frame).expect("frame decodes");
        let outgoing = p.outgoing.expect("a frame with its direction");
        let tuple = p.ip.as_ref().map(DeltaTuple::of);
        let tcp = p.ip.map(|ip| SeenFlags {
            syn: ip.tcp.syn,
            fin: ip.tcp.fin,
            rst: ip.tcp.rst,
        });
        let w = f.ts.as_nanos() / window.as_nanos().max(1);
        if windows.last().is_none_or(|(at, _)| *at != w) {
            windows.push((w, Vec::new()));
        }
        let Some((_, deltas)) = windows.last_mut() else {
            unreachable!("a window was just pushed");
        };
        let ifindex = p.ifindex.unwrap_or(0);
        let bytes = u64::from(p.wire_len);
        let same =
            |d: &&mut FlowDelta| d.ifindex == ifindex && d.outgoing == outgoing && d.tuple == tuple;
        match deltas.iter_mut().find(same) {
            Some(d) => {
                d.bytes += bytes;
                d.packets += 1;
                d.last_seen = f.ts;
                if let Some(t) = tcp {
                    d.tcp.syn |= t.syn;
                    d.tcp.fin |= t.fin;
                    d.tcp.rst |= t.rst;
                }
            }
            None => deltas.push(FlowDelta {
                ifindex,
                outgoing,
                tuple,
                bytes,
                packets: 1,
                first_seen: f.ts,
                last_seen: f.ts,
                tcp: tcp.unwrap_or_default(),
                cookie: None,
            }),
        }
    }
    windows.into_iter().map(|(_, d)| d).collect()
}

//! The capture seam: what a backend hands the core for every frame.
//!
//! A backend (libpcap on Linux, BPF devices on macOS, a recorded file in
//! tests) implements [`Capture`]. Frames borrow the backend's buffer, so the
//! core reads headers in place and copies nothing.

use std::time::Duration;

/// Link-layer framing of a capture, as libpcap's DLT numbers name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinkType {
    /// DLT_EN10MB: Ethernet II, possibly with 802.1Q tags.
    Ethernet,
    /// DLT_LINUX_SLL: Linux cooked capture v1 (16-byte header).
    LinuxSll,
    /// DLT_LINUX_SLL2: Linux cooked capture v2 (20-byte header with ifindex).
    LinuxSll2,
    /// DLT_RAW / LINKTYPE_RAW / DLT_IPV4 / DLT_IPV6: a bare IP packet.
    RawIp,
    /// DLT_NULL: BSD loopback, 4-byte address family in host byte order.
    Null,
    /// DLT_LOOP: OpenBSD loopback, 4-byte address family in network order.
    Loop,
    /// DLT_PKTAP (149, macOS) / LINKTYPE_PKTAP (258, files): Apple's
    /// header naming the interface and the process, then a frame of its
    /// own link type (`pktap.rs`).
    Pktap,
    /// Anything else; frames of this type are counted and skipped.
    Other(i32),
}

impl LinkType {
    /// Maps a libpcap DLT/LINKTYPE number to a link type.
    pub fn from_dlt(dlt: i32) -> Self {
        match dlt {
            1 => LinkType::Ethernet,
            113 => LinkType::LinuxSll,
            276 => LinkType::LinuxSll2,
            12 | 14 | 101 | 228 | 229 => LinkType::RawIp,
            0 => LinkType::Null,
            108 => LinkType::Loop,
            149 | 258 => LinkType::Pktap,
            other => LinkType::Other(other),
        }
    }

    /// The libpcap LINKTYPE number, for writing capture files.
    pub fn to_linktype(self) -> i32 {
        match self {
            LinkType::Ethernet => 1,
            LinkType::LinuxSll => 113,
            LinkType::LinuxSll2 => 276,
            LinkType::RawIp => 101,
            LinkType::Null => 0,
            LinkType::Loop => 108,
            LinkType::Pktap => 258,
            LinkType::Other(n) => n,
        }
    }
}

/// One captured frame, borrowed from the capture's buffer.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// Capture timestamp, since the Unix epoch.
    pub ts: Duration,
    /// Interface index the frame was captured on, when the capture is bound
    /// to one interface. Cooked v2 frames carry their own and override this.
    pub ifindex: Option<u32>,
    /// Framing of `data`.
    pub link: LinkType,
    /// Length of the frame on the wire, before snap-length truncation.
    pub orig_len: u32,
    /// The captured bytes (headers; the payload is cut by the snap length).
    pub data: &'a [u8],
}

/// What one call to [`Capture::next_frame`] produced.
#[derive(Debug)]
pub enum Poll<'a> {
    /// A frame arrived.
    Frame(Frame<'a>),
    /// Nothing arrived before the capture's read timeout; call again.
    Idle,
    /// The source is exhausted (end of a recorded file); no more frames.
    Closed,
}

/// Kernel packet counters of a live capture.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CaptureStats {
    /// Packets the capture received (before filtering by the kernel, as the
    /// platform reports it).
    pub received: u64,
    /// Packets dropped because the capture buffer was full.
    pub dropped: u64,
    /// Packets dropped by the interface or its driver.
    pub if_dropped: u64,
}

/// A stretch of time a live capture could not read its interface (it
/// disappeared, went down, or libpcap failed) and was reopening it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gap {
    /// The device that was gone.
    pub device: String,
    /// When it went, counted from the moment the capture first opened.
    pub after: Duration,
    /// How long it was gone (so far, for an ongoing gap).
    pub length: Duration,
}

/// Whether a capture is reading, and the gaps it healed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaptureHealth {
    /// The gap going on now: the device is gone and being reopened.
    pub gone: Option<Gap>,
    /// Gaps that ended with the device back.
    pub healed: Vec<Gap>,
}

impl CaptureHealth {
    /// Every gap, healed first, then the ongoing one.
    pub fn gaps(&self) -> impl Iterator<Item = &Gap> {
        self.healed.iter().chain(self.gone.iter())
    }
}

/// Errors a capture backend reports. Variants name the input that failed so
/// the frontend can print a one-line fix.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("permission denied opening capture on {device}")]
    PermissionDenied { device: String },
    #[error("no such interface: {device}")]
    NoSuchInterface { device: String },
    #[error("capture on {device} failed: {message}")]
    Failed { device: String, message: String },
}

/// What one call to [`Capture::dispatch`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Batch {
    /// This many frames were handed over.
    Frames(usize),
    /// Nothing arrived before the read timeout; call again.
    Idle,
    /// The source is exhausted; no more frames.
    Closed,
}

/// How a capture counts traffic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Counting {
    /// Every packet's headers are copied to netop (libpcap).
    Packets,
    /// Counted in the kernel per flow; only DNS packets are copied.
    /// `interfaces`: how many are attached now.
    Kernel { attach: String, interfaces: usize },
    /// Kernel counting was asked for or preferred and is not possible:
    /// packets, and why.
    Fallback { reason: String },
}

impl std::fmt::Display for Counting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Counting::Packets => f.write_str("pcap"),
            Counting::Kernel { attach, interfaces } => {
                write!(f, "kernel ({attach}, interfaces: {interfaces})")
            }
            Counting::Fallback { reason } => write!(f, "pcap ({reason})"),
        }
    }
}

/// A source of captured frames.
pub trait Capture {
    /// Waits (at most the capture's read timeout) for the next frame.
    fn next_frame(&mut self) -> Result<Poll<'_>, CaptureError>;

    /// Hands every frame that is ready (waiting, as `next_frame` does, when
    /// none is) to `each`. Backends that can read a batch in one call
    /// override this; the per-frame cost of a capture library's "next
    /// packet" call is a large part of the work at high packet rates.
    fn dispatch(&mut self, each: &mut dyn FnMut(&Frame<'_>)) -> Result<Batch, CaptureError> {
        match self.next_frame()? {
            Poll::Frame(frame) => {
                each(&frame);
                Ok(Batch::Frames(1))
            }
            Poll::Idle => Ok(Batch::Idle),
            Poll::Closed => Ok(Batch::Closed),
        }
    }

    /// Hands what is ready to `engine`: frames (through [`Capture::dispatch`]
    /// and [`Engine::ingest`](crate::Engine::ingest)), and, for a source
    /// that counts in the kernel, the flow deltas read since the last call
    /// ([`Engine::ingest_deltas`](crate::Engine::ingest_deltas)).
    fn dispatch_into(&mut self, engine: &mut crate::Engine) -> Result<Batch, CaptureError> {
        self.dispatch(&mut |frame| engine.ingest(frame))
    }

    /// At each refresh and at the end of a collection: hands over what a
    /// kernel counter holds now (nothing for frame sources, whose frames
    /// are read as they come).
    fn flush_into(&mut self, engine: &mut crate::Engine) {
        let _ = engine;
    }

    /// How this source counts, for `--diagnostics` and the status bar.
    fn counting(&self) -> Counting {
        Counting::Packets
    }

    /// Kernel counters so far; zeros for sources that have none.
    fn stats(&mut self) -> Result<CaptureStats, CaptureError>;

    /// Gaps in the capture; none for sources that cannot lose their
    /// device (files, fakes).
    fn health(&self) -> CaptureHealth {
        CaptureHealth::default()
    }
}

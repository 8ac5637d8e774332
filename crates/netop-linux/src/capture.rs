//! Live capture through libpcap, and replay of recorded pcap files.
//!
//! Owns opening a device (defaults, immediate mode, cooked v2 framing on
//! "any"), turning libpcap's errors into [`CaptureError`] variants that name
//! the device, and handing frames to the core without copying. It does not
//! decode anything: the core reads the headers.

use std::path::Path;
use std::time::Duration;

use netop_core::{Batch, Capture, CaptureError, CaptureStats, Frame, LinkType, Poll};
use pcap::{Active, Linktype, Offline, PacketHeader};

mod dns_snap;
mod reopen;
pub mod user_filter;

pub use reopen::ReopeningCapture;

/// The pseudo-device that captures on every interface.
pub(crate) const ANY_DEVICE: &str = "any";
/// DLT_LINUX_SLL2: cooked capture v2, whose header carries the ifindex.
const DLT_LINUX_SLL2: i32 = 276;

/// How to open a live capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureOptions {
    /// Interface to capture on; `None` means every interface ("any").
    pub device: Option<String>,
    /// Bytes kept per frame: headers only, plus room for DNS answers.
    pub snaplen: i32,
    /// Kernel buffer in bytes, sized to absorb bursts between reads.
    pub buffer_size: i32,
    /// Longest wait of one [`Capture::next_frame`] call, in milliseconds.
    pub read_timeout_ms: i32,
    /// Keep port-53 packets whole (for the DNS observatory) while other
    /// frames are cut at `snaplen`; see `capture/dns_snap.rs`.
    pub whole_dns: bool,
}

impl Default for CaptureOptions {
    fn default() -> Self {
        CaptureOptions {
            device: None,
            snaplen: 256,
            buffer_size: 8 * 1024 * 1024,
            read_timeout_ms: 100,
            whole_dns: true,
        }
    }
}

/// A live libpcap capture on one device (or "any").
///
/// The handle is non-blocking and waits happen in our own `poll(2)` with
/// the read timeout: libpcap's TPACKET_V3 path ignores its own timeout
/// while no packet arrives, which would leave an idle capture (and the
/// deadline and Ctrl-C checks behind it) blocked for ever.
pub struct PcapCapture {
    cap: pcap::Capture<Active>,
    device: String,
    link: LinkType,
    ifindex: Option<u32>,
    timeout_ms: u16,
    /// The last read found nothing: wait before reading again.
    drained: bool,
    /// Frames read since the ring was last empty.
    batch: u32,
}

/// How long to let frames gather after the ring ran dry while traffic is
/// flowing. Immediate mode wakes netop for every few packets; this pause
/// lets a few hundred gather per wake-up under load (a fraction of the
/// system time), while keeping the delay far below the life of a
/// short-lived connection, which must still be looked up while it exists.
const GATHER: Duration = Duration::from_millis(1);
/// Frames handed over by one `dispatch`: under sustained load the ring is
/// never empty, and the caller must still get control back to see its
/// deadline and Ctrl-C.
const DISPATCH_MAX: usize = 512;

impl std::fmt::Debug for PcapCapture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PcapCapture")
            .field("device", &self.device)
            .field("link", &self.link)
            .field("ifindex", &self.ifindex)
            .finish_non_exhaustive()
    }
}

impl PcapCapture {
    /// Opens and activates a live capture.
    ///
    /// The device is checked before activation so that a typo yields
    /// [`CaptureError::NoSuchInterface`] rather than a libpcap message.
    pub fn open(opts: &CaptureOptions) -> Result<Self, CaptureError> {
        let device = opts
            .device
            .clone()
            .unwrap_or_else(|| ANY_DEVICE.to_string());
        let ifindex = check_device(&device)?;
        let inactive = pcap::Capture::from_device(device.as_str())
            .map_err(|e| map_pcap_error(&device, e))?
            .snaplen(if opts.whole_dns {
                opts.snaplen.max(dns_snap::DNS_SNAPLEN)
            } else {
                opts.snaplen
            })
            .buffer_size(opts.buffer_size)
            .timeout(opts.read_timeout_ms)
            .immediate_mode(true)
            .promisc(false);
        let mut cap = inactive.open().map_err(|e| map_pcap_error(&device, e))?;
        if device == ANY_DEVICE {
            use_sll2_if_available(&mut cap);
        }
        let cap = cap.setnonblock().map_err(|e| map_pcap_error(&device, e))?;
        if opts.whole_dns {
            let short = u32::try_from(opts.snaplen).unwrap_or(u32::MAX);
            if let Err(e) = dns_snap::attach(&cap, short) {
                tracing::warn!(error = %e, "cannot attach the DNS snap-length filter; every frame is kept at the DNS length");
            }
        }
        let link = LinkType::from_dlt(cap.get_datalink().0);
        tracing::debug!(%device, ?link, ?ifindex, "capture opened");
        Ok(PcapCapture {
            cap,
            device,
            link,
            ifindex,
            timeout_ms: u16::try_from(opts.read_timeout_ms.max(1)).unwrap_or(u16::MAX),
            drained: false,
            batch: 0,
        })
    }

    /// The device this capture reads from ("any" for all interfaces).
    pub fn device(&self) -> &str {
        &self.device
    }

    /// Framing of the frames this capture returns.
    pub fn link_type(&self) -> LinkType {
        self.link
    }
}

impl Capture for PcapCapture {
    fn next_frame(&mut self) -> Result<Poll<'_>, CaptureError> {
        let (link, ifindex) = (self.link, self.ifindex);
        self.wait_if_drained();
        match self.cap.next_packet() {
            Ok(packet) => {
                self.batch += 1;
                Ok(Poll::Frame(frame(
                    packet.header,
                    packet.data,
                    link,
                    ifindex,
                )))
            }
            Err(pcap::Error::TimeoutExpired) => {
                self.drained = true;
                Ok(Poll::Idle)
            }
            Err(pcap::Error::NoMorePackets) => Ok(Poll::Closed),
            Err(e) => Err(map_pcap_error(&self.device, e)),
        }
    }

    fn dispatch(&mut self, each: &mut dyn FnMut(&Frame<'_>)) -> Result<Batch, CaptureError> {
        let (link, ifindex) = (self.link, self.ifindex);
        self.wait_if_drained();
        let n = self
            .cap
            .dispatch(Some(DISPATCH_MAX), |packet| {
                each(&frame(packet.header, packet.data, link, ifindex))
            })
            .map_err(|e| map_pcap_error(&self.device, e))?;
        if n == 0 {
            self.drained = true;
            return Ok(Batch::Idle);
        }
        self.batch = self
            .batch
            .saturating_add(u32::try_from(n).unwrap_or(u32::MAX));
        Ok(Batch::Frames(n))
    }

    fn stats(&mut self) -> Result<CaptureStats, CaptureError> {
        let s = self
            .cap
            .stats()
            .map_err(|e| map_pcap_error(&self.device, e))?;
        Ok(CaptureStats {
            received: u64::from(s.received),
            dropped: u64::from(s.dropped),
            if_dropped: u64::from(s.if_dropped),
        })
    }
}

impl PcapCapture {
    /// After the ring ran dry: let frames gather if traffic is flowing,
    /// then wait for data (at most the read timeout).
    fn wait_if_drained(&mut self) {
        if self.drained {
            self.drained = false;
            if self.batch > 1 {
                std::thread::sleep(GATHER);
            }
            self.batch = 0;
            wait_readable(&self.cap, self.timeout_ms);
        }
    }
}

/// Waits until the capture has data or `timeout_ms` passes. A signal
/// (Ctrl-C) ends the wait early, which is what the caller wants.
fn wait_readable(cap: &pcap::Capture<Active>, timeout_ms: u16) {
    use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

    let raw = cap.as_raw_fd();
    // SAFETY: the descriptor belongs to `cap`, which outlives this call.
    let fd = unsafe { BorrowedFd::borrow_raw(raw) };
    let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
    if let Err(errno) = poll(&mut fds, PollTimeout::from(timeout_ms)) {
        tracing::trace!(%errno, "poll on the capture ended early");
    }
}

/// Replays a recorded pcap file; [`Poll::Closed`] at its end.
pub struct PcapFileCapture {
    cap: pcap::Capture<Offline>,
    path: String,
    link: LinkType,
}

impl std::fmt::Debug for PcapFileCapture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PcapFileCapture")
            .field("path", &self.path)
            .field("link", &self.link)
            .finish_non_exhaustive()
    }
}

impl PcapFileCapture {
    /// Opens a pcap (or pcapng) file for replay.
    pub fn open(path: &Path) -> Result<Self, CaptureError> {
        let name = path.display().to_string();
        let cap = pcap::Capture::from_file(path).map_err(|e| CaptureError::Failed {
            device: name.clone(),
            message: e.to_string(),
        })?;
        let link = LinkType::from_dlt(cap.get_datalink().0);
        Ok(PcapFileCapture {
            cap,
            path: name,
            link,
        })
    }

    /// Framing of the file's frames.
    pub fn link_type(&self) -> LinkType {
        self.link
    }
}

impl Capture for PcapFileCapture {
    fn next_frame(&mut self) -> Result<Poll<'_>, CaptureError> {
        let link = self.link;
        match self.cap.next_packet() {
            Ok(packet) => Ok(Poll::Frame(frame(packet.header, packet.data, link, None))),
            Err(pcap::Error::NoMorePackets) => Ok(Poll::Closed),
            Err(pcap::Error::TimeoutExpired) => Ok(Poll::Idle),
            Err(e) => Err(CaptureError::Failed {
                device: self.path.clone(),
                message: e.to_string(),
            }),
        }
    }

    /// Files have no kernel counters.
    fn stats(&mut self) -> Result<CaptureStats, CaptureError> {
        Ok(CaptureStats::default())
    }
}

/// Names of the devices libpcap can capture on, for "unknown interface"
/// messages. Empty when libpcap cannot list them.
pub fn list_interfaces() -> Vec<String> {
    match pcap::Device::list() {
        Ok(devices) => devices.into_iter().map(|d| d.name).collect(),
        Err(err) => {
            tracing::debug!(%err, "pcap_findalldevs failed");
            Vec::new()
        }
    }
}

fn frame<'a>(
    header: &PacketHeader,
    data: &'a [u8],
    link: LinkType,
    ifindex: Option<u32>,
) -> Frame<'a> {
    let secs = u64::try_from(header.ts.tv_sec).unwrap_or(0);
    let micros = u64::try_from(header.ts.tv_usec).unwrap_or(0);
    Frame {
        ts: Duration::from_secs(secs) + Duration::from_micros(micros),
        ifindex,
        link,
        orig_len: header.len,
        data,
    }
}

/// Checks that `device` exists; returns its ifindex when it is a network
/// interface. Devices libpcap knows that are not interfaces (e.g. "any",
/// "nflog") pass with no index.
fn check_device(device: &str) -> Result<Option<u32>, CaptureError> {
    if device == ANY_DEVICE {
        return Ok(None);
    }
    if let Ok(index) = nix::net::if_::if_nametoindex(device) {
        return Ok(Some(index));
    }
    if list_interfaces().iter().any(|name| name == device) {
        return Ok(None);
    }
    Err(CaptureError::NoSuchInterface {
        device: device.to_string(),
    })
}

/// Switches an "any" capture to cooked v2 so frames carry their ifindex.
/// Keeps cooked v1 when libpcap is too old to offer v2.
fn use_sll2_if_available(cap: &mut pcap::Capture<Active>) {
    let offered = match cap.list_datalinks() {
        Ok(links) => links.iter().any(|l| l.0 == DLT_LINUX_SLL2),
        Err(err) => {
            tracing::debug!(%err, "cannot list datalinks");
            false
        }
    };
    if !offered {
        tracing::debug!("libpcap has no LINUX_SLL2; keeping LINUX_SLL");
        return;
    }
    if let Err(err) = cap.set_datalink(Linktype(DLT_LINUX_SLL2)) {
        tracing::debug!(%err, "cannot switch to LINUX_SLL2");
    }
}

/// Maps a libpcap error to the variant the frontend can explain.
fn map_pcap_error(device: &str, err: pcap::Error) -> CaptureError {
    let message = err.to_string();
    let device = device.to_string();
    match classify_pcap_message(&message) {
        PcapErrorKind::Permission => CaptureError::PermissionDenied { device },
        PcapErrorKind::NoDevice => CaptureError::NoSuchInterface { device },
        PcapErrorKind::Other => CaptureError::Failed { device, message },
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PcapErrorKind {
    Permission,
    NoDevice,
    Other,
}

/// libpcap reports only a message through the Rust binding, so the kind is
/// recovered from the texts of PCAP_ERROR_PERM_DENIED and
/// PCAP_ERROR_NO_SUCH_DEVICE (and the errno strings behind them).
fn classify_pcap_message(message: &str) -> PcapErrorKind {
    let lower = message.to_ascii_lowercase();
    if lower.contains("permission") || lower.contains("operation not permitted") {
        PcapErrorKind::Permission
    } else if lower.contains("no such device") {
        PcapErrorKind::NoDevice
    } else {
        PcapErrorKind::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_libpcap_messages() {
        let perm = "lo: You don't have permission to perform this capture on that device \
                    (socket: Operation not permitted)";
        assert_eq!(classify_pcap_message(perm), PcapErrorKind::Permission);
        assert_eq!(
            classify_pcap_message("socket: Operation not permitted"),
            PcapErrorKind::Permission
        );
        assert_eq!(
            classify_pcap_message("No such device exists"),
            PcapErrorKind::NoDevice
        );
        assert_eq!(
            classify_pcap_message("eth9: SIOCGIFINDEX: No such device"),
            PcapErrorKind::NoDevice
        );
        assert_eq!(
            classify_pcap_message("can't mmap rx ring: Cannot allocate memory"),
            PcapErrorKind::Other
        );
    }

    #[test]
    fn defaults_match_the_documented_ones() {
        let o = CaptureOptions::default();
        assert_eq!(o.device, None);
        assert_eq!(
            (o.snaplen, o.buffer_size, o.read_timeout_ms),
            (256, 8 << 20, 100)
        );
    }

    #[test]
    fn unknown_device_is_reported_before_activation() {
        let err = check_device("netop-no-such-if0").expect_err("must not exist");
        assert!(
            matches!(err, CaptureError::NoSuchInterface { device } if device == "netop-no-such-if0")
        );
        assert_eq!(check_device("any").ok(), Some(None));
        assert!(matches!(check_device("lo"), Ok(Some(i)) if i > 0));
    }
}

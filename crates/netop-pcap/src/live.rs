//! A live libpcap capture: one device, a non-blocking handle read in
//! batches behind our own `poll(2)`.
//!
//! Owns opening a device with the options every OS has (snap length,
//! buffer, immediate mode), the [`Platform`]'s own settings around
//! activation, and the waiting: libpcap's read timeout is not enough
//! (below), and immediate mode alone wakes netop for every few packets.

use std::time::Duration;

use netop_core::{Batch, Capture, CaptureError, CaptureStats, Frame, LinkType, Poll};
use pcap::Active;

use crate::device::check_device;
use crate::error::map_pcap_error;
use crate::frame;
use crate::platform::Platform;

/// How to open a live capture: what libpcap offers on every OS. What one
/// OS adds comes from its [`Platform`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureOptions {
    /// The device to open: an interface, or a pseudo-device of the OS
    /// (Linux's `any`).
    pub device: String,
    /// Bytes libpcap keeps per frame.
    pub snaplen: i32,
    /// Kernel buffer in bytes, sized to absorb bursts between reads.
    pub buffer_size: i32,
    /// Longest wait of one [`Capture::next_frame`] call, in milliseconds.
    pub read_timeout_ms: i32,
    /// Hand each packet over as it arrives (`pcap_set_immediate_mode`)
    /// rather than when the kernel's buffer block fills: short-lived
    /// sockets must be looked up while they exist.
    pub immediate: bool,
    /// Promiscuous mode: frames for other hosts too. netop counts this
    /// host's traffic, so off by default.
    pub promisc: bool,
}

impl CaptureOptions {
    /// netop's defaults for `device`: headers only (256 bytes), a 4 MiB
    /// buffer, 100 ms reads, immediate mode, not promiscuous.
    pub fn new(device: impl Into<String>) -> Self {
        CaptureOptions {
            device: device.into(),
            snaplen: 256,
            buffer_size: 4 * 1024 * 1024,
            read_timeout_ms: 100,
            immediate: true,
            promisc: false,
        }
    }
}

/// A live libpcap capture on one device (or a pseudo-device).
///
/// The handle is non-blocking and waits happen in our own `poll(2)` with
/// the read timeout: libpcap's TPACKET_V3 path on Linux ignores its own
/// timeout while no packet arrives, which would leave an idle capture
/// (and the deadline and Ctrl-C checks behind it) blocked for ever. A BPF
/// device (macOS) in immediate mode is readable as soon as a packet is
/// there, so the same wait serves both.
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
    /// Opens and activates a live capture, with `platform`'s settings.
    ///
    /// The device (unless the platform calls it a pseudo-device) is
    /// checked before activation so that a typo yields
    /// [`CaptureError::NoSuchInterface`] rather than a libpcap message.
    pub fn open(opts: &CaptureOptions, platform: &dyn Platform) -> Result<Self, CaptureError> {
        let device = opts.device.clone();
        let ifindex = if platform.is_pseudo_device(&device) {
            None
        } else {
            check_device(&device)?
        };
        let inactive = pcap::Capture::from_device(device.as_str())
            .map_err(|e| map_pcap_error(&device, e))?
            .snaplen(opts.snaplen)
            .buffer_size(opts.buffer_size)
            .timeout(opts.read_timeout_ms)
            .immediate_mode(opts.immediate)
            .promisc(opts.promisc);
        let inactive = platform.configure(inactive, &device);
        let mut cap = inactive.open().map_err(|e| map_pcap_error(&device, e))?;
        platform.activated(&mut cap, &device);
        let cap = cap.setnonblock().map_err(|e| map_pcap_error(&device, e))?;
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
    use std::os::fd::AsFd;

    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

    let mut fds = [PollFd::new(cap.as_fd(), PollFlags::POLLIN)];
    if let Err(errno) = poll(&mut fds, PollTimeout::from(timeout_ms)) {
        tracing::trace!(%errno, "poll on the capture ended early");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_documented_ones() {
        let o = CaptureOptions::new("eth0");
        assert_eq!(o.device, "eth0");
        assert_eq!(
            (o.snaplen, o.buffer_size, o.read_timeout_ms),
            (256, 4 << 20, 100)
        );
        assert!(o.immediate && !o.promisc);
    }
}

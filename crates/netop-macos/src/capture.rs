//! libpcap capture on macOS: the `pktap` pseudo-device (DLT_PKTAP, every
//! interface, a PKTAP header per frame) or one interface's BPF device,
//! and capture files for `--replay`. Frames go to the core as they are:
//! the core decodes PKTAP and every inner link type. Built on macOS only.
//!
//! To move onto the shared `netop-pcap` crate once it is on main.

use std::path::Path;
use std::time::Duration;

use netop_core::{Capture, CaptureError, CaptureStats, Frame, LinkType, Poll};
use pcap::{Active, Offline, PacketHeader};

/// Snap length: headers, and DNS messages whole.
const SNAPLEN: i32 = 512;
/// Read timeout: the capture loop notices its deadline within this.
const READ_TIMEOUT_MS: i32 = 100;

fn frame<'a>(h: &PacketHeader, data: &'a [u8], link: LinkType, ifindex: Option<u32>) -> Frame<'a> {
    let ts = Duration::from_secs(u64::try_from(h.ts.tv_sec).unwrap_or(0))
        + Duration::from_micros(u64::try_from(h.ts.tv_usec).unwrap_or(0));
    Frame {
        ts,
        ifindex,
        link,
        orig_len: h.len,
        data,
    }
}

/// A live capture on one libpcap device.
pub struct LiveCapture {
    cap: pcap::Capture<Active>,
    device: String,
    link: LinkType,
    ifindex: Option<u32>,
}

impl std::fmt::Debug for LiveCapture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveCapture")
            .field("device", &self.device)
            .field("link", &self.link)
            .finish_non_exhaustive()
    }
}

impl LiveCapture {
    /// Opens `device` (`pktap` or an interface) with a kernel buffer of
    /// `buffer_size` bytes; `ifindex` is the interface's (none for pktap,
    /// whose headers name it). Errors carry libpcap's message.
    pub fn open(device: &str, buffer_size: i32, ifindex: Option<u32>) -> Result<Self, String> {
        let cap = pcap::Capture::from_device(device)
            .map_err(|e| e.to_string())?
            .snaplen(SNAPLEN)
            .buffer_size(buffer_size)
            .timeout(READ_TIMEOUT_MS)
            .immediate_mode(true)
            .promisc(false)
            .open()
            .map_err(|e| e.to_string())?;
        let link = LinkType::from_dlt(cap.get_datalink().0);
        tracing::debug!(device, ?link, "capture opened");
        Ok(LiveCapture {
            cap,
            device: device.to_string(),
            link,
            ifindex,
        })
    }
}

impl Capture for LiveCapture {
    fn next_frame(&mut self) -> Result<Poll<'_>, CaptureError> {
        let (link, ifindex) = (self.link, self.ifindex);
        match self.cap.next_packet() {
            Ok(p) => Ok(Poll::Frame(frame(p.header, p.data, link, ifindex))),
            Err(pcap::Error::TimeoutExpired) => Ok(Poll::Idle),
            Err(pcap::Error::NoMorePackets) => Ok(Poll::Closed),
            Err(e) => Err(CaptureError::Failed {
                device: self.device.clone(),
                message: e.to_string(),
            }),
        }
    }

    fn stats(&mut self) -> Result<CaptureStats, CaptureError> {
        let s = self.cap.stats().map_err(|e| CaptureError::Failed {
            device: self.device.clone(),
            message: e.to_string(),
        })?;
        Ok(CaptureStats {
            received: u64::from(s.received),
            dropped: u64::from(s.dropped),
            if_dropped: u64::from(s.if_dropped),
        })
    }
}

/// A recorded capture file.
pub struct FileCapture {
    cap: pcap::Capture<Offline>,
    path: String,
    link: LinkType,
}

impl std::fmt::Debug for FileCapture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileCapture")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl FileCapture {
    pub fn open(path: &Path) -> Result<Self, String> {
        let cap = pcap::Capture::from_file(path).map_err(|e| e.to_string())?;
        let link = LinkType::from_dlt(cap.get_datalink().0);
        Ok(FileCapture {
            cap,
            path: path.display().to_string(),
            link,
        })
    }
}

impl Capture for FileCapture {
    fn next_frame(&mut self) -> Result<Poll<'_>, CaptureError> {
        let link = self.link;
        match self.cap.next_packet() {
            Ok(p) => Ok(Poll::Frame(frame(p.header, p.data, link, None))),
            Err(pcap::Error::NoMorePackets) => Ok(Poll::Closed),
            Err(pcap::Error::TimeoutExpired) => Ok(Poll::Idle),
            Err(e) => Err(CaptureError::Failed {
                device: self.path.clone(),
                message: e.to_string(),
            }),
        }
    }

    fn stats(&mut self) -> Result<CaptureStats, CaptureError> {
        Ok(CaptureStats::default())
    }
}

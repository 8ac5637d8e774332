//! Replay of recorded pcap (and pcapng) files: the frames as they were
//! captured, with the file's link type, then [`Poll::Closed`].

use std::path::Path;

use netop_core::{Capture, CaptureError, CaptureStats, LinkType, Poll};
use pcap::Offline;

use crate::frame;

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

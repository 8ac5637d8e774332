//! Linux's part of the libpcap capture; the capture itself (live, file,
//! reopening) is `netop-pcap`'s, shared with the macOS backend.
//!
//! Linux adds three things through [`LinuxPlatform`]: the `any`
//! pseudo-device switched to cooked v2 framing, so each frame carries its
//! ifindex; a kernel socket filter that keeps DNS messages whole under
//! the short snap length (`capture/dns_snap.rs`, which uses Linux's
//! ancillary loads); and `any` counted as always up while a lost capture
//! waits. It decodes nothing: the core reads the headers.

use netop_core::CaptureError;
use netop_pcap::pcap::{self, Active, Linktype};
use netop_pcap::{LinkState, Platform, Posix};

pub use netop_pcap::{list_interfaces, PcapCapture, PcapFileCapture, ReopeningCapture};

pub(crate) mod dns_snap;

/// The pseudo-device that captures on every interface.
pub const ANY_DEVICE: &str = "any";
/// DLT_LINUX_SLL2: cooked capture v2, whose header carries the ifindex.
const DLT_LINUX_SLL2: i32 = 276;

/// How to open a live capture on Linux.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureOptions {
    /// Interface to capture on; `None` means every interface ("any").
    pub device: Option<String>,
    /// Bytes kept per frame: headers only, plus room for DNS answers.
    pub snaplen: i32,
    /// Kernel buffer in bytes, sized to absorb bursts between reads.
    pub buffer_size: i32,
    /// Longest wait of one `Capture::next_frame` call, in milliseconds.
    pub read_timeout_ms: i32,
    /// Keep port-53 packets whole (for the DNS observatory) while other
    /// frames are cut at `snaplen`; see `capture/dns_snap.rs`.
    pub whole_dns: bool,
}

impl Default for CaptureOptions {
    fn default() -> Self {
        let shared = netop_pcap::CaptureOptions::new(ANY_DEVICE);
        CaptureOptions {
            device: None,
            snaplen: shared.snaplen,
            buffer_size: shared.buffer_size,
            read_timeout_ms: shared.read_timeout_ms,
            whole_dns: true,
        }
    }
}

impl CaptureOptions {
    /// libpcap's options, and the Linux settings that go with them.
    fn split(&self) -> (netop_pcap::CaptureOptions, LinuxPlatform) {
        let device = self
            .device
            .clone()
            .unwrap_or_else(|| ANY_DEVICE.to_string());
        let short = u32::try_from(self.snaplen).unwrap_or(u32::MAX);
        let options = netop_pcap::CaptureOptions {
            // With DNS kept whole the kernel filter cuts every other
            // frame at `snaplen`; libpcap must not cut what it kept.
            snaplen: if self.whole_dns {
                self.snaplen.max(dns_snap::DNS_SNAPLEN)
            } else {
                self.snaplen
            },
            buffer_size: self.buffer_size,
            read_timeout_ms: self.read_timeout_ms,
            ..netop_pcap::CaptureOptions::new(device)
        };
        let platform = LinuxPlatform {
            dns_short_snap: self.whole_dns.then_some(short),
        };
        (options, platform)
    }
}

/// Opens a live capture (no reopening: tests and tools).
pub fn open_live(opts: &CaptureOptions) -> Result<PcapCapture, CaptureError> {
    let (options, platform) = opts.split();
    PcapCapture::open(&options, &platform)
}

/// Opens the live capture a run uses: it reopens its device when lost.
pub fn open_reopening(opts: &CaptureOptions) -> Result<ReopeningCapture, CaptureError> {
    let (options, platform) = opts.split();
    ReopeningCapture::open(&options, Box::new(platform))
}

/// Linux's settings of a libpcap handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinuxPlatform {
    /// With the DNS observatory on: the snap length of frames that are
    /// not DNS, applied by a kernel filter.
    dns_short_snap: Option<u32>,
}

impl Platform for LinuxPlatform {
    fn activated(&self, cap: &mut pcap::Capture<Active>, device: &str) {
        if device == ANY_DEVICE {
            use_sll2_if_available(cap);
        }
        if let Some(short) = self.dns_short_snap {
            if let Err(e) = dns_snap::attach(&*cap, short) {
                tracing::warn!(error = %e, "cannot attach the DNS snap-length filter; every frame is kept at the DNS length");
            }
        }
    }

    fn link_state(&self, device: &str) -> LinkState {
        if device == ANY_DEVICE {
            return LinkState {
                index: None,
                up: true,
            };
        }
        Posix.link_state(device)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_documented_ones() {
        let o = CaptureOptions::default();
        assert_eq!(o.device, None);
        assert_eq!(
            (o.snaplen, o.buffer_size, o.read_timeout_ms, o.whole_dns),
            (256, 4 << 20, 100, true)
        );
    }

    #[test]
    fn whole_dns_raises_libpcaps_snap_length_and_filters_the_rest() {
        let (options, platform) = CaptureOptions::default().split();
        assert_eq!(options.device, ANY_DEVICE);
        assert_eq!(options.snaplen, dns_snap::DNS_SNAPLEN);
        assert_eq!(platform.dns_short_snap, Some(256));
        let (options, platform) = CaptureOptions {
            device: Some("lo".into()),
            whole_dns: false,
            ..CaptureOptions::default()
        }
        .split();
        assert_eq!((options.device.as_str(), options.snaplen), ("lo", 256));
        assert_eq!(platform.dns_short_snap, None);
    }

    #[test]
    fn any_is_always_up_and_others_are_read() {
        let linux = LinuxPlatform {
            dns_short_snap: None,
        };
        assert!(linux.link_state("any").usable());
        assert!(!linux.link_state("netop-no-such-if0").usable());
        assert!(linux.link_state("lo").index.is_some());
    }
}

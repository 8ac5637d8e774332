//! netop's libpcap capture, shared by the backends of every OS that
//! captures through libpcap (Linux: `any` and packet sockets; macOS: BPF
//! devices and pktap).
//!
//! Owns what is the same everywhere: opening a device with the options
//! libpcap has on every OS (snap length, buffer, immediate mode), the
//! non-blocking handle read in batches behind our own `poll(2)`, the
//! reopening of a lost device with backoff, replay of pcap files, and
//! turning libpcap's errors into [`CaptureError`] variants that name the
//! device. What only one OS has (Linux's `any` with cooked v2 framing, a
//! kernel socket filter, macOS's pktap) comes in through [`Platform`],
//! which each backend implements once. It decodes nothing: the core
//! reads the headers.
//!
//! [`CaptureError`]: netop_core::CaptureError

mod device;
mod error;
mod file;
mod live;
mod platform;
mod reopen;
mod user_filter;

pub use device::list_interfaces;
pub use file::PcapFileCapture;
pub use live::{CaptureOptions, PcapCapture};
/// libpcap's binding, for [`Platform`] implementations.
pub use pcap;
pub use platform::{LinkState, Platform, Posix};
pub use reopen::ReopeningCapture;
/// `--bpf`: check an expression, and filter a capture with it.
pub use user_filter::{check as check_filter, filtered, Filtered};

use std::time::Duration;

use netop_core::{Frame, LinkType};
use pcap::PacketHeader;

/// The core's view of one libpcap packet, without copying it.
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

#[cfg(test)]
mod tests {
    /// The frontend moves the capture onto its own thread.
    #[test]
    fn captures_are_send() {
        fn send<T: Send>() {}
        send::<crate::PcapCapture>();
        send::<crate::PcapFileCapture>();
        send::<crate::ReopeningCapture>();
    }
}

//! The seam between the shared capture and one operating system.
//!
//! libpcap opens devices the same way everywhere, but some choices exist
//! on one OS only: Linux's `any` pseudo-device and its cooked v2 framing,
//! a kernel socket filter with Linux's ancillary loads, macOS's pktap
//! headers. A backend implements [`Platform`] once with those; the capture
//! calls it on every handle it opens, and while a lost device is away.
//! [`Posix`] is the plain implementation: no changes to the handle, and
//! the interface's state from `getifaddrs(3)`.

use nix::net::if_::InterfaceFlags;
use pcap::{Active, Capture, Inactive};

/// What the system says about a device: its index and whether it is up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkState {
    /// The interface index; `None` when there is no interface by that name.
    pub index: Option<u32>,
    /// Present and administratively up (a pseudo-device that is always
    /// there, such as Linux's `any`, counts as up).
    pub up: bool,
}

impl LinkState {
    /// Worth an attempt to reopen now, outside the backoff: up (only a
    /// present device is up).
    pub fn usable(self) -> bool {
        self.up
    }
}

/// What one operating system adds to a live capture.
pub trait Platform: std::fmt::Debug + Send {
    /// Settings libpcap has on this OS only (e.g. macOS's
    /// `want_pktap`), before the handle is activated. By default none.
    fn configure(&self, inactive: Capture<Inactive>, _device: &str) -> Capture<Inactive> {
        inactive
    }

    /// Adjusts a freshly activated handle before it turns non-blocking:
    /// its link type, a kernel filter. Failures here are the platform's
    /// to log; the capture goes on with the handle as it is. By default
    /// nothing.
    fn activated(&self, _cap: &mut Capture<Active>, _device: &str) {}

    /// The device's state now; asked while a lost device is away, every
    /// read timeout, so a device that comes back is reopened at once.
    fn link_state(&self, device: &str) -> LinkState;

    /// A pseudo-device of this OS that is no interface and that libpcap
    /// may not list (macOS's `pktap`): opened without the check that the
    /// device exists. By default none.
    fn is_pseudo_device(&self, _device: &str) -> bool {
        false
    }
}

/// A platform with nothing of its own: the handle as libpcap opens it,
/// and the device's state from `if_nametoindex(3)` and the `IFF_UP` flag
/// `getifaddrs(3)` reports (POSIX, on Linux and macOS alike).
#[derive(Debug, Default, Clone, Copy)]
pub struct Posix;

impl Platform for Posix {
    fn link_state(&self, device: &str) -> LinkState {
        let index = nix::net::if_::if_nametoindex(device).ok();
        let up = index.is_some()
            && nix::ifaddrs::getifaddrs().is_ok_and(|mut addrs| {
                addrs
                    .any(|a| a.interface_name == device && a.flags.contains(InterfaceFlags::IFF_UP))
            });
        LinkState { index, up }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The host's loopback interface, whatever the OS calls it.
    pub(crate) fn loopback() -> String {
        nix::ifaddrs::getifaddrs()
            .expect("getifaddrs")
            .find(|a| a.flags.contains(InterfaceFlags::IFF_LOOPBACK))
            .expect("a loopback interface")
            .interface_name
    }

    #[test]
    fn link_state_of_missing_and_present_devices() {
        let missing = Posix.link_state("netop-no-such-if0");
        assert_eq!(
            missing,
            LinkState {
                index: None,
                up: false
            }
        );
        assert!(!missing.usable());
        let lo = Posix.link_state(&loopback());
        assert!(lo.index.is_some(), "{lo:?}");
        assert!(lo.usable(), "{lo:?}");
    }
}

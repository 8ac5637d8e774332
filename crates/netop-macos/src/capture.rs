//! What macOS adds to the shared libpcap capture (`netop-pcap`): the
//! `pktap` pseudo-device, which is no interface (opened without the
//! existence check, always "up" while the capture heals), and the plain
//! POSIX link state for real interfaces. Frames go to the core as they
//! are: it decodes PKTAP and every inner link type.

use netop_pcap::{LinkState, Platform, Posix};

use crate::plan::PKTAP_DEVICE;

/// The macOS [`Platform`].
#[derive(Debug, Default, Clone, Copy)]
pub struct MacPlatform;

impl Platform for MacPlatform {
    fn link_state(&self, device: &str) -> LinkState {
        if device == PKTAP_DEVICE {
            return LinkState {
                index: None,
                up: true,
            };
        }
        Posix.link_state(device)
    }

    fn is_pseudo_device(&self, device: &str) -> bool {
        device == PKTAP_DEVICE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pktap_is_a_pseudo_device_that_is_always_up() {
        assert!(MacPlatform.is_pseudo_device("pktap"));
        assert!(!MacPlatform.is_pseudo_device("en0"));
        assert_eq!(
            MacPlatform.link_state("pktap"),
            LinkState {
                index: None,
                up: true
            }
        );
        let missing = MacPlatform.link_state("netop-no-such-if0");
        assert_eq!((missing.index, missing.up), (None, false));
    }
}

//! Which devices libpcap can open: checked before opening, so that a typo
//! is reported as an unknown interface rather than as libpcap's message.

use netop_core::CaptureError;

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

/// Checks that `device` exists; returns its ifindex when it is a network
/// interface. Devices libpcap knows that are not interfaces (Linux's
/// "any" and "nflog", macOS's "pktap") pass with no index.
pub(crate) fn check_device(device: &str) -> Result<Option<u32>, CaptureError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::tests::loopback;

    #[test]
    fn unknown_device_is_reported_before_activation() {
        let err = check_device("netop-no-such-if0").expect_err("must not exist");
        assert!(
            matches!(err, CaptureError::NoSuchInterface { device } if device == "netop-no-such-if0")
        );
        assert!(matches!(check_device(&loopback()), Ok(Some(i)) if i > 0));
    }
}

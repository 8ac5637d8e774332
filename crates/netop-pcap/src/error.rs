//! libpcap's errors as the core's [`CaptureError`] variants, which the
//! frontend can explain (permission, unknown device) with their device.

use netop_core::CaptureError;

/// Maps a libpcap error to the variant the frontend can explain.
pub(crate) fn map_pcap_error(device: &str, err: pcap::Error) -> CaptureError {
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
}

//! What a run on macOS does, decided without touching the OS: which
//! capture (PKTAP or one interface's BPF device) and why, what a libpcap
//! error means to the user, and what `--diagnostics` says. The
//! macOS-only factory (`backend.rs`) asks the system and follows this.

use netop_core::{BackendOptions, OpenError};

use crate::system::System;

/// libpcap's pseudo-device that captures every interface with a PKTAP
/// header per packet (Apple's libpcap).
pub const PKTAP_DEVICE: &str = "pktap";

/// Where packets come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Every interface through `pktap`: each packet names its process.
    Pktap,
    /// One interface's BPF device (EN10MB, NULL/LOOP for `lo0` and
    /// `utun*`, RAW): owners from the socket tables.
    Interface(String),
}

impl Source {
    /// The libpcap device to open.
    pub fn device(&self) -> &str {
        match self {
            Source::Pktap => PKTAP_DEVICE,
            Source::Interface(name) => name,
        }
    }
}

/// The capture a run would use, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub source: Source,
    pub why: String,
}

/// Decides the capture: PKTAP on every interface unless one is named.
/// PKTAP needs root; a BPF device needs root or read access to
/// `/dev/bpf*` (the `access_bpf` group of Wireshark's ChmodBPF), which
/// only opening it tells, so without root that is tried and its error
/// explained by [`open_error`].
pub fn plan(options: &BackendOptions, root: bool) -> Result<Plan, OpenError> {
    match &options.interface {
        Some(name) => Ok(Plan {
            source: Source::Interface(name.clone()),
            why: format!("BPF device on {name} (--interface given)"),
        }),
        None if root => Ok(Plan {
            source: Source::Pktap,
            why: "PKTAP on every interface (each packet names its process)".to_string(),
        }),
        None => Err(OpenError::Privileges),
    }
}

/// Checks a named interface against the host's.
pub fn check_interface(name: &str, available: Vec<String>) -> Result<(), OpenError> {
    if available.iter().any(|a| a == name) {
        Ok(())
    } else {
        Err(OpenError::UnknownInterface {
            name: name.to_string(),
            available,
        })
    }
}

/// What a libpcap error opening `device` means: no permission on the BPF
/// devices, every BPF device busy (the guide's `cannot open BPF device`),
/// an interface that does not exist, or something else.
pub fn open_error(device: &str, message: &str, available: Vec<String>) -> OpenError {
    let lower = message.to_ascii_lowercase();
    if lower.contains("permission denied") || lower.contains("operation not permitted") {
        OpenError::Privileges
    } else if lower.contains("busy") || lower.contains("no devices found") {
        OpenError::Failed(format!(
            "cannot open BPF device: every /dev/bpf* is in use ({message}); close Wireshark, \
             tcpdump or other capture tools"
        ))
    } else if lower.contains("no such device")
        || lower.contains("doesn't exist")
        || lower.contains("not configured")
    {
        OpenError::UnknownInterface {
            name: device.to_string(),
            available,
        }
    } else {
        OpenError::Failed(format!("cannot capture on {device}: {message}"))
    }
}

/// `--diagnostics`: the capture and owner mode netop would use here, and
/// why, one fact a line.
pub fn diagnostics(system: &mut dyn System, options: &BackendOptions) -> Vec<String> {
    let root = system.euid() == 0;
    let mut lines = Vec::new();
    lines.push(match plan(options, root) {
        Ok(plan) => format!("capture: {}", plan.why),
        Err(_) => "capture: not permitted (PKTAP on every interface needs root: sudo netop; \
                   with --interface, root or read access to /dev/bpf*, e.g. the access_bpf group)"
            .to_string(),
    });
    lines.push(if root {
        "other users' processes: visible (root)".to_string()
    } else {
        "other users' processes: not visible (libproc shows only your own without root); \
         their sockets stay unknown"
            .to_string()
    });
    let owners = match &options.interface {
        None if root => "from each packet's PKTAP header; the socket tables (pcblist sysctls) \
                         and libproc for the rest"
            .to_string(),
        _ => "polling (the pcblist sysctls and libproc's socket descriptors)".to_string(),
    };
    lines.push(format!("socket owners: {owners}"));
    lines
}

//! What a run on macOS does, decided without touching the OS: which
//! capture (PKTAP, or BPF devices: every interface's or one) and why,
//! what a libpcap error means to the user, and what `--diagnostics`
//! says. The macOS-only factory (`backend.rs`) asks the system and
//! follows this.

use netop_core::{BackendOptions, InterfaceInfo, OpenError};

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
    /// Every interface, each through its own BPF device (`multi.rs`):
    /// when PKTAP is not possible.
    AllInterfaces,
}

impl Source {
    /// The libpcap device to open.
    pub fn device(&self) -> &str {
        match self {
            Source::Pktap => PKTAP_DEVICE,
            Source::Interface(name) => name,
            Source::AllInterfaces => "every interface",
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
/// PKTAP needs root; without it every interface is read through its own
/// BPF device, which needs read access to `/dev/bpf*` (the `access_bpf`
/// group of Wireshark's ChmodBPF): only opening them tells, so that is
/// tried and its error explained by [`open_error`].
pub fn plan(options: &BackendOptions, root: bool) -> Plan {
    match &options.interface {
        Some(name) => Plan {
            source: Source::Interface(name.clone()),
            why: format!("BPF device on {name} (--interface given)"),
        },
        None if root => Plan {
            source: Source::Pktap,
            why: "PKTAP on every interface (each packet names its process)".to_string(),
        },
        None => all_interfaces("PKTAP needs root"),
    }
}

/// Every interface through BPF devices, and why PKTAP is not used.
pub fn all_interfaces(because: &str) -> Plan {
    Plan {
        source: Source::AllInterfaces,
        why: format!(
            "a BPF device per interface ({because}); owners from the socket tables, \
             needs root or read access to /dev/bpf* (the access_bpf group)"
        ),
    }
}

/// The interfaces to read when reading every one: up, with an address
/// (the many idle pseudo-interfaces of a Mac, awdl0, llw0, anpi*, have
/// none).
pub fn capture_devices(interfaces: &[InterfaceInfo]) -> Vec<String> {
    interfaces
        .iter()
        .filter(|i| i.up && !i.addrs.is_empty())
        .map(|i| i.name.clone())
        .collect()
}

/// Each of `n` handles' read timeout, so a round over all of them that
/// finds nothing still ends within about `total_ms`.
pub fn read_timeout_each(total_ms: i32, n: usize) -> i32 {
    let n = i32::try_from(n.max(1)).unwrap_or(i32::MAX);
    (total_ms / n).max(5)
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
    lines.push(format!("capture: {}", plan(options, root).why));
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

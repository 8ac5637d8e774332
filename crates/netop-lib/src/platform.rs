//! The library's one choice of backend per OS: the backend crates share a
//! factory (`open`, `host_interfaces`; see `netop_core::backend`), so
//! picking one is a single `use`. The binary's `platform.rs` makes the
//! same choice for what only the command line needs (confinement, the
//! service user, replays).

use netop_core::{Backend, BackendOptions, HostInterfaces, OpenError};

#[cfg(target_os = "linux")]
use netop_linux as os;
#[cfg(target_os = "macos")]
use netop_macos as os;
#[cfg(not(any(target_os = "linux", target_os = "macos")))]
use unsupported as os;

/// Opens this OS's live backend.
pub fn open(options: &BackendOptions) -> Result<Backend, OpenError> {
    os::open(options)
}

/// The host's interfaces, readable without privileges.
pub fn host_interfaces() -> Box<dyn HostInterfaces> {
    os::host_interfaces()
}

/// How to get the capture privileges on this OS, for the one-line
/// message of [`crate::Error::PermissionDenied`].
#[cfg(target_os = "linux")]
pub fn privileges_fix() -> String {
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "the program".to_string());
    format!("run as root (sudo), or grant capture capabilities: sudo setcap cap_net_raw,cap_net_admin=eip {exe}")
}

/// macOS: PKTAP and the BPF devices need root.
#[cfg(not(target_os = "linux"))]
pub fn privileges_fix() -> String {
    "run as root (sudo)".to_string()
}

/// The parent of `pid`, for watching a process with its children
/// (Linux: `/proc/PID/stat`'s fourth field); `None` when it has exited
/// or the OS does not tell.
#[cfg(target_os = "linux")]
pub fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command may hold spaces and parentheses: the fields start after
    // the last `)`.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(not(target_os = "linux"))]
pub fn parent_of(_pid: u32) -> Option<u32> {
    None
}

/// Hands free heap memory back to the kernel, after the loop forgot many
/// processes: without it glibc keeps the pages, and a long run that once
/// saw a burst of processes would look as big as at the burst.
#[cfg(target_os = "linux")]
pub fn release_memory() {
    netop_linux::heap::release_heap();
}

#[cfg(not(target_os = "linux"))]
pub fn release_memory() {}

/// An OS without a backend yet: every start says so.
#[cfg(not(any(target_os = "linux", target_os = "macos")))]
mod unsupported {
    use netop_core::{Backend, BackendOptions, HostInterfaces, InterfaceInfo, OpenError};

    pub fn open(_: &BackendOptions) -> Result<Backend, OpenError> {
        Err(OpenError::Failed(
            "live capture is not supported on this operating system yet".to_string(),
        ))
    }

    pub fn host_interfaces() -> Box<dyn HostInterfaces> {
        #[derive(Debug)]
        struct NoInterfaces;
        impl HostInterfaces for NoInterfaces {
            fn interfaces(&mut self) -> Result<Vec<InterfaceInfo>, netop_core::ResolveError> {
                Ok(Vec::new())
            }
        }
        Box::new(NoInterfaces)
    }
}

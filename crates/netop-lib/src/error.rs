//! The library's errors: each says what went wrong and, where there is
//! one, the fix. Nothing in the library panics on bad input.

use std::net::IpAddr;

/// What a [`Monitor`](crate::Monitor) call can fail with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Capturing needs privileges this process lacks.
    #[error("insufficient privileges for packet capture: {fix}")]
    PermissionDenied {
        /// How to get them on this OS (root, or capabilities).
        fix: String,
    },
    /// An interface asked for does not exist.
    #[error("no such interface {name:?}; available: {}", .available.join(", "))]
    NoSuchInterface {
        /// The name asked for.
        name: String,
        /// The host's interfaces.
        available: Vec<String>,
    },
    /// An address to restrict the capture to is none of this host's.
    #[error("no interface has the address {address}; this host's addresses: {}", list(.available))]
    NoSuchAddress {
        /// The address asked for.
        address: IpAddr,
        /// The host's addresses.
        available: Vec<IpAddr>,
    },
    /// A pid asked about is not watched ([`Monitor::watch`](crate::Monitor::watch) it first).
    #[error("pid {pid} is not watched")]
    NotWatched {
        /// The pid asked about.
        pid: u32,
    },
    /// Pid 0 names no process.
    #[error("pid 0 names no process")]
    InvalidPid,
    /// The call needs a started monitor.
    #[error("the monitor is not started: call start() first")]
    NotStarted,
    /// A monitor starts once; make a new one to start again.
    #[error("the monitor was already started (a monitor starts once)")]
    AlreadyStarted,
    /// An option out of its range.
    #[error("invalid option: {0}")]
    InvalidOption(String),
    /// The backend failed to open or the capture failed while running.
    #[error("{0}")]
    Backend(String),
}

fn list(addrs: &[IpAddr]) -> String {
    addrs
        .iter()
        .map(IpAddr::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl From<netop_core::OpenError> for Error {
    fn from(e: netop_core::OpenError) -> Self {
        match e {
            netop_core::OpenError::Privileges => Error::PermissionDenied {
                fix: crate::platform::privileges_fix(),
            },
            netop_core::OpenError::UnknownInterface { name, available } => {
                Error::NoSuchInterface { name, available }
            }
            netop_core::OpenError::Failed(message) => Error::Backend(message),
        }
    }
}

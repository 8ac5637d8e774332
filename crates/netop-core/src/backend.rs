//! The seam between a backend and the frontend: one factory per OS.
//!
//! Each backend crate exports `open(&BackendOptions) -> Result<Backend,
//! OpenError>` (the parts of one live run), `diagnostics(&BackendOptions)`
//! (what it would do here and why, one fact a line) and `replay(path)` (a
//! recorded capture). The frontend's `platform.rs` picks one crate per OS
//! with a single `use`; nothing else in the frontend names a backend.

use crate::{Capture, HostInterfaces, SocketResolver, SocketTable};

/// How a backend finds socket owners.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnerMode {
    /// The kernel tells each socket's owner as it sends or receives (on
    /// Linux the eBPF event source); polling fills what it did not tell.
    Events,
    /// Socket tables and process fd tables only; `reason` says why.
    Polling { reason: String },
    /// Polling, plus the owners of outgoing TCP connections from a perf
    /// tracepoint (on Linux `sock:inet_sock_set_state` through
    /// `perf_event_open`), where the event source cannot run; `reason`
    /// says why not.
    Tracepoint { reason: String },
}

/// How the frontend asks socket owners to be found (`--owners`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OwnersChoice {
    /// The event source where it runs, else the tracepoint, else polling.
    #[default]
    Auto,
    /// The event source where it runs, else polling.
    Events,
    /// The tracepoint (the event source is not tried), else polling.
    Tracepoint,
    /// Polling only.
    Polling,
}

impl std::fmt::Display for OwnerMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OwnerMode::Events => f.write_str("events"),
            OwnerMode::Polling { reason } => write!(f, "polling ({reason})"),
            OwnerMode::Tracepoint { reason } => write!(
                f,
                "tracepoint (perf sock:inet_sock_set_state; eBPF: {reason})"
            ),
        }
    }
}

/// How the frontend asks traffic to be counted (`--capture`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum CountingChoice {
    /// Every packet through the capture library.
    #[default]
    Packets,
    /// In the kernel where the backend can (Linux: eBPF on TC), else
    /// packets, saying why.
    Kernel,
    /// Kernel counting was asked for, but the run needs every packet
    /// (the reason: `--bpf`, `--write`).
    PacketsBecause(String),
}

/// What the frontend asks of a backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendOptions {
    /// One interface, or `None` for all of them.
    pub interface: Option<String>,
    /// Kernel capture buffer in bytes.
    pub buffer_size: u32,
    /// Keep DNS packets whole (the DNS observatory is on).
    pub whole_dns: bool,
    /// Use the per-socket event source where it can run (`false`:
    /// polling only, whatever `owners` says).
    pub events: bool,
    /// Which owner sources to try (`--owners`).
    pub owners: OwnersChoice,
    /// Name each process's container.
    pub containers: bool,
    /// How traffic is counted.
    pub counting: CountingChoice,
}

impl Default for BackendOptions {
    fn default() -> Self {
        BackendOptions {
            interface: None,
            buffer_size: 4 << 20,
            whole_dns: true,
            events: true,
            owners: OwnersChoice::Auto,
            containers: false,
            counting: CountingChoice::Packets,
        }
    }
}

/// The parts of one run.
pub struct Backend {
    pub capture: Box<dyn Capture>,
    pub resolver: Box<dyn SocketResolver>,
    pub interfaces: Box<dyn HostInterfaces>,
    /// The socket table read just before the capture was opened, so the
    /// first packets are attributed without waiting for another read.
    pub sockets: Option<SocketTable>,
    /// How socket owners are found; `None` for replays, whose socket
    /// table is fixed.
    pub owners: Option<OwnerMode>,
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backend")
            .field("owners", &self.owners)
            .finish_non_exhaustive()
    }
}

/// Why a backend could not start; the frontend turns each into its
/// one-line message and exit code.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Capturing needs privileges this process lacks.
    #[error("insufficient privileges for packet capture")]
    Privileges,
    /// The interface asked for does not exist; `available` lists those
    /// that do.
    #[error("unknown interface {name}")]
    UnknownInterface {
        name: String,
        available: Vec<String>,
    },
    /// Anything else, with what was being done.
    #[error("{0}")]
    Failed(String),
}

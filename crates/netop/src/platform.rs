//! The one place that picks the backend for this OS (and the replay
//! backend used by tests). Everything else in the frontend sees only the
//! core traits.

use anyhow::Context;
use netop::tui::OwnerMode;
use netop_core::{Capture, CaptureError, HostInterfaces, SocketResolver, SocketTable};

use crate::args::Args;
use crate::failure::Failure;
use crate::replay;

/// The three backend parts a run needs.
pub struct Backend {
    pub capture: Box<dyn Capture>,
    pub resolver: Box<dyn SocketResolver>,
    pub interfaces: Box<dyn HostInterfaces>,
    /// The socket table read just before the capture was opened, so the
    /// first packets are attributed without waiting for another read.
    pub sockets: Option<SocketTable>,
    /// How socket owners are found (events or polling); `None` for
    /// replays, whose socket table is fixed.
    pub owners: Option<OwnerMode>,
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Backend")
    }
}

/// Opens the backend the arguments ask for.
pub fn open(args: &Args) -> Result<Backend, Failure> {
    if let Some(path) = &args.replay {
        let capture = file_capture(path)?;
        return replay::backend(capture, args.replay_sockets.as_deref(), args.containers);
    }
    live(args)
}

#[cfg(target_os = "linux")]
fn file_capture(path: &std::path::Path) -> Result<Box<dyn Capture>, Failure> {
    let capture = netop_linux::capture::PcapFileCapture::open(path)
        .with_context(|| format!("cannot replay {}", path.display()))?;
    Ok(Box::new(capture))
}

#[cfg(not(target_os = "linux"))]
fn file_capture(path: &std::path::Path) -> Result<Box<dyn Capture>, Failure> {
    Err(Failure::Runtime(anyhow::anyhow!(
        "cannot replay {}: not supported on this operating system yet",
        path.display()
    )))
}

#[cfg(target_os = "linux")]
fn live(args: &Args) -> Result<Backend, Failure> {
    use netop_linux::capture::{list_interfaces, CaptureOptions, ReopeningCapture};

    if let Some(name) = &args.interface {
        let available = list_interfaces();
        if !available.iter().any(|a| a == name) {
            return Err(Failure::UnknownInterface {
                name: name.clone(),
                available: available.into_iter().filter(|a| a != "any").collect(),
            });
        }
    }
    if !netop_linux::privileges::capture_privileges().can_capture() {
        return Err(Failure::Privileges);
    }
    let mut resolver = netop_linux::resolver::LinuxResolver::with_events(!args.no_events)
        .context("cannot read the socket table (netlink sock_diag)")?;
    resolver.set_containers(args.containers);
    let owners = owner_mode(&resolver);
    // Read every process's sockets before capturing: the first, cold pass
    // over /proc is the slow one, and packets queued behind it would be
    // looked up late, when short-lived sockets may be gone.
    let sockets = resolver
        .sockets()
        .map_err(|e| tracing::warn!(error = %e, "cannot read the socket table"))
        .ok();
    let options = CaptureOptions {
        device: args.interface.clone(),
        buffer_size: i32::try_from(args.bpf_buffer).unwrap_or(i32::MAX),
        whole_dns: !args.no_dns,
        ..CaptureOptions::default()
    };
    let capture = ReopeningCapture::open(&options).map_err(|e| match e {
        CaptureError::PermissionDenied { .. } => Failure::Privileges,
        CaptureError::NoSuchInterface { device } => Failure::UnknownInterface {
            name: device,
            available: list_interfaces(),
        },
        other => Failure::Runtime(other.into()),
    })?;
    Ok(Backend {
        capture: Box::new(capture),
        resolver: Box::new(resolver),
        interfaces: Box::new(netop_linux::interfaces::LinuxInterfaces::new()),
        sockets,
        owners: Some(owners),
    })
}

#[cfg(target_os = "linux")]
fn owner_mode(resolver: &netop_linux::LinuxResolver) -> OwnerMode {
    match resolver.event_mode() {
        netop_linux::EventMode::Events => OwnerMode::Events,
        netop_linux::EventMode::Polling { reason } => OwnerMode::Polling { reason },
    }
}

/// Which thread is being confined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Captures and finds owners: reads other processes' `/proc/PID/fd`,
    /// which Landlock would forbid, so capabilities only.
    Capture,
    /// The monitor's screen: also Landlocked (it writes no files yet).
    Screen,
}

/// Confines the calling thread once the backend is open: `no_new_privs`,
/// only the capabilities netop still needs, and for the screen thread
/// Landlock on the file system. Every long-lived thread calls it.
/// Returns what it holds, for logs and `--diagnostics`.
#[cfg(target_os = "linux")]
pub fn confine(role: Role) -> String {
    let landlock: Option<&[std::path::PathBuf]> = match role {
        Role::Capture => None,
        Role::Screen => Some(&[]),
    };
    netop_linux::confine::after_startup(landlock).describe()
}

#[cfg(not(target_os = "linux"))]
pub fn confine(_role: Role) -> String {
    "not confined on this operating system".to_string()
}

/// `--diagnostics`: what netop finds on this host, one fact a line.
#[cfg(target_os = "linux")]
pub fn diagnostics(args: &Args) -> Vec<String> {
    let privileges = netop_linux::privileges::capture_privileges();
    let mut lines = vec![format!("netop {}", env!("CARGO_PKG_VERSION"))];
    lines.push(format!(
        "capture: {}",
        if privileges.can_capture() {
            "permitted"
        } else {
            "not permitted (needs root, or CAP_NET_RAW and CAP_NET_ADMIN)"
        }
    ));
    lines.push(format!(
        "event source: {}",
        if netop_linux::events::EventSource::built_with_ebpf() {
            "built in"
        } else {
            "not built in (no clang at build time)"
        }
    ));
    let owners = match netop_linux::resolver::LinuxResolver::with_events(!args.no_events) {
        Ok(resolver) => match owner_mode(&resolver) {
            OwnerMode::Events => {
                "events (eBPF: every socket's owner as it sends or receives)".to_string()
            }
            OwnerMode::Polling { reason } => format!("polling ({reason})"),
        },
        Err(e) => format!("unavailable ({e})"),
    };
    lines.push(format!("socket owners: {owners}"));
    // What a run holds once started: confine scratch threads and ask them.
    for (role, name) in [(Role::Capture, "capture"), (Role::Screen, "screen")] {
        let after = std::thread::spawn(move || confine(role))
            .join()
            .unwrap_or_else(|_| "unknown (the probe thread panicked)".to_string());
        lines.push(format!("after start-up, {name} thread: {after}"));
    }
    let kept: Vec<String> = netop_linux::confine::KEPT
        .iter()
        .map(|(cap, why)| format!("{} ({why})", cap.to_string().to_lowercase()))
        .collect();
    lines.push(format!("kept when held: {}", kept.join("; ")));
    lines
}

#[cfg(not(target_os = "linux"))]
pub fn diagnostics(_args: &Args) -> Vec<String> {
    vec![
        format!("netop {}", env!("CARGO_PKG_VERSION")),
        "live capture: not supported on this operating system yet".to_string(),
    ]
}

#[cfg(not(target_os = "linux"))]
fn live(_args: &Args) -> Result<Backend, Failure> {
    Err(Failure::Runtime(anyhow::anyhow!(
        "live capture is not supported on this operating system yet"
    )))
}

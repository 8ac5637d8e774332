//! The one place that picks the backend for this OS: every backend crate
//! has the same factory (`open`, `diagnostics`, `replay`; see
//! `netop_core::backend`), so choosing one is a single `use`. Everything
//! else in the frontend sees only the core's types.

use netop_cli::Args;
use netop_core::{Backend, BackendOptions, OpenError};

#[cfg(target_os = "linux")]
use linux as os;
#[cfg(target_os = "macos")]
use macos as os;
#[cfg(not(any(target_os = "linux", target_os = "macos")))]
use unsupported as os;

use crate::failure::Failure;
use crate::replay;

/// What the arguments ask of the backend.
fn options(args: &Args) -> BackendOptions {
    BackendOptions {
        interface: args.interface.clone(),
        buffer_size: args.bpf_buffer,
        whole_dns: !args.no_dns,
        events: !args.no_events,
        owners: match args.owners {
            netop_cli::OwnersChoice::Auto => netop_core::OwnersChoice::Auto,
            netop_cli::OwnersChoice::Events => netop_core::OwnersChoice::Events,
            netop_cli::OwnersChoice::Tracepoint => netop_core::OwnersChoice::Tracepoint,
            netop_cli::OwnersChoice::Polling => netop_core::OwnersChoice::Polling,
        },
        containers: args.containers,
        counting: counting(args),
    }
}

/// Kernel counting unless `--capture pcap`, or the run needs every
/// packet.
fn counting(args: &Args) -> netop_core::CountingChoice {
    use netop_core::CountingChoice;
    if args.capture == netop_cli::CaptureChoice::Pcap {
        return CountingChoice::Packets;
    }
    if args.power.bpf.is_some() {
        CountingChoice::PacketsBecause("--bpf needs every packet".into())
    } else if args.power.write.is_some() {
        CountingChoice::PacketsBecause("--write needs every packet".into())
    } else {
        CountingChoice::Kernel
    }
}

/// Opens the backend the arguments ask for: a replay, or the OS's.
pub fn open(args: &Args) -> Result<Backend, Failure> {
    let mut backend = if let Some(path) = &args.replay {
        let capture = os::replay(path).map_err(failure)?;
        replay::backend(capture, args.replay_sockets.as_deref(), args.containers)?
    } else {
        os::open(&options(args)).map_err(failure)?
    };
    if let Some(expr) = &args.power.bpf {
        backend.capture = os::filtered(backend.capture, expr);
    }
    backend.capture = crate::probe::wrap(backend.capture, args.confinement_probe.as_ref());
    Ok(backend)
}

/// The host's interfaces with their current rates (rx, tx bytes per
/// second, from the kernel's counters read a second apart), for `netop
/// setup`.
pub fn interfaces_with_rates() -> Vec<(netop_core::InterfaceInfo, Option<(u64, u64)>)> {
    let mut source = os::host_interfaces();
    let Ok(first) = source.interfaces() else {
        return Vec::new();
    };
    std::thread::sleep(std::time::Duration::from_secs(1));
    let second = source.interfaces().unwrap_or_default();
    first
        .into_iter()
        .map(|i| {
            let rate = second
                .iter()
                .find(|j| j.index == i.index)
                .and_then(|j| Some((i.kernel?, j.kernel?)))
                .map(|(a, b)| {
                    (
                        b.rx_bytes.saturating_sub(a.rx_bytes),
                        b.tx_bytes.saturating_sub(a.tx_bytes),
                    )
                });
            (i, rate)
        })
        .collect()
}

/// `--bpf`: libpcap's verdict on the expression, before anything opens
/// (no privileges needed).
pub fn check_filter(args: &Args) -> Result<(), Failure> {
    match &args.power.bpf {
        Some(expr) => {
            os::check_filter(expr, args.interface.is_none()).map_err(Failure::InvalidFilter)
        }
        None => Ok(()),
    }
}

/// `--diagnostics`: what netop finds on this host, one fact a line.
pub fn diagnostics(args: &Args) -> Vec<String> {
    let mut lines = vec![format!("netop {}", env!("CARGO_PKG_VERSION"))];
    lines.extend(os::diagnostics(&options(args)));
    // What a run holds once started: confine scratch threads and ask them.
    for (role, name) in [
        (Role::Capture, "capture (packets)"),
        (Role::Owners, "owner search"),
        (Role::Screen, "screen"),
    ] {
        let after = std::thread::spawn(move || confine(role))
            .join()
            .unwrap_or_else(|_| "unknown (the probe thread panicked)".to_string());
        lines.push(format!("after start-up, {name} thread: {after}"));
    }
    lines
}

/// Which thread is being confined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Captures and parses packets (the engine's thread): Landlocked,
    /// writing nothing. Confining it also confines the backend's owner
    /// threads, which it started before.
    Capture,
    /// The backend's owner search (`--diagnostics` only: the backend
    /// starts and confines it). It reads other processes' `/proc/PID/fd`,
    /// which Landlock would forbid, so capabilities only.
    Owners,
    /// The monitor's screen: Landlocked, writing nothing.
    Screen,
}

/// Makes the calling thread create and write files as `uid`/`gid`
/// (the monitor's file thread, before it is confined). On Linux the
/// thread's file-system identity (`setfsuid`, this thread only); elsewhere
/// nothing yet (files are the running user's).
#[cfg(target_os = "linux")]
pub fn files_as(uid: u32, gid: u32) {
    // SAFETY: setfsgid/setfsuid change this thread's file-system identity
    // only (raw syscalls); a refused change shows as a failed write later.
    unsafe {
        libc::setfsgid(gid);
        libc::setfsuid(uid);
    }
}

#[cfg(not(target_os = "linux"))]
pub fn files_as(_uid: u32, _gid: u32) {}

/// Confines the monitor's file thread: as the screen, but allowed to
/// write in `dirs` (the config file's, the export directory).
pub fn confine_writer(dirs: Vec<std::path::PathBuf>) -> String {
    os::confine(Some(&dirs))
}

/// Confines the calling thread once the backend is open: `no_new_privs`,
/// only the capabilities netop still needs (the packet thread: those to
/// re-open a capture), and Landlock on the file system except for the
/// owner search. Every long-lived thread calls it;
/// the capture thread's call also confines the owner threads (after
/// `netop serve`'s user switch, which needs every thread's CAP_SETUID).
/// Returns what it holds, for logs and `--diagnostics`.
pub fn confine(role: Role) -> String {
    let (held, owners) = match role {
        Role::Capture => {
            let owners = os::confine_owner_threads();
            (os::confine_packets(), owners)
        }
        Role::Screen => (os::confine(Some(&[])), Vec::new()),
        Role::Owners => (os::confine(None), Vec::new()),
    };
    owners
        .iter()
        .fold(held, |all, owner| format!("{all}; owner thread: {owner}"))
}

/// Confines a `netop serve` worker thread (HTTP, history writer) and
/// every thread it starts: no capabilities at all, and Landlock to reading
/// the system's files and writing `writable` (the history's directory).
pub fn confine_worker(writable: &[std::path::PathBuf]) -> String {
    let held = os::confine(Some(writable));
    if let Err(e) = os::drop_capabilities() {
        return format!("{held}; {e}");
    }
    // The description starts with the capabilities confine kept.
    let rest = held.split_once("; ").map_or("", |(_, rest)| rest);
    format!("capabilities none; {rest}")
}

/// Drops every capability (a packaged binary's file capabilities) before
/// reading a file the user named, unless running as root.
pub fn drop_capabilities_unless_root() -> Result<(), Failure> {
    if os::is_root() {
        return Ok(());
    }
    os::drop_capabilities().map_err(|e| Failure::Runtime(anyhow::anyhow!(e)))
}

/// `netop serve`: switches to an unprivileged user when root (see
/// `netop_linux::service_user`), giving it `own` first. Returns the user
/// now running.
pub fn become_user(wanted: Option<&str>, own: &[std::path::PathBuf]) -> Result<String, Failure> {
    os::become_user(wanted, own).map_err(|e| Failure::Runtime(anyhow::anyhow!(e)))
}

/// The other way to the privileges capture needs, after the guide's
/// `sudo netop`, where the OS has one.
#[cfg(target_os = "linux")]
pub fn privileges_fix() -> Option<String> {
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "netop".to_string());
    Some(format!(
        "or grant capture capabilities: sudo setcap cap_net_raw,cap_net_admin=eip {exe}"
    ))
}

/// macOS: root for PKTAP; the guide's message says it all.
#[cfg(not(target_os = "linux"))]
pub fn privileges_fix() -> Option<String> {
    None
}

fn failure(e: OpenError) -> Failure {
    match e {
        OpenError::Privileges => Failure::Privileges,
        OpenError::UnknownInterface { name, available } => {
            Failure::UnknownInterface { name, available }
        }
        OpenError::Failed(message) => Failure::Runtime(anyhow::anyhow!(message)),
    }
}

/// Keeps glibc's threshold for serving an allocation with its own
/// `mmap` at 128 KiB. glibc raises it (up to 32 MiB) each time such a
/// block is freed, so after the first grown-and-freed table every later
/// large table (flows, sockets, owners, the report) is carved from the
/// capture thread's heap, and the small allocations that move into the
/// holes keep its pages resident: after 20,000 short processes had been
/// forgotten, the monitor held 19 MB of a heap with about 4 MB in use, and
/// `malloc_trim` returned 2 MB of it. With the threshold fixed, large
/// tables go back to the kernel when freed (the same wave: 4.5 MB over the
/// start instead of 18.6 MB).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn tune_allocator() {
    // SAFETY: mallopt only changes glibc's allocation policy; called once,
    // first thing in main, before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn tune_allocator() {}

/// The Linux backend, plus what `netop serve` needs of it.
#[cfg(target_os = "linux")]
mod linux {
    pub use netop_linux::{
        check_filter, confine, confine_owner_threads, confine_packets, diagnostics, filtered,
        host_interfaces, open, replay,
    };

    pub fn drop_capabilities() -> Result<(), String> {
        netop_linux::privileges::drop_all()
    }

    pub fn is_root() -> bool {
        // SAFETY: geteuid has no preconditions and cannot fail.
        unsafe { libc::geteuid() == 0 }
    }

    pub fn become_user(wanted: Option<&str>, own: &[std::path::PathBuf]) -> Result<String, String> {
        use netop_linux::service_user::{become_user, Became};
        Ok(match become_user(wanted, own)? {
            Became::Unchanged { user } | Became::User { name: user, .. } => user,
        })
    }
}

/// The macOS backend; `netop serve`'s user switch and capability drops
/// are Linux's for now (macOS binaries carry no file capabilities).
#[cfg(target_os = "macos")]
mod macos {
    pub use netop_macos::{
        check_filter, confine, diagnostics, filtered, host_interfaces, open, replay,
    };

    /// The macOS backend searches owners on the capture thread.
    pub fn confine_owner_threads() -> Vec<String> {
        Vec::new()
    }

    pub fn confine_packets() -> String {
        confine(None)
    }

    pub fn drop_capabilities() -> Result<(), String> {
        Ok(())
    }

    /// No capabilities to drop here either way.
    pub fn is_root() -> bool {
        true
    }

    pub fn become_user(_: Option<&str>, _: &[std::path::PathBuf]) -> Result<String, String> {
        Err("netop serve runs on Linux only for now".to_string())
    }
}

/// An OS without a backend yet: every live run says so.
#[cfg(not(any(target_os = "linux", target_os = "macos")))]
mod unsupported {
    use std::path::Path;

    use netop_core::{Backend, BackendOptions, Capture, OpenError};

    const WHY: &str = "live capture is not supported on this operating system yet";

    pub fn open(_: &BackendOptions) -> Result<Backend, OpenError> {
        Err(OpenError::Failed(WHY.to_string()))
    }

    pub fn replay(path: &Path) -> Result<Box<dyn Capture>, OpenError> {
        Err(OpenError::Failed(format!(
            "cannot replay {}: {WHY}",
            path.display()
        )))
    }

    pub fn diagnostics(_: &BackendOptions) -> Vec<String> {
        vec![WHY.to_string()]
    }

    pub fn confine(_: Option<&[std::path::PathBuf]>) -> String {
        "not confined on this operating system".to_string()
    }

    pub fn confine_owner_threads() -> Vec<String> {
        Vec::new()
    }

    pub fn confine_packets() -> String {
        confine(None)
    }

    pub fn drop_capabilities() -> Result<(), String> {
        Ok(())
    }

    /// No capabilities to drop here either way.
    pub fn is_root() -> bool {
        true
    }

    pub fn become_user(_: Option<&str>, _: &[std::path::PathBuf]) -> Result<String, String> {
        Err(WHY.to_string())
    }
    pub fn host_interfaces() -> Box<dyn netop_core::HostInterfaces> {
        struct None_;
        impl netop_core::HostInterfaces for None_ {
            fn interfaces(
                &mut self,
            ) -> Result<Vec<netop_core::InterfaceInfo>, netop_core::ResolveError> {
                Ok(Vec::new())
            }
        }
        Box::new(None_)
    }

    pub fn check_filter(_: &str, _: bool) -> Result<(), String> {
        Err(WHY.to_string())
    }

    pub fn filtered(capture: Box<dyn Capture>, _: &str) -> Box<dyn Capture> {
        capture
    }
}

/// The line netop prints on stderr when socket owners do not come from
/// the event source: why, and what is used instead.
pub fn owners_note(owners: Option<&netop_core::OwnerMode>) -> Option<String> {
    match owners? {
        netop_core::OwnerMode::Events => None,
        netop_core::OwnerMode::Polling { reason } => Some(format!(
            "netop: per-socket events unavailable ({reason}); using polling, short-lived connections may show as unknown"
        )),
        netop_core::OwnerMode::Tracepoint { reason } => Some(format!(
            "netop: per-socket events unavailable ({reason}); using the perf tracepoint sock:inet_sock_set_state for outgoing TCP connections and polling for the rest"
        )),
    }
}

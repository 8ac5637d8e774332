//! The Linux backend's factory: the parts of one run from the frontend's
//! options, what `--diagnostics` says about this host, and replays.

use std::path::Path;

use netop_core::{
    Backend, BackendOptions, Capture, CaptureError, CountingChoice, OpenError, OwnerMode,
    OwnersChoice, ResolveError, SocketResolver,
};

use crate::capture::{list_interfaces, open_reopening, CaptureOptions, PcapFileCapture};
use crate::counting;
use crate::events::EventSource;
use crate::interfaces::LinuxInterfaces;
use crate::owner_thread::OwnerThread;
use crate::privileges::{capture_privileges, drop_all};
use crate::resolver::LinuxResolver;

/// The resolver with the owner sources the options ask for (`--owners`;
/// `--no-events` means polling).
fn resolver_for(options: &BackendOptions) -> Result<LinuxResolver, ResolveError> {
    let (choice, flag) = match (options.events, options.owners) {
        (false, _) => (OwnersChoice::Polling, "--no-events"),
        (true, OwnersChoice::Tracepoint) => (OwnersChoice::Tracepoint, "--owners tracepoint"),
        (true, OwnersChoice::Polling) => (OwnersChoice::Polling, "--owners polling"),
        (true, choice) => (choice, "--owners"),
    };
    LinuxResolver::with_owners(choice, flag)
}

/// Opens capture, socket resolver and interface listing for a live run.
pub fn open(options: &BackendOptions) -> Result<Backend, OpenError> {
    if let Some(name) = &options.interface {
        let available = list_interfaces();
        if !available.iter().any(|a| a == name) {
            return Err(OpenError::UnknownInterface {
                name: name.clone(),
                available: available.into_iter().filter(|a| a != "any").collect(),
            });
        }
    }
    if !capture_privileges().can_capture() {
        return Err(OpenError::Privileges);
    }
    let mut resolver = resolver_for(options).map_err(|e| {
        OpenError::Failed(format!(
            "cannot read the socket table (netlink sock_diag): {e}"
        ))
    })?;
    resolver.set_containers(options.containers);
    // Owners by socket cookie serve kernel counting only (its deltas carry
    // cookies); without it the index would be memory for nothing.
    resolver.keep_cookies(matches!(options.counting, CountingChoice::Kernel));
    let owners = resolver.event_mode();
    let capture_options = CaptureOptions {
        device: options.interface.clone(),
        buffer_size: i32::try_from(options.buffer_size).unwrap_or(i32::MAX),
        whole_dns: options.whole_dns,
        ..CaptureOptions::default()
    };
    // Kernel counting is loaded before the first socket table is read:
    // aya parses the kernel's BTF (about 18 MB of heap, handed back after)
    // while little else is held, so a host with many sockets does not add
    // its table to that peak. Its packets wait in the kernel's table.
    let kernel =
        matches!(options.counting, CountingChoice::Kernel).then(|| open_kernel(&capture_options));
    // Read every process's sockets before capturing packets: the first,
    // cold pass over /proc is the slow one, and packets queued behind it
    // would be looked up late, when short-lived sockets may be gone.
    let sockets = resolver
        .sockets()
        .map_err(|e| tracing::warn!(error = %e, "cannot read the socket table"))
        .ok();
    let capture: Box<dyn Capture> = match (&options.counting, kernel) {
        (_, Some(Ok(mut kernel))) => {
            // Between its reads the loop sleeps; a filling event ring
            // wakes it (`counting/sleep.rs`).
            if let Some(events) = resolver.events_wake_fd() {
                kernel.wake_on_events(events);
            }
            Box::new(kernel)
        }
        (_, Some(Err(reason))) => {
            tracing::info!(%reason, "kernel counting unavailable; capturing packets");
            Box::new(counting::Fallback::new(
                Box::new(open_pcap(&capture_options)?),
                reason.to_string(),
            ))
        }
        (CountingChoice::PacketsBecause(reason), None) => Box::new(counting::Fallback::new(
            Box::new(open_pcap(&capture_options)?),
            reason.clone(),
        )),
        (_, None) => Box::new(open_pcap(&capture_options)?),
    };
    // The owner search gets a thread of its own, so the capture thread can
    // be Landlocked (`owner_thread.rs`).
    let resolver = OwnerThread::spawn(resolver)
        .map_err(|e| OpenError::Failed(format!("cannot start the owner thread: {e}")))?;
    Ok(Backend {
        capture,
        resolver: Box::new(resolver),
        interfaces: Box::new(LinuxInterfaces::new()),
        sockets,
        owners: Some(owners),
    })
}

fn open_error(e: CaptureError) -> OpenError {
    match e {
        CaptureError::PermissionDenied { .. } => OpenError::Privileges,
        CaptureError::NoSuchInterface { device } => OpenError::UnknownInterface {
            name: device,
            available: list_interfaces(),
        },
        other => OpenError::Failed(other.to_string()),
    }
}

/// libpcap on the interface (or `any`), reopened when lost.
fn open_pcap(options: &CaptureOptions) -> Result<crate::ReopeningCapture, OpenError> {
    open_reopening(options).map_err(open_error)
}

/// Counting in the kernel; with the DNS observatory on, the same programs
/// hand DNS packets over as frames (`counting/dns_ring.rs`).
fn open_kernel(
    options: &CaptureOptions,
) -> Result<counting::KernelCapture, counting::CountingUnavailable> {
    if !counting::built() {
        return Err(counting::CountingUnavailable::NotBuilt);
    }
    counting::KernelCapture::open(options.device.clone(), options.whole_dns)
}

/// A recorded capture (pcap or pcapng file).
pub fn replay(path: &Path) -> Result<Box<dyn Capture>, OpenError> {
    // A packaged netop has file capabilities (CAP_DAC_READ_SEARCH among
    // them); a replay needs none and must not read what its user cannot.
    drop_all().map_err(|e| OpenError::Failed(e.to_string()))?;
    let capture = PcapFileCapture::open(path)
        .map_err(|e| OpenError::Failed(format!("cannot replay {}: {e}", path.display())))?;
    Ok(Box::new(capture))
}

/// What netop finds on this host, one fact a line: whether it may
/// capture, see other users' processes and other namespaces, and how it
/// would find socket owners.
pub fn diagnostics(options: &BackendOptions) -> Vec<String> {
    let privileges = capture_privileges();
    let mut lines = Vec::new();
    let how = if privileges.root {
        "root"
    } else {
        "file capabilities"
    };
    lines.push(if privileges.can_capture() {
        format!("capture: permitted ({how})")
    } else {
        "capture: not permitted (needs root, or CAP_NET_RAW and CAP_NET_ADMIN)".to_string()
    });
    lines.push(if privileges.sees_other_users() {
        format!("other users' processes: visible ({how})")
    } else {
        "other users' processes: not visible to polling (needs root, or CAP_SYS_PTRACE and \
         CAP_DAC_READ_SEARCH); their sockets are found by the event source only"
            .to_string()
    });
    lines.push(if privileges.enters_namespaces() {
        format!("other network namespaces: entered ({how})")
    } else {
        "other network namespaces: not entered by polling (needs root, or CAP_SYS_ADMIN); \
         their sockets are found by the event source only"
            .to_string()
    });
    lines.push(format!(
        "event source: {}",
        if EventSource::built_with_ebpf() {
            "built in"
        } else {
            "not built in (no clang at build time)"
        }
    ));
    let owners = match resolver_for(options) {
        Ok(resolver) => match resolver.event_mode() {
            OwnerMode::Events => {
                "events (eBPF: every socket's owner as it sends or receives)".to_string()
            }
            other => other.to_string(),
        },
        Err(e) => format!("unavailable ({e})"),
    };
    lines.push(format!("socket owners: {owners}"));
    lines.push(format!(
        "counting program: {}",
        if counting::built() {
            "built in"
        } else {
            "not built in (no clang at build time)"
        }
    ));
    let counting = match &options.counting {
        CountingChoice::Packets => {
            "pcap (--capture pcap: every packet's headers through libpcap)".to_string()
        }
        CountingChoice::PacketsBecause(reason) => format!("pcap ({reason})"),
        CountingChoice::Kernel => {
            let dns = CaptureOptions {
                device: options.interface.clone(),
                whole_dns: options.whole_dns,
                ..CaptureOptions::default()
            };
            match open_kernel(&dns) {
                Ok(kernel) => format!(
                    "{} (eBPF on traffic control; {})",
                    kernel.counting(),
                    if options.whole_dns {
                        "DNS packets copied to netop by the same programs"
                    } else {
                        "DNS off"
                    }
                ),
                Err(reason) => format!("pcap (kernel counting unavailable: {reason})"),
            }
        }
    };
    lines.push(format!("counting: {counting}"));
    let kept: Vec<String> = crate::confine::KEPT
        .iter()
        .map(|(cap, why)| format!("{} ({why})", cap.to_string().to_lowercase()))
        .collect();
    lines.push(format!("kept when held: {}", kept.join("; ")));
    lines
}

/// Confines the calling thread after start-up (see `confine.rs`): the
/// capabilities netop still needs, `no_new_privs`, and Landlock when
/// `landlock` lists the paths it may write. Returns what it holds.
pub fn confine(landlock: Option<&[std::path::PathBuf]>) -> String {
    crate::confine::after_startup(landlock).describe()
}

/// Confines the calling thread as the packet thread (see `confine.rs`):
/// capabilities to re-open a capture only, `no_new_privs`, Landlock
/// writing nothing. Returns what it holds.
pub fn confine_packets() -> String {
    crate::confine::packet_thread().describe()
}

/// Confines the owner threads [`open`] started (capabilities and
/// `no_new_privs`; no Landlock, see `owner_thread.rs`); the capture
/// thread calls it when it confines itself. What each holds.
pub fn confine_owner_threads() -> Vec<String> {
    crate::owner_thread::confine_owner_threads()
        .iter()
        .map(crate::confine::Confinement::describe)
        .collect()
}

//! The macOS backend's factory: the parts of one run from the frontend's
//! options, `--diagnostics`, and replays. The decisions are `plan.rs`'s
//! (tested on Linux with fakes); this file asks the system and opens things: PKTAP
//! as root, else (or when pktap cannot be opened) one BPF device per
//! interface read as one (`multi.rs`), or the one `--interface` names.
//! Built on macOS only.

use std::path::Path;

use netop_core::{
    Backend, BackendOptions, Capture, CaptureError, OpenError, OwnerMode, SocketResolver,
};
use netop_pcap::{CaptureOptions, PcapFileCapture, ReopeningCapture};

use crate::capture::MacPlatform;
use crate::live::LiveSystem;
use crate::multi::MultiCapture;
use crate::plan::{self, Source};
use crate::system::System;
use crate::{MacInterfaces, MacResolver};

/// Opens capture, socket resolver and interface listing for a live run.
pub fn open(options: &BackendOptions) -> Result<Backend, OpenError> {
    let system = LiveSystem;
    let mut interfaces = MacInterfaces::new(system);
    let names = interfaces.names();
    if let Some(name) = &options.interface {
        plan::check_interface(name, names.clone())?;
    }
    let mut plan = plan::plan(options, system.euid() == 0);
    let mut resolver = MacResolver::new(system);
    let sockets = resolver
        .sockets()
        .map_err(|e| tracing::warn!(error = %e, "cannot read the socket table"))
        .ok();
    let buffer = i32::try_from(options.buffer_size).unwrap_or(i32::MAX);
    let snaplen = if options.whole_dns { 512 } else { 256 };
    let open_one = |device: &str, timeout_ms: i32| {
        let capture_options = CaptureOptions {
            buffer_size: buffer,
            snaplen,
            read_timeout_ms: timeout_ms,
            ..CaptureOptions::new(device)
        };
        ReopeningCapture::open(&capture_options, Box::new(MacPlatform))
    };
    let mut capture: Option<Box<dyn Capture>> = None;
    if plan.source != Source::AllInterfaces {
        match open_one(plan.source.device(), READ_TIMEOUT_MS) {
            Ok(c) => capture = Some(Box::new(c)),
            // No pktap here (an older or non-Apple libpcap): every
            // interface through its own BPF device instead.
            Err(CaptureError::Failed { message, .. }) if plan.source == Source::Pktap => {
                tracing::warn!(%message, "cannot open pktap; reading every interface's BPF device");
                plan = plan::all_interfaces("pktap could not be opened");
            }
            Err(e) => return Err(open_failure(e, names)),
        }
    }
    let capture: Box<dyn Capture> = match capture {
        Some(c) => c,
        None => {
            let list = netop_core::HostInterfaces::interfaces(&mut interfaces).unwrap_or_default();
            let devices = plan::capture_devices(&list);
            let each = plan::read_timeout_each(READ_TIMEOUT_MS, devices.len());
            let mut parts: Vec<Box<dyn Capture + Send>> = Vec::new();
            let mut first_error = None;
            for device in &devices {
                match open_one(device, each) {
                    Ok(c) => parts.push(Box::new(c)),
                    Err(e) => {
                        tracing::warn!(%device, error = %e, "cannot capture on this interface");
                        if first_error.is_none() {
                            first_error = Some(e);
                        }
                    }
                }
            }
            if parts.is_empty() {
                return Err(match first_error {
                    Some(e) => open_failure(e, names),
                    None => OpenError::Failed("no interface is up to capture on".to_string()),
                });
            }
            Box::new(MultiCapture::new(parts))
        }
    };
    tracing::info!(capture = %plan.why, "macOS backend opened");
    Ok(Backend {
        capture,
        resolver: Box::new(resolver),
        interfaces: Box::new(interfaces),
        sockets,
        owners: Some(OwnerMode::Polling {
            reason: "macOS has no per-socket event source; PKTAP headers name each packet's \
                     process"
                .to_string(),
        }),
    })
}

/// The longest wait of one read round, in milliseconds.
const READ_TIMEOUT_MS: i32 = 100;

/// A capture that could not open, as the frontend explains it.
fn open_failure(e: CaptureError, names: Vec<String>) -> OpenError {
    match e {
        CaptureError::PermissionDenied { .. } => OpenError::Privileges,
        CaptureError::NoSuchInterface { device } => OpenError::UnknownInterface {
            name: device,
            available: names,
        },
        CaptureError::Failed { device, message } => plan::open_error(&device, &message, names),
    }
}

/// A recorded capture (pcap or pcapng file, PKTAP ones included).
pub fn replay(path: &Path) -> Result<Box<dyn Capture>, OpenError> {
    let capture = PcapFileCapture::open(path)
        .map_err(|e| OpenError::Failed(format!("cannot replay {}: {e}", path.display())))?;
    Ok(Box::new(capture))
}

/// What netop would do here, one fact a line.
pub fn diagnostics(options: &BackendOptions) -> Vec<String> {
    let mut system = LiveSystem;
    plan::diagnostics(&mut system, options)
}

/// Nothing is dropped after start-up on macOS yet.
pub fn confine(_landlock: Option<&[std::path::PathBuf]>) -> String {
    "not confined on macOS".to_string()
}

/// The host's interfaces (for `netop setup`).
pub fn host_interfaces() -> Box<dyn netop_core::HostInterfaces> {
    Box::new(MacInterfaces::new(LiveSystem))
}

//! The macOS backend's factory: the parts of one run from the frontend's
//! options, `--diagnostics`, and replays. The decisions are `plan.rs`'s
//! (tested everywhere); this file asks the system and opens things.
//! Built on macOS only.

use std::path::Path;

use netop_core::{
    Backend, BackendOptions, Capture, CaptureError, OpenError, OwnerMode, SocketResolver,
};
use netop_pcap::{CaptureOptions, PcapFileCapture, ReopeningCapture};

use crate::capture::MacPlatform;
use crate::live::LiveSystem;
use crate::plan;
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
    let plan = plan::plan(options, system.euid() == 0)?;
    let mut resolver = MacResolver::new(system);
    let sockets = resolver
        .sockets()
        .map_err(|e| tracing::warn!(error = %e, "cannot read the socket table"))
        .ok();
    let device = plan.source.device().to_string();
    let capture_options = CaptureOptions {
        buffer_size: i32::try_from(options.buffer_size).unwrap_or(i32::MAX),
        // Headers, and DNS messages whole for the observatory.
        snaplen: if options.whole_dns { 512 } else { 256 },
        ..CaptureOptions::new(device.as_str())
    };
    let capture =
        ReopeningCapture::open(&capture_options, Box::new(MacPlatform)).map_err(|e| match e {
            CaptureError::PermissionDenied { .. } => OpenError::Privileges,
            CaptureError::NoSuchInterface { device } => OpenError::UnknownInterface {
                name: device,
                available: names,
            },
            CaptureError::Failed { device, message } => {
                plan::open_error(&device, &message, Vec::new())
            }
        })?;
    tracing::info!(capture = %plan.why, "macOS backend opened");
    Ok(Backend {
        capture: Box::new(capture),
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

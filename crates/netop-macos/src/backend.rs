//! The macOS backend's factory: the parts of one run from the frontend's
//! options, `--diagnostics`, and replays. The decisions are `plan.rs`'s
//! (tested everywhere); this file asks the system and opens things.
//! Built on macOS only.

use std::path::Path;

use netop_core::{Backend, BackendOptions, Capture, OpenError, OwnerMode, SocketResolver};

use crate::capture::{FileCapture, LiveCapture};
use crate::live::LiveSystem;
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
    let plan = plan::plan(options, system.euid() == 0)?;
    let mut resolver = MacResolver::new(system);
    let sockets = resolver
        .sockets()
        .map_err(|e| tracing::warn!(error = %e, "cannot read the socket table"))
        .ok();
    let ifindex = match &plan.source {
        Source::Pktap => None,
        Source::Interface(name) => netop_core::HostInterfaces::interfaces(&mut interfaces)
            .ok()
            .and_then(|l| l.into_iter().find(|i| &i.name == name).map(|i| i.index)),
    };
    let device = plan.source.device().to_string();
    let buffer = i32::try_from(options.buffer_size).unwrap_or(i32::MAX);
    let capture = LiveCapture::open(&device, buffer, ifindex)
        .map_err(|message| plan::open_error(&device, &message, names))?;
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
    let capture = FileCapture::open(path)
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

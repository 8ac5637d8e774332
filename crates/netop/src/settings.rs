//! The command line layered over the config file (defaults < file <
//! environment < flags), and what the file adds that has no flag: the
//! monitor's pins, per-process alert thresholds, the bell, and the path
//! to save preferences into.

use std::path::PathBuf;

use netop::config::{self, layer, locate};
use netop_cli::Args;
use netop_core::ProcessReport;

use crate::failure::Failure;

/// What the run uses beyond [`Args`].
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// The config file read, if any: the monitor saves preferences into it.
    pub path: Option<PathBuf>,
    pub extras: layer::Extras,
}

/// Finds and reads the config file and applies it to `args`.
pub fn load(args: &mut Args) -> Result<Settings, Failure> {
    let env = locate::Env::current();
    let Some(path) = locate::find(&env).map_err(Failure::Config)? else {
        let extras = layer::apply(&config::Config::default(), args);
        return Ok(Settings { path: None, extras });
    };
    let file = config::load(&path).map_err(Failure::Config)?;
    tracing::debug!(path = %path.display(), "config file");
    let extras = layer::apply(&file, args);
    Ok(Settings {
        path: Some(path),
        extras,
    })
}

/// The threshold of a process: its own from the config file, else
/// `--alert` (or the file's `alerts.rate`).
pub fn threshold(args: &Args, settings: &Settings, name: &str) -> Option<u64> {
    settings
        .extras
        .alert_processes
        .get(name)
        .copied()
        .or(args.power.alert)
}

/// A snapshot's alert: some process (not the unknown row) whose average
/// rate (rx + tx) over the snapshot is above its threshold.
pub fn alert_crossed(
    args: &Args,
    settings: &Settings,
    processes: &[ProcessReport],
    seconds: f64,
) -> bool {
    processes.iter().filter(|p| p.pid.is_some()).any(|p| {
        threshold(args, settings, &p.name)
            .is_some_and(|limit| p.counters.total_bytes() as f64 / seconds.max(1.0) > limit as f64)
    })
}

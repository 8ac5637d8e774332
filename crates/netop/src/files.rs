//! The thread that writes the files a user asks for from the monitor: the
//! preferences saved into an existing config file (sort, theme, pins) and
//! the export key's files.
//!
//! The screen thread is Landlocked and runs without CAP_DAC_OVERRIDE, so
//! under sudo it could not write into the user's directories. This thread
//! is started before confinement: it takes the identity of the user the
//! files are for, for file access only (`setfsuid`/`setfsgid`, this
//! thread only): the config file's owner, else the user who ran sudo. So
//! saved and exported files belong to that user. Then it confines itself
//! like the others, Landlock allowing writes only in the config file's
//! directory and the export directory. It answers each job with one
//! status line for the status bar.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread;

use netop::config::save::{self, Prefs};
use netop::tui::export::Export;

use crate::platform;

/// Work for the thread.
#[derive(Debug)]
pub enum Job {
    Prefs(Prefs),
    Export(Export),
}

/// The screen's end: jobs in, status lines out.
#[derive(Debug)]
pub struct Files {
    pub jobs: Sender<Job>,
    pub results: Receiver<String>,
    /// Whether preferences have a file to go to.
    pub saves_prefs: bool,
}

/// Starts the thread. `config`: the config file read (preferences are
/// saved only there); `export_dir`: where exports go.
pub fn spawn(config: Option<PathBuf>, export_dir: PathBuf) -> std::io::Result<Files> {
    let (jobs_tx, jobs) = mpsc::channel::<Job>();
    let (results_tx, results) = mpsc::channel::<String>();
    let owner = identity(config.as_deref());
    let saves_prefs = config.is_some();
    thread::Builder::new()
        .name("netop-files".into())
        .spawn(move || {
            if let Some((uid, gid)) = owner {
                platform::files_as(uid, gid);
            }
            let mut writable = vec![export_dir.clone()];
            writable.extend(
                config
                    .as_ref()
                    .and_then(|c| c.parent().map(Path::to_path_buf)),
            );
            let held = platform::confine_writer(writable);
            tracing::debug!(%held, "file thread confined");
            while let Ok(job) = jobs.recv() {
                let line = match job {
                    Job::Prefs(prefs) => save_prefs(config.as_deref(), &prefs),
                    Job::Export(export) => write_export(&export_dir, &export),
                };
                if results_tx.send(line).is_err() {
                    break;
                }
            }
        })?;
    Ok(Files {
        jobs: jobs_tx,
        results,
        saves_prefs,
    })
}

/// Whose files these are: the config file's owner, else (as root) the
/// user who ran sudo.
fn identity(config: Option<&Path>) -> Option<(u32, u32)> {
    if let Some(meta) = config.and_then(|c| std::fs::metadata(c).ok()) {
        return Some((meta.uid(), meta.gid()));
    }
    let id = |name: &str| std::env::var(name).ok()?.parse::<u32>().ok();
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    match (root, id("SUDO_UID"), id("SUDO_GID")) {
        (true, Some(uid), Some(gid)) => Some((uid, gid)),
        _ => None,
    }
}

fn save_prefs(config: Option<&Path>, prefs: &Prefs) -> String {
    let Some(path) = config else {
        return "preferences not saved: no config file (netop setup writes one)".to_string();
    };
    match save::save(path, prefs) {
        Ok(true) => format!("saved to {}", path.display()),
        Ok(false) => format!("not saved: {} is gone", path.display()),
        Err(e) => format!("cannot save to {}: {e}", path.display()),
    }
}

fn write_export(dir: &Path, export: &Export) -> String {
    let path = dir.join(&export.name);
    match std::fs::write(&path, &export.contents) {
        Ok(()) => format!("exported to {}", path.display()),
        Err(e) => format!("cannot export to {}: {e}", path.display()),
    }
}

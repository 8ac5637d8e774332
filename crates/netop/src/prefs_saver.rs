//! The thread that saves the monitor's preferences into the config file.
//!
//! The screen thread is Landlocked and runs without CAP_DAC_OVERRIDE, so
//! under sudo it could not write into the user's `~/.config/netop`. This
//! thread is started before confinement: it takes the file owner's
//! identity for file access (`setfsuid`/`setfsgid`, this thread only), so
//! the saved file stays the user's, then confines itself like the others,
//! with Landlock allowing writes only in the config file's directory. It
//! saves what the screen sends and answers with one status line.

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread;

use netop::config::save::{self, Prefs};

use crate::platform;

/// The screen's end: preferences in, status lines out.
#[derive(Debug)]
pub struct Saver {
    pub prefs: Sender<Prefs>,
    pub results: Receiver<String>,
}

/// Starts the thread for the config file at `path` (which exists).
pub fn spawn(path: PathBuf) -> std::io::Result<Saver> {
    let (prefs_tx, prefs_rx) = mpsc::channel::<Prefs>();
    let (results_tx, results) = mpsc::channel::<String>();
    let owner = std::fs::metadata(&path).map(|m| (m.uid(), m.gid()))?;
    thread::Builder::new()
        .name("netop-prefs".into())
        .spawn(move || {
            // SAFETY: setfsgid/setfsuid change this thread's file-system
            // identity only (raw syscalls); they cannot fail in a way that
            // matters here: a refused change shows as a failed save below.
            unsafe {
                libc::setfsgid(owner.1);
                libc::setfsuid(owner.0);
            }
            let dir = path.parent().map(PathBuf::from).unwrap_or_default();
            let held = platform::confine_writer(dir);
            tracing::debug!(%held, "preferences thread confined");
            while let Ok(mut prefs) = prefs_rx.recv() {
                // Only the newest of a burst (a key held down) is written.
                while let Ok(newer) = prefs_rx.try_recv() {
                    prefs = newer;
                }
                let line = match save::save(&path, &prefs) {
                    Ok(true) => format!("saved to {}", path.display()),
                    Ok(false) => format!("not saved: {} is gone", path.display()),
                    Err(e) => format!("cannot save to {}: {e}", path.display()),
                };
                if results_tx.send(line).is_err() {
                    break;
                }
            }
        })?;
    Ok(Saver {
        prefs: prefs_tx,
        results,
    })
}

//! `--confinement-probe FILE` (hidden, for the end-to-end tests): proof
//! from inside that the thread parsing packets is confined.
//!
//! A capture wrapper, so the probe runs on whichever thread calls
//! [`Capture::dispatch`], the packet thread, whatever mode runs it, at
//! its first batch (after start-up and confinement). It tries to create
//! FILE for writing and to read where a descriptor of its parent process
//! points (`/proc/PPID/fd`, a ptrace-mode access Landlock denies outside
//! the thread's domain), and writes one stderr line with each outcome. It never writes into FILE: a file created is
//! left empty for the test to find.

use std::path::PathBuf;

use netop_core::{Batch, Capture, CaptureError, CaptureHealth, CaptureStats, Frame, Poll};

/// Wraps `capture` when the flag asks for a probe.
pub fn wrap(capture: Box<dyn Capture>, probe: Option<&PathBuf>) -> Box<dyn Capture> {
    match probe {
        Some(path) => Box::new(Probed {
            inner: capture,
            path: Some(path.clone()),
        }),
        None => capture,
    }
}

struct Probed {
    inner: Box<dyn Capture>,
    /// Taken by the first batch.
    path: Option<PathBuf>,
}

impl Probed {
    fn probe(&mut self) {
        let Some(path) = self.path.take() else {
            return;
        };
        let outcome = |result: std::io::Result<()>| match result {
            Ok(()) => "allowed".to_string(),
            Err(e) => format!("denied ({e})"),
        };
        let write = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map(drop);
        // Reading where a descriptor points is the ptrace-mode check.
        let parent = std::os::unix::process::parent_id();
        let fds = format!("/proc/{parent}/fd");
        let ptrace = std::fs::read_dir(&fds).and_then(|mut dir| match dir.next() {
            Some(entry) => std::fs::read_link(entry?.path()).map(drop),
            None => Ok(()),
        });
        eprintln!(
            "netop: confinement probe on the packet thread (tid {}): create {}: {}; read {fds}: {}",
            thread_id(),
            path.display(),
            outcome(write),
            outcome(ptrace),
        );
    }
}

#[cfg(target_os = "linux")]
fn thread_id() -> i64 {
    // SAFETY: gettid takes no arguments and cannot fail.
    i64::from(unsafe { libc::gettid() })
}

#[cfg(not(target_os = "linux"))]
fn thread_id() -> i64 {
    0
}

impl Capture for Probed {
    fn next_frame(&mut self) -> Result<Poll<'_>, CaptureError> {
        self.probe();
        self.inner.next_frame()
    }

    fn dispatch(&mut self, each: &mut dyn FnMut(&Frame<'_>)) -> Result<Batch, CaptureError> {
        self.probe();
        self.inner.dispatch(each)
    }

    // Forwarded, not left to the trait's defaults: a kernel counter
    // hands its deltas over here, not as frames.
    fn dispatch_into(&mut self, engine: &mut netop_core::Engine) -> Result<Batch, CaptureError> {
        self.probe();
        self.inner.dispatch_into(engine)
    }

    fn flush_into(&mut self, engine: &mut netop_core::Engine) {
        self.inner.flush_into(engine);
    }

    fn counting(&self) -> netop_core::Counting {
        self.inner.counting()
    }

    fn stats(&mut self) -> Result<CaptureStats, CaptureError> {
        self.inner.stats()
    }

    fn health(&self) -> CaptureHealth {
        self.inner.health()
    }
}

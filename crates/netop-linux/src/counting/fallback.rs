//! [`Fallback`]: the libpcap capture a run uses when kernel counting was
//! asked for and cannot run, saying why (`--diagnostics`, the status
//! bar, a snapshot's stderr line).

use netop_core::{
    Batch, Capture, CaptureError, CaptureHealth, CaptureStats, Counting, Engine, Frame, Poll,
};

/// A packet capture standing in for kernel counting.
pub struct Fallback {
    inner: Box<dyn Capture>,
    reason: String,
}

impl std::fmt::Debug for Fallback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fallback")
            .field("reason", &self.reason)
            .finish_non_exhaustive()
    }
}

impl Fallback {
    pub fn new(inner: Box<dyn Capture>, reason: String) -> Fallback {
        Fallback { inner, reason }
    }
}

impl Capture for Fallback {
    fn next_frame(&mut self) -> Result<Poll<'_>, CaptureError> {
        self.inner.next_frame()
    }

    fn dispatch(&mut self, each: &mut dyn FnMut(&Frame<'_>)) -> Result<Batch, CaptureError> {
        self.inner.dispatch(each)
    }

    fn dispatch_into(&mut self, engine: &mut Engine) -> Result<Batch, CaptureError> {
        self.inner.dispatch_into(engine)
    }

    fn flush_into(&mut self, engine: &mut Engine) {
        self.inner.flush_into(engine);
    }

    fn counting(&self) -> Counting {
        Counting::Fallback {
            reason: self.reason.clone(),
        }
    }

    fn stats(&mut self) -> Result<CaptureStats, CaptureError> {
        self.inner.stats()
    }

    fn health(&self) -> CaptureHealth {
        self.inner.health()
    }
}

//! A live capture that survives losing its interface.
//!
//! An interface can disappear (a veth deleted with its container, a USB
//! adapter pulled), go down, or be re-created under the same name while
//! netop runs; libpcap then fails the handle. [`ReopeningCapture`] keeps
//! what was collected, closes the dead handle and reopens the device with
//! exponential backoff (100 ms doubling to 5 s), and besides the backoff
//! watches the interface itself (its index and whether it is up, as the
//! [`Platform`] reads them, every read timeout), so a device that comes back is read again within a read
//! timeout or two rather than at the next backoff step. Errors that cannot
//! heal by waiting (permission) still end the capture at once.
//!
//! It records each gap ([`CaptureHealth`]) for the frontend to show, and
//! adds up the kernel counters of every handle it closed.

use std::time::{Duration, Instant};

use netop_core::{Batch, Capture, CaptureError, CaptureHealth, CaptureStats, Frame, Gap, Poll};

use crate::live::{CaptureOptions, PcapCapture};
use crate::platform::{LinkState, Platform};

/// The first wait before reopening a lost device.
const FIRST_RETRY: Duration = Duration::from_millis(100);
/// The longest wait between two reopening attempts.
const LAST_RETRY: Duration = Duration::from_secs(5);
/// Healed gaps remembered for the report; older ones are forgotten.
const MAX_GAPS: usize = 1000;

/// When to try again: 100 ms after the loss, then doubling to 5 s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Backoff {
    delay: Duration,
    next: Instant,
}

impl Backoff {
    /// The schedule after a loss at `now`.
    pub(crate) fn start(now: Instant) -> Self {
        Backoff {
            delay: FIRST_RETRY,
            next: now + FIRST_RETRY,
        }
    }

    /// Whether an attempt is due at `now`.
    pub(crate) fn due(&self, now: Instant) -> bool {
        now >= self.next
    }

    /// An attempt at `now` failed: wait twice as long (at most 5 s).
    pub(crate) fn failed(&mut self, now: Instant) {
        self.delay = (self.delay * 2).min(LAST_RETRY);
        self.next = now + self.delay;
    }

    /// The time until the next attempt.
    pub(crate) fn wait(&self, now: Instant) -> Duration {
        self.next.saturating_duration_since(now)
    }
}

/// An outage in progress.
#[derive(Debug)]
struct Outage {
    since: Instant,
    backoff: Backoff,
    /// The link as it was at the last failed attempt.
    seen: LinkState,
}

/// A [`PcapCapture`] that reopens its device when it is lost.
#[derive(Debug)]
pub struct ReopeningCapture {
    opts: CaptureOptions,
    platform: Box<dyn Platform>,
    device: String,
    live: Option<PcapCapture>,
    opened: Instant,
    outage: Option<Outage>,
    healed: Vec<Gap>,
    /// Counters of the handles already closed.
    retired: CaptureStats,
    /// The live handle's counters at the last read.
    last: CaptureStats,
    wait: Duration,
    /// An error of `next_frame` not yet acted on.
    failed: Option<CaptureError>,
}

impl ReopeningCapture {
    /// Opens the capture with `platform`'s settings (kept for every
    /// reopening); errors here are not retried (a typo or missing
    /// privilege must fail at once).
    pub fn open(opts: &CaptureOptions, platform: Box<dyn Platform>) -> Result<Self, CaptureError> {
        let live = PcapCapture::open(opts, platform.as_ref())?;
        Ok(ReopeningCapture {
            device: live.device().to_string(),
            opts: opts.clone(),
            platform,
            live: Some(live),
            opened: Instant::now(),
            outage: None,
            healed: Vec::new(),
            retired: CaptureStats::default(),
            last: CaptureStats::default(),
            wait: Duration::from_millis(u64::try_from(opts.read_timeout_ms.max(1)).unwrap_or(100)),
            failed: None,
        })
    }

    /// The device this capture reads from.
    pub fn device(&self) -> &str {
        &self.device
    }

    /// The live handle failed with `err`: keep its counters, close it and
    /// start reopening, unless the error cannot heal.
    fn lost(&mut self, err: CaptureError) -> Result<(), CaptureError> {
        if matches!(err, CaptureError::PermissionDenied { .. }) {
            return Err(err);
        }
        if let Some(mut dead) = self.live.take() {
            if let Ok(stats) = dead.stats() {
                self.last = stats;
            }
        }
        self.retired = add(self.retired, self.last);
        self.last = CaptureStats::default();
        let now = Instant::now();
        tracing::info!(device = %self.device, error = %err, "capture lost; reopening");
        self.outage = Some(Outage {
            since: now,
            backoff: Backoff::start(now),
            seen: self.platform.link_state(&self.device),
        });
        Ok(())
    }

    /// While the device is gone: wait one read timeout at most, then try
    /// to reopen if the backoff says so or the device came back.
    fn retry(&mut self) -> Result<(), CaptureError> {
        let Some(outage) = self.outage.as_mut() else {
            return Ok(());
        };
        let now = Instant::now();
        let link = self.platform.link_state(&self.device);
        let changed = link != outage.seen && link.usable();
        if !changed && !outage.backoff.due(now) {
            std::thread::sleep(outage.backoff.wait(now).min(self.wait));
            return Ok(());
        }
        match PcapCapture::open(&self.opts, self.platform.as_ref()) {
            Ok(live) => {
                let back = Instant::now();
                let gap = Gap {
                    device: self.device.clone(),
                    after: outage.since - self.opened,
                    length: back - outage.since,
                };
                tracing::info!(device = %self.device, gone = ?gap.length, "capture reopened");
                if self.healed.len() == MAX_GAPS {
                    self.healed.remove(0);
                }
                self.healed.push(gap);
                self.outage = None;
                self.live = Some(live);
                Ok(())
            }
            Err(err @ CaptureError::PermissionDenied { .. }) => Err(err),
            Err(err) => {
                tracing::debug!(device = %self.device, error = %err, "reopening failed");
                outage.seen = link;
                outage.backoff.failed(Instant::now());
                Ok(())
            }
        }
    }
}

fn add(a: CaptureStats, b: CaptureStats) -> CaptureStats {
    CaptureStats {
        received: a.received + b.received,
        dropped: a.dropped + b.dropped,
        if_dropped: a.if_dropped + b.if_dropped,
    }
}

impl Capture for ReopeningCapture {
    fn next_frame(&mut self) -> Result<Poll<'_>, CaptureError> {
        if let Some(err) = self.failed.take() {
            self.lost(err)?;
        }
        if self.live.is_none() {
            self.retry()?;
            return Ok(Poll::Idle);
        }
        let Some(live) = self.live.as_mut() else {
            return Ok(Poll::Idle);
        };
        match live.next_frame() {
            Ok(poll) => Ok(poll),
            Err(err @ CaptureError::PermissionDenied { .. }) => Err(err),
            // Handled on the next call: the returned frame borrows the
            // handle, so it cannot be replaced here.
            Err(err) => {
                self.failed = Some(err);
                Ok(Poll::Idle)
            }
        }
    }

    fn dispatch(&mut self, each: &mut dyn FnMut(&Frame<'_>)) -> Result<Batch, CaptureError> {
        if let Some(err) = self.failed.take() {
            self.lost(err)?;
        }
        let Some(live) = self.live.as_mut() else {
            self.retry()?;
            return Ok(Batch::Idle);
        };
        match live.dispatch(each) {
            Ok(batch) => Ok(batch),
            Err(err) => {
                self.lost(err)?;
                Ok(Batch::Idle)
            }
        }
    }

    fn stats(&mut self) -> Result<CaptureStats, CaptureError> {
        if let Some(live) = self.live.as_mut() {
            if let Ok(stats) = live.stats() {
                self.last = stats;
            }
        }
        Ok(add(self.retired, self.last))
    }

    fn health(&self) -> CaptureHealth {
        CaptureHealth {
            gone: self.outage.as_ref().map(|o| Gap {
                device: self.device.clone(),
                after: o.since - self.opened,
                length: o.since.elapsed(),
            }),
            healed: self.healed.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_100_ms_to_5_s() {
        let t0 = Instant::now();
        let mut b = Backoff::start(t0);
        assert!(!b.due(t0));
        assert!(b.due(t0 + Duration::from_millis(100)));
        let mut now = t0 + Duration::from_millis(100);
        let mut waits = Vec::new();
        for _ in 0..8 {
            b.failed(now);
            waits.push(b.wait(now).as_millis());
            now += b.wait(now);
            assert!(b.due(now));
        }
        assert_eq!(waits, [200, 400, 800, 1600, 3200, 5000, 5000, 5000]);
    }
}

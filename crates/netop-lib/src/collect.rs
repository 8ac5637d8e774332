//! The capture loop: frames from the backend into the engine, socket and
//! address refreshes once a second, until the deadline, the end of a
//! replayed file, or a stop request (Ctrl-C, SIGTERM, `q` in the monitor).
//!
//! The one loop of every run: the binary's snapshot, monitor, stream and
//! service, and the library's [`Monitor`](crate::Monitor). The monitor and
//! the library run it on a thread of their own with a [`Tick`]: at every
//! refresh the socket table is read in full (they show every socket and
//! port, not only those of new flows) and the tick hands a report on
//! without waiting for its reader.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use netop_core::engine::SearchPacer;
use netop_core::{Batch, Capture, CaptureHealth, Engine, SocketResolver, SystemClock};

use netop_core::Backend;

/// How often sockets and addresses are re-read.
const REFRESH_EVERY: Duration = Duration::from_secs(1);
/// What frees enough to hand the heap back to the kernel: processes
/// forgotten in one lifecycle round, or sockets gone between two tables
/// (a burst's TIME_WAIT sockets expiring), or, at the least, a minute.
const RELEASE_AFTER_FORGETTING: u64 = 256;
const RELEASE_AFTER_SOCKETS_GONE: usize = 1024;
const RELEASE_EVERY: Duration = Duration::from_secs(60);
/// Longest time between two full socket tables in the monitor.
const MAX_FULL_TABLE_SPACING: Duration = Duration::from_secs(10);
/// Time for the searches still queued when a collection ends.
const FINAL_LOOKUP_BUDGET: Duration = Duration::from_millis(200);
/// Frames handled between two looks at the clock and the stop flag.
const FRAMES_PER_CHECK: usize = 256;

/// Now, as capture timestamps count (since the Unix epoch).
fn wall_clock() -> Duration {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
}

/// How a collection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The requested duration passed.
    Deadline,
    /// A replayed capture ran out of frames.
    EndOfCapture,
    /// A stop was requested.
    Interrupted {
        /// How long the collection ran.
        elapsed: Duration,
    },
}

/// What the backend lost so far, beside the engine's own counters: gaps
/// in the capture and owner events the kernel dropped.
#[derive(Debug, Clone, Default)]
pub struct Health {
    /// The capture's gaps (a lost interface, a reopen).
    pub capture: CaptureHealth,
    /// Owner events the kernel dropped (the eBPF ring was full).
    pub lost_events: u64,
}

impl Health {
    /// Asks the backend's parts.
    pub fn of(capture: &dyn Capture, resolver: &dyn SocketResolver) -> Self {
        Health {
            capture: capture.health(),
            lost_events: resolver.lost_events(),
        }
    }
}

/// Periodic work during a collection: the monitor's refresh.
pub struct Tick<'a> {
    /// The refresh interval.
    pub every: Duration,
    /// Called after each refresh.
    pub run: &'a mut dyn FnMut(&mut Engine, &Health),
}

impl std::fmt::Debug for Tick<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tick").field("every", &self.every).finish()
    }
}

/// Runs the engine over the backend for `duration` (`None`: until
/// stopped).
pub fn run(
    backend: &mut Backend,
    engine: &mut Engine,
    duration: Option<Duration>,
    stop: &AtomicBool,
    mut tick: Option<Tick<'_>>,
) -> anyhow::Result<Ending> {
    let full_tables = tick.is_some();
    let refresh_every = tick.as_ref().map_or(REFRESH_EVERY, |t| t.every);
    // A live capture's clock is the wall clock (an idle interface brings
    // no frames, yet flows and processes age); a replay's is its frames'.
    let live = backend.owners.is_some();
    let Backend {
        capture,
        resolver,
        interfaces,
        sockets,
        ..
    } = backend;
    // The socket table is read at the start, then only while some flow
    // waits for its owner: new flows are looked up one by one as they
    // appear, so an idle or fully attributed host costs no table dumps.
    let refresh = |engine: &mut Engine,
                   resolver: &mut Box<dyn netop_core::SocketResolver>,
                   interfaces: &mut Box<dyn netop_core::HostInterfaces>,
                   always: bool| {
        match interfaces.interfaces() {
            Ok(list) => engine.set_interfaces(&list),
            Err(e) => tracing::warn!(error = %e, "cannot list interfaces"),
        }
        if !always && !engine.has_pending() {
            return None;
        }
        let started = Instant::now();
        match resolver.sockets() {
            Ok(table) => engine.refresh(table),
            Err(e) => tracing::warn!(error = %e, "cannot read the socket table"),
        }
        Some(started.elapsed())
    };

    engine.set_visible_uid(resolver.visible_uid());
    match sockets.take() {
        Some(table) => {
            engine.refresh(table);
            refresh(engine, resolver, interfaces, false);
        }
        None => {
            refresh(engine, resolver, interfaces, true);
        }
    }
    if let Some(tick) = tick.as_mut() {
        (tick.run)(engine, &Health::of(capture.as_ref(), resolver.as_ref()));
    }
    let start = Instant::now();
    let deadline = duration.map(|d| start + d);
    let mut last_refresh = start;
    let (mut last_full, mut dump_cost) = (start, Duration::ZERO);
    let mut since_check = 0usize;
    // Frame time of the last look at exited owners.
    let mut owners_checked = engine.latest();
    // The monitor's heap hand-backs: when, and the socket count then.
    let (mut last_release, mut last_sockets) = (start, 0usize);
    // Owner searches get a quarter of the loop's time (see SearchPacer).
    let mut pacer = SearchPacer::default();
    let ending = loop {
        // Sockets that changed hands since the last batch: this batch's
        // bytes go to their new owner.
        engine.update_owners(resolver.as_mut());
        let batch = capture
            .dispatch(&mut |frame| engine.ingest(frame))
            .context("capture failed")?;
        // Owner searches of the batch's new flows, off the packet path,
        // in their share of the loop's time.
        if engine.pending_lookups() > 0 {
            let budget = pacer.budget(Instant::now());
            let done = engine.resolve_pending(resolver.as_mut(), &SystemClock, budget);
            pacer.spent(done.took);
        }
        if engine.take_unlisted_interface() {
            match interfaces.interfaces() {
                Ok(list) => engine.set_interfaces(&list),
                Err(e) => tracing::warn!(error = %e, "cannot list interfaces"),
            }
        }
        match batch {
            Batch::Frames(n) => {
                since_check += n;
                if since_check < FRAMES_PER_CHECK {
                    continue;
                }
            }
            Batch::Idle => {}
            Batch::Closed => break Ending::EndOfCapture,
        }
        since_check = 0;
        let now = Instant::now();
        if stop.load(Ordering::Relaxed) {
            break Ending::Interrupted {
                elapsed: now - start,
            };
        }
        if deadline.is_some_and(|d| now >= d) {
            break Ending::Deadline;
        }
        if now - last_refresh >= refresh_every {
            // The monitor re-reads every socket, but spends at most about
            // 0.2% of the time doing so: on a host with thousands of
            // sockets the kernel's dump is the cost of an idle monitor.
            // One slow dump (a burst of processes to name) must not leave
            // the screen's sockets stale for long: at most 10 s.
            let spacing =
                (dump_cost * 500).clamp(refresh_every, MAX_FULL_TABLE_SPACING.max(refresh_every));
            let full = full_tables && now - last_full >= spacing;
            if let Some(cost) = refresh(engine, resolver, interfaces, full) {
                if full {
                    dump_cost = cost;
                    last_full = now;
                }
            }
            engine.recheck_exited(owners_checked, resolver.as_mut());
            owners_checked = engine.latest();
            let clock = if live {
                wall_clock().max(engine.latest())
            } else {
                engine.latest()
            };
            engine.expire(clock);
            let forgotten = engine.stats().processes_forgotten;
            engine.age_processes(clock, resolver.as_mut());
            if full_tables {
                let sockets = engine.socket_count();
                let freed = engine.stats().processes_forgotten
                    >= forgotten + RELEASE_AFTER_FORGETTING
                    || sockets + RELEASE_AFTER_SOCKETS_GONE <= last_sockets
                    || now - last_release >= RELEASE_EVERY;
                if freed {
                    crate::platform::release_memory();
                    last_release = now;
                }
                last_sockets = sockets;
            }
            last_refresh = now;
            if let Some(tick) = tick.as_mut() {
                match capture.stats() {
                    Ok(stats) => engine.set_capture_stats(stats),
                    Err(e) => tracing::debug!(error = %e, "cannot read capture statistics"),
                }
                (tick.run)(engine, &Health::of(capture.as_ref(), resolver.as_ref()));
            }
        }
    };
    // The searches still queued, then one last table, so flows that
    // started since the last one find owners.
    engine.resolve_pending(resolver.as_mut(), &SystemClock, FINAL_LOOKUP_BUDGET);
    refresh(engine, resolver, interfaces, false);
    match capture.stats() {
        Ok(stats) => engine.set_capture_stats(stats),
        Err(e) => tracing::warn!(error = %e, "cannot read capture statistics"),
    }
    Ok(ending)
}

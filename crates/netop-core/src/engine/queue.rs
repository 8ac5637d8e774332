//! Owner searches off the packet path.
//!
//! A flow the last socket table does not explain needs an owner search:
//! on Linux a sock_diag round trip, perhaps conntrack, other namespaces and
//! `/proc` scans. Done inside [`Engine::ingest`], a port scan or a flood of
//! new flows turned into system calls per packet, and the capture fell
//! behind. So the packet path only queues the flow (its bytes wait in the
//! unknown bucket under a provisional reason), and the capture loop calls
//! [`Engine::resolve_pending`] between batches with a time budget: flows
//! are searched oldest first until the queue is empty or the budget is
//! spent, and an owner found moves the bytes as a late table answer does.
//! On an idle machine a batch is a few frames, so a short-lived
//! connection is searched for within about a millisecond of its first
//! packet, while its socket still exists.
//!
//! The queue is bounded: past [`MAX_QUEUED`] flows a new one is not
//! queued and waits for the next socket table instead (a flood must not
//! grow memory), and it is searched again on a later packet like any
//! flow whose search failed.

use std::collections::VecDeque;
use std::time::Duration;

use crate::clock::Clock;
use crate::flow::PackedKey;
use crate::socket::SocketResolver;
use crate::unknown::UnknownReason;

use super::Engine;

/// Flows waiting at most.
pub(super) const MAX_QUEUED: usize = 4096;

/// Flows waiting for an owner search, oldest first.
#[derive(Debug, Default)]
pub(super) struct LookupQueue {
    keys: VecDeque<PackedKey>,
    /// Flows not queued because the queue was full.
    pub(super) overflowed: u64,
}

impl LookupQueue {
    /// Queues a flow; false when the queue is full.
    pub(super) fn push(&mut self, key: PackedKey) -> bool {
        if self.keys.len() >= MAX_QUEUED {
            self.overflowed += 1;
            return false;
        }
        self.keys.push_back(key);
        true
    }

    pub(super) fn len(&self) -> usize {
        self.keys.len()
    }
}

/// How much time the owner searches may take, as a share of the capture
/// loop's time: the budget a call of [`Engine::resolve_pending`] gets.
///
/// A fixed budget per batch let a flood of new flows spend most of the
/// loop's time searching while the kernel's ring overflowed, dropping the
/// packets of established flows too. The pacer gives the searches a share
/// of the time (a quarter by default) and lets an idle loop save up a
/// little (a few milliseconds), so on a quiet machine a new short-lived
/// connection is searched for at once, and under a flood the capture
/// keeps most of the time.
#[derive(Debug, Clone)]
pub struct SearchPacer {
    /// Share of the elapsed time the searches may use.
    share: f64,
    /// Most the allowance saves up.
    most: Duration,
    allowance: Duration,
    last: Option<std::time::Instant>,
}

impl Default for SearchPacer {
    fn default() -> Self {
        SearchPacer::new(0.25, Duration::from_millis(4))
    }
}

impl SearchPacer {
    pub fn new(share: f64, most: Duration) -> Self {
        SearchPacer {
            share: share.clamp(0.0, 1.0),
            most,
            allowance: most,
            last: None,
        }
    }

    /// The budget for searches now (what was saved since the last call).
    pub fn budget(&mut self, now: std::time::Instant) -> Duration {
        if let Some(last) = self.last {
            let earned = now.saturating_duration_since(last).mul_f64(self.share);
            self.allowance = (self.allowance + earned).min(self.most);
        }
        self.last = Some(now);
        self.allowance
    }

    /// The searches took `spent` of the budget.
    pub fn spent(&mut self, spent: Duration) {
        self.allowance = self.allowance.saturating_sub(spent);
    }
}

/// What one [`Engine::resolve_pending`] call did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Resolved {
    /// Owner searches run.
    pub searched: usize,
    /// Of those, flows that got an owner.
    pub found: usize,
    /// Flows still waiting (the budget ran out first).
    pub left: usize,
    /// Time the searches took.
    pub took: Duration,
}

impl Engine {
    /// Runs the queued owner searches, oldest first (after asking about
    /// the batch's socket cookies: a flow one names is not searched), until none is left or
    /// `budget` (measured on `clock`) is spent; at least one search runs
    /// when any waits, so the queue always moves. Call it between capture
    /// batches, with the budget of a [`SearchPacer`].
    pub fn resolve_pending(
        &mut self,
        resolver: &mut dyn SocketResolver,
        clock: &dyn Clock,
        budget: Duration,
    ) -> Resolved {
        let mut done = Resolved::default();
        // Flows a socket cookie names need no search by tuple.
        self.resolve_cookies(resolver);
        if self.queue.len() == 0 {
            if !self.deferred_dns.is_empty() {
                self.flush_dns();
            }
            return done;
        }
        let started = clock.now();
        while let Some(packed) = self.queue.keys.pop_front() {
            let Some(entry) = self.flows.get_mut(&packed) else {
                continue;
            };
            entry.queued = false;
            // A socket table read since it was queued may have placed it.
            if entry.slot.is_some() {
                continue;
            }
            entry.tries = entry.tries.saturating_add(1);
            entry.last_try = self.latest;
            let (key, opened_by) = (packed.key(), entry.flow.opened_by);
            // A first search ends the provisional identity (its own key,
            // see `Engine::account`).
            let provisional = entry.tries == 1 && entry.why == UnknownReason::Forwarded;
            done.searched += 1;
            match self.owner_of(&key, opened_by, resolver) {
                Ok(owner) => {
                    self.attach(&packed, owner);
                    done.found += 1;
                }
                Err(why) => {
                    // Nobody listens: a probe, a scan, a flood. Such a flow
                    // is forgotten as soon as a closed one.
                    if why == UnknownReason::NoListener {
                        if let Some(entry) = self.flows.get_mut(&packed) {
                            entry.flow.closing = true;
                        }
                    }
                    self.refile(&packed, why);
                    if provisional && why == UnknownReason::Forwarded {
                        self.seats.exit(&packed);
                        self.reidentify(&packed, &key, why, None);
                    }
                }
            }
            if clock.now().saturating_duration_since(started) >= budget {
                break;
            }
        }
        done.left = self.queue.len();
        done.took = clock.now().saturating_duration_since(started);
        self.flush_dns();
        done
    }

    /// Flows waiting for an owner search.
    pub fn pending_lookups(&self) -> usize {
        self.queue.len()
    }

    /// Flows that found the queue full so far (they wait for a table).
    pub fn lookups_overflowed(&self) -> u64 {
        self.queue.overflowed
    }

    /// [`Engine::ingest`] followed by every queued search at once: the
    /// engine as if searches were free. For tests, fuzzing and tools that
    /// feed single frames; a capture loop uses
    /// [`Engine::resolve_pending`] with a budget.
    pub fn ingest_resolved(
        &mut self,
        frame: &crate::capture::Frame<'_>,
        resolver: &mut dyn SocketResolver,
    ) {
        self.ingest(frame);
        self.resolve_pending(resolver, &crate::clock::SystemClock, Duration::MAX);
    }
}

#[cfg(test)]
#[path = "queue_tests.rs"]
mod tests;

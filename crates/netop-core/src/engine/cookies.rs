//! Owners by socket cookie: a kernel counter's delta names the socket
//! that sent its packets (`FlowDelta::cookie`, egress of a local socket),
//! and the event source records the same cookie with the socket's owner
//! (the backend's owner cache keeps that index, `owners/cache.rs`). Such a
//! flow needs no tuple search: its sending side belongs to the cookie's
//! process, even where the tuple is ambiguous (SO_REUSEPORT sockets of
//! several processes on one port, a flow seen after the host's NAT) or
//! the socket table's answer is stale (a socket that changed hands).
//!
//! The seam is [`SocketResolver::cookie_owners`], asked once per capture
//! batch (from [`Engine::update_owners`], and before the queued tuple
//! searches in [`Engine::resolve_pending`], so a new flow whose cookie
//! is known is never searched by tuple). The resolver lives on another
//! thread (Linux's owner thread), so a question per delta would cost a
//! round trip each; the engine instead remembers the answers here
//! (cookie to pid and start time, bounded) and credits a delta whose
//! cookie it knows at once, through the same per-side owner hint a PKTAP
//! header gives (`engine/tap.rs`). Cookies it does not know are collected
//! during the batch and asked after it; their first bytes go the tuple
//! way (a table's owner, or unknown while queued) and move once the
//! answer comes, as a late table answer moves them. A cookie no answer
//! came for is asked a few times, then left to the tuple search. Sockets
//! that change hands keep their cookie: the resolver reports those
//! cookies again with their new owner, asked or not.

use rustc_hash::FxHashMap;

use super::slots::Slots;
use super::{Engine, Owner, ProcessState};
use crate::flow::{FlowKey, PackedKey};
use crate::socket::{ProcessInfo, SocketResolver};

/// Cookies remembered at most, known or unanswered; past it the memo
/// starts again (known cookies are then asked once more). The owner
/// cache's cookie index keeps as many (a quarter of
/// `owners::DEFAULT_CAPACITY`); a full memo is about 0.8 MB.
const MAX_REMEMBERED: usize = crate::owners::DEFAULT_CAPACITY / 4;
/// Flows waiting for their cookie's answer per batch; more wait for the
/// next batch's delta of the same flow.
const MAX_WANTED: usize = 4096;
/// Times a cookie is asked without an answer before the tuple search is
/// left to answer alone (as a flow is looked up at most four times).
const MAX_ASKS: u8 = 4;

/// What the memo says of a delta's cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CookieSlot {
    /// Its owner's process slot.
    Known(usize),
    /// Not known yet: asked after this batch (a new flow of it waits for
    /// the answer rather than take the socket table's, see `Update`).
    Asked,
    /// Asked often enough without an answer: the tuple answers alone.
    Unknown,
}

/// The engine's memo of cookie answers; see the module doc.
#[derive(Debug, Default)]
pub(super) struct CookieMemo {
    /// Cookie → the owner's (pid, start time).
    known: FxHashMap<u64, (u32, u64)>,
    /// Cookie → times asked without an answer.
    unanswered: FxHashMap<u64, u8>,
    /// This batch's cookies to ask, each with the flow (its sending side)
    /// that carried it.
    wanted: Vec<(u64, PackedKey, FlowKey)>,
    /// A delta with a cookie was seen: from then on the resolver is asked
    /// every batch (it reports changes of hands).
    active: bool,
}

impl Engine {
    /// The process slot a delta's cookie names, if the memo knows it; a
    /// cookie it does not know is noted for the next question. `key` is
    /// the delta's sending side.
    pub(super) fn cookie_slot(&mut self, cookie: u64, key: &FlowKey) -> CookieSlot {
        if !key.proto.has_ports() {
            // The event source tells of TCP and UDP sockets only (an
            // ICMPv6 packet of the kernel's own socket has a cookie too).
            return CookieSlot::Unknown;
        }
        let memo = &mut self.cookies;
        memo.active = true;
        if let Some(&(pid, start)) = memo.known.get(&cookie) {
            if let Some(slot) = kept_process(&self.processes, pid, start) {
                return CookieSlot::Known(slot);
            }
            // The process was forgotten (or its pid reused): ask again.
            memo.known.remove(&cookie);
        }
        let asked = memo.unanswered.get(&cookie).copied().unwrap_or(0);
        if asked < MAX_ASKS && memo.wanted.len() < MAX_WANTED {
            memo.wanted.push((cookie, PackedKey::from(key), *key));
            return CookieSlot::Asked;
        }
        CookieSlot::Unknown
    }

    /// Notes that a delta of `key`'s flow was credited by its cookie to
    /// `slot`: counted when that gave the flow its owner or a new one.
    pub(super) fn count_cookie_owner(&mut self, key: &FlowKey, slot: usize) {
        let current = self.flows.get(&PackedKey::from(key)).and_then(|e| e.slot);
        if current != Some(slot) {
            self.stats.cookie_owners += 1;
        }
    }

    /// Asks the resolver about the cookies this batch's deltas carried
    /// that the memo did not know, and hears of cookies whose socket
    /// changed hands; the flows waiting for an answer get their owner
    /// (unknown bytes move to it, a stale owner is replaced).
    pub(super) fn resolve_cookies(&mut self, resolver: &mut dyn SocketResolver) {
        if !self.cookies.active {
            return;
        }
        let wanted = std::mem::take(&mut self.cookies.wanted);
        let mut asked: Vec<u64> = wanted.iter().map(|w| w.0).collect();
        asked.sort_unstable();
        asked.dedup();
        let answers = resolver.cookie_owners(&asked);
        // Started again with new maps: `clear` would keep a full memo's
        // room (about 0.8 MB) for good.
        if self.cookies.known.len() + answers.len() > MAX_REMEMBERED {
            self.cookies.known = FxHashMap::default();
        }
        if self.cookies.unanswered.len() + asked.len() > MAX_REMEMBERED {
            self.cookies.unanswered = FxHashMap::default();
        }
        let mut slots: FxHashMap<u64, usize> = FxHashMap::default();
        for (cookie, info) in answers {
            let slot = self.remember_cookie(cookie, info);
            slots.insert(cookie, slot);
        }
        for cookie in asked {
            if !slots.contains_key(&cookie) {
                let n = self.cookies.unanswered.entry(cookie).or_insert(0);
                *n = n.saturating_add(1);
            }
        }
        for (cookie, packed, key) in wanted {
            if let Some(&slot) = slots.get(&cookie) {
                self.count_cookie_owner(&key, slot);
                self.repoint(&packed, Owner { slot, view: key });
            }
        }
    }

    /// After the lifecycle forgot processes: forgets the cookies of
    /// processes no longer kept and the unanswered counts (mostly sockets
    /// of processes that exited before their owner was found; a cookie
    /// still in use is asked again at most [`MAX_ASKS`] times), and gives
    /// back the room a wave of short-lived processes made the memo take.
    pub(super) fn forget_cookies_of_gone(&mut self) {
        let processes = &self.processes;
        self.cookies
            .known
            .retain(|_, &mut (pid, start)| kept_process(processes, pid, start).is_some());
        crate::maps::shrink_sparse(&mut self.cookies.known);
        self.cookies.unanswered = FxHashMap::default();
    }

    fn remember_cookie(&mut self, cookie: u64, info: ProcessInfo) -> usize {
        let slot = self.register(info);
        let info = &self.processes.get(slot).info;
        self.cookies
            .known
            .insert(cookie, (info.pid, info.start_time));
        self.cookies.unanswered.remove(&cookie);
        slot
    }
}

/// The slot of the process a memo entry names, if the engine still keeps
/// it: the same pid, and the same start time where both are known (a
/// recycled pid is another process).
fn kept_process(processes: &Slots<ProcessState>, pid: u32, start: u64) -> Option<usize> {
    processes.find(pid).filter(|&slot| {
        let known = processes.get(slot).info.start_time;
        known == 0 || start == 0 || known == start
    })
}

#[cfg(test)]
#[path = "cookies_tests.rs"]
mod tests;

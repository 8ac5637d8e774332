//! Passive names: which name an address was last given as an answer for.
//!
//! A connection to 140.82.121.4 opened right after a lookup of github.com
//! is a connection to github.com; the engine asks here when a flow appears
//! (for the filter) and the views ask when they show a remote address.
//! Entries live for the record's TTL plus a grace period (connections
//! outlive TTLs); the most recent answer wins. The table is capped: when
//! full, expired entries go first, then the ones expiring soonest.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use rustc_hash::FxHashMap;

use crate::socket::canonical_ip;

#[derive(Debug, Clone)]
struct Entry {
    /// Shared between the addresses of one answer.
    name: Arc<str>,
    expires: Duration,
}

#[derive(Debug, Clone)]
pub(super) struct PassiveNames {
    by_addr: FxHashMap<IpAddr, Entry>,
    capacity: usize,
}

impl PassiveNames {
    pub(super) fn new(capacity: usize) -> Self {
        PassiveNames {
            by_addr: FxHashMap::default(),
            capacity: capacity.max(1),
        }
    }

    /// Remembers `name` for `ip` until `expires` (capture time).
    pub(super) fn learn(&mut self, ip: IpAddr, name: Arc<str>, expires: Duration, now: Duration) {
        let ip = canonical_ip(ip);
        if !self.by_addr.contains_key(&ip) && self.by_addr.len() >= self.capacity {
            self.make_room(now);
        }
        self.by_addr.insert(ip, Entry { name, expires });
    }

    /// The name of `ip` at time `now`, if one is still valid.
    pub(super) fn get(&self, ip: IpAddr, now: Duration) -> Option<&str> {
        let entry = self.by_addr.get(&canonical_ip(ip))?;
        (entry.expires > now).then_some(&*entry.name)
    }

    /// Drops names past their time.
    pub(super) fn expire(&mut self, now: Duration) {
        self.by_addr.retain(|_, e| e.expires > now);
    }

    pub(super) fn len(&self) -> usize {
        self.by_addr.len()
    }

    /// Frees at least a quarter of the table: expired entries, then those
    /// expiring soonest. Runs once per quarter-table of new addresses, so
    /// its sort is paid rarely.
    fn make_room(&mut self, now: Duration) {
        self.expire(now);
        let target = self.capacity - self.capacity / 4;
        if self.by_addr.len() <= target {
            return;
        }
        let mut times: Vec<Duration> = self.by_addr.values().map(|e| e.expires).collect();
        let cut = self.by_addr.len() - target;
        times.select_nth_unstable(cut - 1);
        let limit = times[cut - 1];
        self.by_addr.retain(|_, e| e.expires > limit);
        // Ties at the limit may leave it above target; the cap still holds
        // because nothing is inserted until there is room.
        while self.by_addr.len() >= self.capacity {
            let Some(ip) = self.by_addr.keys().next().copied() else {
                break;
            };
            self.by_addr.remove(&ip);
        }
    }
}

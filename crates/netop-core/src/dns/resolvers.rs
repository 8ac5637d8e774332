//! Per-resolver statistics, keyed by (interface, server address): counts,
//! mean latency over every answer, and the p95 of the most recent answers
//! (a fixed window, so memory stays flat however long netop runs).

use std::collections::{BTreeMap, VecDeque};
use std::net::IpAddr;
use std::time::Duration;

use super::record::{QueryStatus, ResolverStats};

#[derive(Debug, Clone, Default)]
struct Tally {
    queries: u64,
    answered: u64,
    timeouts: u64,
    failures: u64,
    latency_sum: Duration,
    recent: VecDeque<Duration>,
}

#[derive(Debug, Clone)]
pub(super) struct ResolverTable {
    /// Ordered by interface, then server: the order the view shows.
    tallies: BTreeMap<(u32, IpAddr), Tally>,
    window: usize,
    /// Most (interface, server) pairs kept; traffic to port 53 of many
    /// addresses (a scan) must not grow this without bound.
    capacity: usize,
}

impl ResolverTable {
    pub(super) fn new(window: usize, capacity: usize) -> Self {
        ResolverTable {
            tallies: BTreeMap::new(),
            window: window.max(1),
            capacity,
        }
    }

    fn tally(&mut self, ifindex: u32, server: IpAddr) -> Option<&mut Tally> {
        let key = (ifindex, server);
        if !self.tallies.contains_key(&key) && self.tallies.len() >= self.capacity {
            return None;
        }
        Some(self.tallies.entry(key).or_default())
    }

    /// Forgets the resolvers seen on interface `ifindex` (gone from the
    /// host: a container's veth, made again with a new index when it
    /// restarts).
    pub(super) fn forget_interface(&mut self, ifindex: u32) {
        self.tallies.retain(|&(index, _), _| index != ifindex);
    }

    /// A query was sent.
    pub(super) fn query(&mut self, ifindex: u32, server: IpAddr) {
        if let Some(t) = self.tally(ifindex, server) {
            t.queries += 1;
        }
    }

    /// A query ended: answered after `latency`, or timed out (`None`).
    pub(super) fn outcome(
        &mut self,
        ifindex: u32,
        server: IpAddr,
        status: QueryStatus,
        latency: Option<Duration>,
    ) {
        let window = self.window;
        let Some(t) = self.tally(ifindex, server) else {
            return;
        };
        if status.is_failure() {
            t.failures += 1;
        }
        match (status, latency) {
            (QueryStatus::Timeout, _) => t.timeouts += 1,
            (_, Some(latency)) => {
                t.answered += 1;
                t.latency_sum += latency;
                if t.recent.len() == window {
                    t.recent.pop_front();
                }
                t.recent.push_back(latency);
            }
            (_, None) => {}
        }
    }

    /// Rows for every (interface, server) seen, plus configured servers
    /// never used (zero queries); `name` names an interface.
    pub(super) fn stats(
        &self,
        configured: &[(u32, IpAddr)],
        name: impl Fn(u32) -> String,
    ) -> Vec<ResolverStats> {
        let mut keys: Vec<(u32, IpAddr)> = self.tallies.keys().copied().collect();
        keys.extend_from_slice(configured);
        keys.sort_unstable();
        keys.dedup();
        keys.into_iter()
            .map(|(ifindex, server)| {
                let empty = Tally::default();
                let t = self.tallies.get(&(ifindex, server)).unwrap_or(&empty);
                ResolverStats {
                    ifindex,
                    interface: name(ifindex),
                    server,
                    configured: configured.contains(&(ifindex, server)),
                    queries: t.queries,
                    answered: t.answered,
                    timeouts: t.timeouts,
                    failures: t.failures,
                    avg_latency: mean(t.latency_sum, t.answered),
                    p95_latency: p95(&t.recent),
                }
            })
            .collect()
    }
}

fn mean(sum: Duration, n: u64) -> Option<Duration> {
    let nanos = sum.as_nanos().checked_div(u128::from(n))?;
    Some(Duration::from_nanos(
        u64::try_from(nanos).unwrap_or(u64::MAX),
    ))
}

/// The nearest-rank 95th percentile.
fn p95(samples: &VecDeque<Duration>) -> Option<Duration> {
    if samples.is_empty() {
        return None;
    }
    let mut sorted: Vec<Duration> = samples.iter().copied().collect();
    sorted.sort_unstable();
    // Nearest rank: ceil(0.95 n), 1-based.
    let rank = (sorted.len() * 95).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

//! The DNS observatory: queries and answers read from captured port-53
//! traffic, matched into a query log, per-resolver statistics, and passive
//! names for remote addresses.
//!
//! Why here, in the core: everything it needs arrives with frames (bytes
//! and capture timestamps) and from the engine's attribution (who owns the
//! querying socket), so it is plain data processing, testable with byte
//! fixtures. It never opens a socket or reads a file; the configured
//! servers come in with [`InterfaceInfo`](crate::InterfaceInfo).
//!
//! Port 53 carries whatever anyone sends. Every structure here is bounded
//! ([`DnsConfig`] holds the limits), and parsing never panics and never
//! allocates by a count read from the wire.

use std::time::Duration;

pub mod config;
#[cfg(any(test, feature = "testing"))]
pub mod fixtures;
pub mod message;

mod log;
mod names;
mod observer;
mod pending;
mod record;
mod resolvers;
mod tcp;

pub use message::{parse_message, Answer, AnswerData, DnsMessage, ParseError, Question};
pub use observer::{DnsContext, DnsObserver, DnsPacket, DnsStats};
pub use record::{QueryRecord, QueryStatus, ResolverStats};

/// Limits and timings of a [`DnsObserver`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsConfig {
    /// Query log entries kept (oldest dropped first).
    pub log_capacity: usize,
    /// A query without an answer for this long is a timeout.
    pub timeout: Duration,
    /// A passive name stays this long past its record's TTL: connections
    /// often outlive the TTL of the name that opened them.
    pub name_grace: Duration,
    /// Addresses with a passive name, at most.
    pub max_names: usize,
    /// Queries waiting for their answer, at most.
    pub max_pending: usize,
    /// TCP streams being reassembled, at most.
    pub max_tcp_streams: usize,
    /// A stub resolver's upstream query is linked to an application's
    /// query for the same question sent at most this long before it.
    pub link_window: Duration,
    /// Recent latencies kept per resolver for its p95.
    pub latency_window: usize,
}

impl Default for DnsConfig {
    fn default() -> Self {
        DnsConfig {
            log_capacity: 10_000,
            timeout: Duration::from_secs(5),
            name_grace: Duration::from_secs(300),
            max_names: 65_536,
            max_pending: 10_000,
            max_tcp_streams: 1_024,
            link_window: Duration::from_secs(2),
            latency_window: 1_024,
        }
    }
}

#[cfg(test)]
#[path = "dns/tests.rs"]
mod tests;
#[cfg(test)]
#[path = "dns/tests_fuzz.rs"]
mod tests_fuzz;

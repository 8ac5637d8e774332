//! What the observatory shows: one query log entry, its outcome, and the
//! statistics of one resolver. Plain data, read by every frontend.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// How a query ended (so far).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QueryStatus {
    /// Sent, no answer yet, not yet timed out.
    Pending,
    /// NOERROR (with or without records).
    Answered,
    /// The name does not exist: an answer, not a failure.
    NxDomain,
    ServFail,
    Refused,
    /// No answer within the timeout.
    Timeout,
    /// The answer had the TC bit: the client retries over TCP.
    Truncated,
    /// Any other response code, by number (FORMERR is 1, NOTIMP 4, ...).
    Other(u16),
    /// Too many queries were in flight to track this one's answer.
    Untracked,
}

impl QueryStatus {
    /// Failures count against a resolver: SERVFAIL, REFUSED, timeouts and
    /// other error codes. NXDOMAIN and truncation are answers.
    pub fn is_failure(self) -> bool {
        matches!(
            self,
            QueryStatus::ServFail
                | QueryStatus::Refused
                | QueryStatus::Timeout
                | QueryStatus::Other(_)
        )
    }

    /// The query has its outcome (an answer or a timeout).
    pub fn is_final(self) -> bool {
        !matches!(self, QueryStatus::Pending | QueryStatus::Untracked)
    }

    /// Lower-case word for machine-readable output.
    pub fn as_str(self) -> &'static str {
        match self {
            QueryStatus::Pending => "pending",
            QueryStatus::Answered => "answered",
            QueryStatus::NxDomain => "nxdomain",
            QueryStatus::ServFail => "servfail",
            QueryStatus::Refused => "refused",
            QueryStatus::Timeout => "timeout",
            QueryStatus::Truncated => "truncated",
            QueryStatus::Other(_) => "error",
            QueryStatus::Untracked => "untracked",
        }
    }
}

impl fmt::Display for QueryStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueryStatus::Other(code) => write!(f, "error({code})"),
            other => f.write_str(other.as_str()),
        }
    }
}

/// One query of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryRecord {
    /// Position in the log since the start, never reused.
    pub seq: u64,
    /// When the query was sent: capture timestamp since the Unix epoch.
    pub ts: Duration,
    /// Owner of the querying socket; `None` when it could not be found.
    pub pid: Option<u32>,
    /// The owner's name, or `unknown`.
    pub process: String,
    /// The name asked for, without the trailing dot.
    pub name: String,
    /// Query type as DNS names it: A, AAAA, CNAME, MX, PTR, SRV, HTTPS, ...
    pub qtype: String,
    /// Addresses, the final name of a CNAME chain, other record data,
    /// NODATA, NXDOMAIN, SERVFAIL, REFUSED, timeout; empty while pending.
    pub response: String,
    pub status: QueryStatus,
    /// Answer time minus query time (capture timestamps).
    pub latency: Option<Duration>,
    /// The server asked (address and port).
    pub resolver: SocketAddr,
    /// The querying socket (address and port).
    pub client: SocketAddr,
    /// Interface the query left on.
    pub ifindex: u32,
    /// TCP rather than UDP.
    pub tcp: bool,
    /// Copies of this query (same socket, id and question) sent again
    /// before its answer.
    pub retransmits: u32,
    /// For a query to a local stub resolver: `seq` of the stub's own
    /// query upstream for the same question.
    pub upstream: Option<u64>,
    /// For a stub's upstream query: `seq` of the application's query
    /// that caused it.
    pub downstream: Option<u64>,
}

impl QueryRecord {
    /// True when the name, the process or the response contains
    /// `pattern`, which must be lower case (the `--filter` rule).
    pub fn matches(&self, pattern: &str) -> bool {
        contains_lower(&self.name, pattern)
            || contains_lower(&self.process, pattern)
            || contains_lower(&self.response, pattern)
            || self.resolver.ip().to_string().contains(pattern)
    }
}

fn contains_lower(text: &str, pattern: &str) -> bool {
    text.to_lowercase().contains(pattern)
}

/// Statistics of one server as seen from one interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolverStats {
    pub ifindex: u32,
    /// Interface name (`if<N>` when the name is not known).
    pub interface: String,
    pub server: IpAddr,
    /// The system's configuration names this server for this interface.
    pub configured: bool,
    /// Queries sent (retransmissions not counted again).
    pub queries: u64,
    /// Queries with an answer (any response code).
    pub answered: u64,
    /// Queries without an answer within the timeout.
    pub timeouts: u64,
    /// SERVFAIL, REFUSED, other error codes, and timeouts.
    pub failures: u64,
    /// Mean latency of the answered queries.
    pub avg_latency: Option<Duration>,
    /// 95th percentile of the latencies of the most recent answers.
    pub p95_latency: Option<Duration>,
}

impl ResolverStats {
    /// Failures over finished queries (answered or timed out), 0.0 to 1.0.
    pub fn failure_rate(&self) -> f64 {
        let finished = self.answered + self.timeouts;
        if finished == 0 {
            0.0
        } else {
            self.failures as f64 / finished as f64
        }
    }
}

//! `/metrics`: the ledger as Prometheus metrics, with the
//! `prometheus-client` crate's registry and its two encoders: OpenMetrics
//! text for scrapers that ask for it (`Accept:
//! application/openmetrics-text`), the Prometheus text format 0.0.4 for
//! everyone else.
//!
//! Names as node_exporter spells them (base units, `_total` on counters);
//! labels of low cardinality only: `process`, `user`, `container` (with
//! `--containers`), `interface`, `reason`, `resolver`. Never a pid or a
//! remote address. A registry is built per scrape from the ledger's
//! counters (a few hundred series: well under a millisecond); the DNS
//! latency histograms live in the ledger and are registered as they are.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Registry, Unit};

use super::ledger::Ledger;

/// What the scraper asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exposition {
    /// The Prometheus text format, version 0.0.4.
    Text,
    /// OpenMetrics 1.0 text.
    OpenMetrics,
}

pub const TEXT_CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

impl Exposition {
    /// Content negotiation: OpenMetrics when the `Accept` header lists it
    /// (with a non-zero quality), else the text format.
    pub fn negotiate(accept: Option<&str>) -> Self {
        let wants = accept.is_some_and(|a| {
            a.split(',').any(|part| {
                let mut fields = part.split(';').map(str::trim);
                let media = fields.next().unwrap_or_default();
                let refused = fields.any(|f| {
                    f.strip_prefix("q=")
                        .and_then(|q| q.parse::<f64>().ok())
                        .is_some_and(|q| q <= 0.0)
                });
                media.eq_ignore_ascii_case("application/openmetrics-text") && !refused
            })
        });
        if wants {
            Exposition::OpenMetrics
        } else {
            Exposition::Text
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Exposition::Text => TEXT_CONTENT_TYPE,
            Exposition::OpenMetrics => OPENMETRICS_CONTENT_TYPE,
        }
    }
}

/// Facts about the service beside the ledger's counters.
#[derive(Debug, Clone, Default)]
pub struct Status {
    /// `events` or `polling`.
    pub owner_mode: String,
    /// Packets the kernel dropped before netop saw them.
    pub kernel_drops: u64,
    /// Owner events the kernel's ring buffer dropped.
    pub lost_events: u64,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ProcessLabels {
    process: String,
    user: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ContainerProcessLabels {
    process: String,
    user: String,
    container: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct InterfaceLabels {
    interface: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ReasonLabels {
    reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ResolverLabels {
    resolver: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ModeLabels {
    mode: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct BuildLabels {
    version: String,
}

/// Four counter families: bytes and packets, received and sent.
struct Four<
    L: EncodeLabelSet + Clone + Eq + std::hash::Hash + Send + Sync + std::fmt::Debug + 'static,
> {
    rx_bytes: Family<L, Counter>,
    tx_bytes: Family<L, Counter>,
    rx_packets: Family<L, Counter>,
    tx_packets: Family<L, Counter>,
}

impl<L> Four<L>
where
    L: EncodeLabelSet + Clone + Eq + std::hash::Hash + Send + Sync + std::fmt::Debug + 'static,
{
    fn register(registry: &mut Registry, prefix: &str, what: &str) -> Self {
        let four = Four {
            rx_bytes: Family::default(),
            tx_bytes: Family::default(),
            rx_packets: Family::default(),
            tx_packets: Family::default(),
        };
        registry.register_with_unit(
            format!("{prefix}_receive"),
            format!("Bytes received {what}"),
            Unit::Bytes,
            four.rx_bytes.clone(),
        );
        registry.register_with_unit(
            format!("{prefix}_transmit"),
            format!("Bytes sent {what}"),
            Unit::Bytes,
            four.tx_bytes.clone(),
        );
        registry.register(
            format!("{prefix}_receive_packets"),
            format!("Packets received {what}"),
            four.rx_packets.clone(),
        );
        registry.register(
            format!("{prefix}_transmit_packets"),
            format!("Packets sent {what}"),
            four.tx_packets.clone(),
        );
        four
    }

    fn set(&self, labels: &L, c: &netop_core::flow::Counters) {
        self.rx_bytes.get_or_create(labels).inc_by(c.rx_bytes);
        self.tx_bytes.get_or_create(labels).inc_by(c.tx_bytes);
        self.rx_packets.get_or_create(labels).inc_by(c.rx_packets);
        self.tx_packets.get_or_create(labels).inc_by(c.tx_packets);
    }
}

/// The registry of one scrape.
pub fn registry(ledger: &Ledger, status: &Status, containers: bool) -> Registry {
    let mut registry = Registry::with_prefix("netop");
    let what = "by the process (frames as the interface counts them; the --metrics-top \
                processes that moved most, the rest as process=\"other\")";
    if containers {
        let four = Four::<ContainerProcessLabels>::register(&mut registry, "process_network", what);
        for (l, c) in ledger.process_series() {
            four.set(
                &ContainerProcessLabels {
                    process: l.process,
                    user: l.user,
                    container: l.container,
                },
                &c,
            );
        }
    } else {
        let four = Four::<ProcessLabels>::register(&mut registry, "process_network", what);
        for (l, c) in ledger.process_series() {
            four.set(
                &ProcessLabels {
                    process: l.process,
                    user: l.user,
                },
                &c,
            );
        }
    }
    let four = Four::<InterfaceLabels>::register(&mut registry, "interface", "on the interface");
    for (name, c) in &ledger.interfaces {
        four.set(
            &InterfaceLabels {
                interface: name.clone(),
            },
            c,
        );
    }
    let four = Four::<ReasonLabels>::register(
        &mut registry,
        "unknown",
        "without an owner process, by reason",
    );
    for (why, c) in &ledger.unknown {
        four.set(
            &ReasonLabels {
                reason: why.as_str().to_string(),
            },
            c,
        );
    }
    let queries = Family::<ResolverLabels, Counter>::default();
    let failures = Family::<ResolverLabels, Counter>::default();
    registry.register(
        "dns_queries",
        "DNS queries sent to the resolver (retransmissions not counted again)",
        queries.clone(),
    );
    registry.register(
        "dns_failures",
        "DNS queries answered with SERVFAIL, REFUSED or another error code, or not answered in time",
        failures.clone(),
    );
    for (server, a) in &ledger.dns {
        let labels = ResolverLabels {
            resolver: server.to_string(),
        };
        queries.get_or_create(&labels).inc_by(a.queries);
        failures.get_or_create(&labels).inc_by(a.failures);
    }
    registry.register_with_unit(
        "dns_latency",
        "Time from a DNS query to its answer",
        Unit::Seconds,
        ledger.dns_latency.clone(),
    );
    let drops = Counter::<u64>::default();
    drops.inc_by(status.kernel_drops);
    registry.register(
        "capture_kernel_drops",
        "Packets the kernel dropped before netop read them (raise --bpf-buffer)",
        drops,
    );
    let lost = Counter::<u64>::default();
    lost.inc_by(status.lost_events);
    registry.register(
        "owner_events_lost",
        "Socket owner events the kernel's ring buffer dropped",
        lost,
    );
    let labels = Gauge::<i64>::default();
    labels.set(i64::try_from(ledger.label_count()).unwrap_or(i64::MAX));
    registry.register(
        "process_labels",
        "Process labels (name, user, container) netop remembers; at most --metrics-top are exported",
        labels,
    );
    registry.register(
        "owner_mode",
        "How netop finds socket owners: events (eBPF), tracepoint (perf) or polling",
        Info::new(ModeLabels {
            mode: status.owner_mode.clone(),
        }),
    );
    registry.register(
        "build",
        "netop's version",
        Info::new(BuildLabels {
            version: status.version.clone(),
        }),
    );
    registry
}

/// The scrape's body in the format asked for.
pub fn encode(registry: &Registry, format: Exposition) -> String {
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = match format {
        Exposition::Text => {
            prometheus_client::encoding::prometheus_text::encode(&mut out, registry)
        }
        Exposition::OpenMetrics => prometheus_client::encoding::text::encode(&mut out, registry),
    };
    out
}

#[cfg(test)]
#[path = "metrics_tests.rs"]
mod tests;

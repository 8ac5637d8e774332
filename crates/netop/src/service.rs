//! What `netop serve` counts and exports, as a library so the benchmarks
//! measure exactly what the service runs: the [`ledger`] (monotonic
//! counters per process label, interface, unknown reason and resolver;
//! the minute for the history; the dashboard's seconds) and [`metrics`]
//! (the `/metrics` exposition). The service itself (threads, HTTP, the
//! database writer) lives in the binary's `serve.rs`.

pub mod ledger;
pub mod metrics;

//! netop as a library: count chosen processes' network traffic per
//! interface, find the process behind a port, and get a report of every
//! process, the unknown traffic and the DNS queries each interval.
//!
//! It is the engine the `netop` command runs, with the same capture loop
//! ([`collect`]): libpcap captures headers, netlink sock_diag and `/proc`
//! (plus the eBPF event source where it can load) find each flow's socket
//! and process, and every packet is credited once, to the process that
//! sent or received it, on the interface it crossed. IPv4 and IPv6, TCP,
//! UDP and the rest.
//!
//! ```no_run
//! use std::time::Duration;
//! use netop_lib::{Monitor, Options, Proto};
//!
//! let monitor = Monitor::new(Options::new().interface("eth0"))?;
//! monitor.start()?; // root, or cap_net_raw,cap_net_admin
//! if let Some(pid) = monitor.pid_by_port(Proto::Tcp, 8080)? {
//!     monitor.watch(pid)?;
//!     std::thread::sleep(Duration::from_secs(5));
//!     for t in monitor.traffic(pid)? {
//!         println!("{}: rx {} B, tx {} B", t.interface, t.rx_bytes, t.tx_bytes);
//!     }
//! }
//! monitor.stop()?;
//! # Ok::<(), netop_lib::Error>(())
//! ```
//!
//! The Python package in `bindings/python` wraps this crate with
//! netprocmon's vocabulary. `examples/watch.rs` runs a command and prints
//! its traffic.
#![warn(missing_docs)]

pub mod collect;
mod error;
mod monitor;
mod options;
pub mod platform;
mod report;
mod state;
mod traffic;

pub use error::Error;
pub use monitor::{Monitor, Reports};
pub use options::{Options, MAX_INTERVAL, MIN_INTERVAL};
pub use report::{DnsQuery, ProcessTraffic, Report, UnknownTraffic};
pub use traffic::{Interface, Proto, Traffic};

#[cfg(test)]
mod tests;

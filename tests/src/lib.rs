//! Privileged end-to-end harness for netop: real capture, checked against an
//! independent truth.
//!
//! A test makes its own test host (a network namespace joined to the root
//! namespace by a veth pair, see [`netns`]), runs known traffic between
//! `trafficgen` processes on fixed ports (see [`workload`]), records the truth
//! with tcpdump on the root-side veth (see [`truth`]) and cross-checks that
//! against the kernel's interface counters (see [`counters`]). Then it runs the
//! real `netop` binary (see [`netop`]) over the same window and compares what
//! netop attributed to each PID with the truth (see [`compare`]).
//!
//! What this crate must not do: send traffic anywhere but loopback and the
//! namespaces it made, loop without a bound in count and time, or leave a
//! namespace, veth or process behind (every resource has a Drop guard, and
//! leftovers of a crashed run with the same name are removed before reuse).
//!
//! Linux only: network namespaces, veths, nftables and the Linux backend.
//! Elsewhere the crate, its tests and its binaries compile to nothing.
#![cfg(target_os = "linux")]

pub mod cgroup;
pub mod child;
pub mod compare;
pub mod counters;
pub mod everywhere;
pub mod netns;
pub mod netop;
pub mod package;
pub mod privilege;
pub mod scratch;
pub mod service;
pub mod tmux;
pub mod topology;
pub mod truth;
pub mod webdriver;
pub mod workload;

pub use child::Proc;
pub use compare::{Expectation, Report, Tolerance};
pub use counters::Counts;
pub use netns::Netns;
pub use netop::{interface_totals, netop_bin, run_netop, NetopOptions, NetopRun, UsageRow};
pub use privilege::{begin, install_package, Session};
pub use tmux::Tmux;
pub use truth::{Transport, Truth, TruthCapture};
pub use workload::{Outcome, Scenario, Watch};

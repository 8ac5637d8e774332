//! netop's macOS backend.
//!
//! Implements the core's seams with macOS facilities: [`Capture`] with
//! libpcap on the `pktap` pseudo-device (every interface; each packet's
//! PKTAP header names its process, decoded by the core) or on one
//! interface's BPF device; [`SocketResolver`] with the
//! `net.inet.{tcp,udp}.pcblist_n` sysctls (`pcblist`) plus libproc's
//! per-process socket descriptors (`procs`, read by the core's owner
//! search); [`HostInterfaces`] with getifaddrs (`interfaces`).
//!
//! Everything that reads a macOS data layout (`bpf`, `fdinfo`, `bsdinfo`,
//! `pcblist`, `ifdata`) and the backend's logic over the [`System`] trait
//! (`procs`, `resolver`, `interfaces`, `plan`) is plain Rust, built and
//! tested (on Linux, the only OS this project runs) with byte fixtures and
//! [`fake::FakeSystem`], as is
//! what macOS adds to the shared libpcap capture (`capture`). Only the
//! system calls (`live`) and the factory (`backend`) are macOS-only.
//!
//! [`Capture`]: netop_core::Capture
//! [`SocketResolver`]: netop_core::SocketResolver
//! [`HostInterfaces`]: netop_core::HostInterfaces
//! [`System`]: system::System

pub mod bpf;
pub mod bsdinfo;
pub mod bytes;
pub mod capture;
pub mod dns_config;
pub mod fake;
pub mod fdinfo;
pub mod ifdata;
pub mod interfaces;
pub mod multi;
pub mod pcblist;
pub mod plan;
pub mod procs;
pub mod resolver;
pub mod sockaddr;
pub mod system;

#[cfg(target_os = "macos")]
mod backend;
#[cfg(target_os = "macos")]
mod live;

pub use interfaces::MacInterfaces;
pub use resolver::MacResolver;
pub use system::System;

/// The backend's factory (see `netop_core::backend`).
#[cfg(target_os = "macos")]
pub use backend::{confine, diagnostics, host_interfaces, open, replay};
/// `--bpf`: check an expression, and filter a capture with it.
#[cfg(target_os = "macos")]
pub use netop_pcap::{check_filter, filtered};

#[cfg(test)]
mod tests;

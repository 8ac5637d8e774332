//! netop's Linux backend.
//!
//! Implements the core's seams with Linux facilities: [`Capture`] with
//! libpcap (the shared `netop-pcap` crate, plus Linux's settings in
//! `capture`), [`SocketResolver`] with NETLINK_SOCK_DIAG
//! (`sockdiag`) plus the fd tables in `/proc` (`procs`, read by the
//! core's owner search), and
//! [`HostInterfaces`] with getifaddrs and sysfs (`interfaces`). Where eBPF
//! is permitted, an event source (`events`) tells socket owners as they
//! send and receive, so short-lived sockets and processes are attributed
//! too; where only perf tracepoints are, `tracepoint` tells the owners of
//! outgoing TCP connections; polling stays the fallback. It also
//! tells the frontend whether capturing is allowed (`privileges`).
//!
//! It decodes no packets and keeps no flows: that is the core's job. On
//! other operating systems this crate compiles to nothing.
//!
//! [`Capture`]: netop_core::Capture
//! [`SocketResolver`]: netop_core::SocketResolver
//! [`HostInterfaces`]: netop_core::HostInterfaces

#[cfg(target_os = "linux")]
pub mod backend;
#[cfg(target_os = "linux")]
pub mod capture;
#[cfg(target_os = "linux")]
pub mod confine;
#[cfg(target_os = "linux")]
pub mod conntrack;
#[cfg(target_os = "linux")]
pub mod counting;
#[cfg(target_os = "linux")]
pub mod dns_config;
#[cfg(target_os = "linux")]
pub mod events;
#[cfg(target_os = "linux")]
pub mod heap;
#[cfg(target_os = "linux")]
pub mod interfaces;
#[cfg(target_os = "linux")]
pub mod netns;
#[cfg(target_os = "linux")]
pub mod owner_thread;
#[cfg(target_os = "linux")]
pub mod privileges;
// `netop serve`'s switch to an unprivileged user.
#[cfg(target_os = "linux")]
pub mod procs;
#[cfg(target_os = "linux")]
pub mod resolver;
#[cfg(target_os = "linux")]
pub mod service_user;
#[cfg(target_os = "linux")]
pub mod sockdiag;
#[cfg(target_os = "linux")]
pub mod tracepoint;

#[cfg(target_os = "linux")]
pub use capture::{
    list_interfaces, open_live, open_reopening, CaptureOptions, LinuxPlatform, PcapCapture,
    PcapFileCapture, ReopeningCapture,
};
#[cfg(target_os = "linux")]
pub use interfaces::{interface_counters, IfCounters, LinuxInterfaces};
#[cfg(target_os = "linux")]
pub use owner_thread::OwnerThread;
#[cfg(target_os = "linux")]
pub use privileges::{capture_privileges, Privileges};
#[cfg(target_os = "linux")]
pub use resolver::LinuxResolver;

/// The backend's factory (see `netop_core::backend`).
#[cfg(target_os = "linux")]
pub use backend::{confine, confine_owner_threads, confine_packets, diagnostics, open, replay};
/// `--bpf`: check an expression, and filter a capture with it.
#[cfg(target_os = "linux")]
pub use netop_pcap::{check_filter, filtered};

/// The host's interfaces (for `netop setup`).
#[cfg(target_os = "linux")]
pub fn host_interfaces() -> Box<dyn netop_core::HostInterfaces> {
    Box::new(LinuxInterfaces::new())
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    /// The frontend moves capture and resolution onto their own threads.
    #[test]
    fn backends_are_send() {
        fn send<T: Send>() {}
        send::<crate::PcapCapture>();
        send::<crate::PcapFileCapture>();
        send::<crate::ReopeningCapture>();
        send::<crate::LinuxResolver>();
        send::<crate::OwnerThread>();
        send::<crate::LinuxInterfaces>();
    }
}

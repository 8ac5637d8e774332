//! What a [`Monitor`](crate::Monitor) captures and how: interfaces or all
//! of them, local addresses to restrict it to, the event source or
//! polling, the DNS observatory, the report interval.

use std::net::IpAddr;
use std::time::Duration;

use crate::Error;

/// The shortest report interval.
pub const MIN_INTERVAL: Duration = Duration::from_millis(100);
/// The longest report interval.
pub const MAX_INTERVAL: Duration = Duration::from_secs(60);

/// How a [`Monitor`](crate::Monitor) captures. Built with chained calls;
/// the default captures on every interface (`any`), with the event source
/// where it can run, the DNS observatory on, and a report every second.
///
/// ```
/// use std::time::Duration;
/// use netop_lib::Options;
///
/// let options = Options::new()
///     .interface("eth0")
///     .address("10.0.0.21".parse().unwrap())
///     .events(false)
///     .dns(false)
///     .interval(Duration::from_millis(500));
/// assert_eq!(options.interfaces(), ["eth0"]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    interfaces: Vec<String>,
    addresses: Vec<IpAddr>,
    events: bool,
    dns: bool,
    kernel_counting: bool,
    interval: Duration,
    buffer_size: u32,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            interfaces: Vec::new(),
            addresses: Vec::new(),
            events: true,
            dns: true,
            kernel_counting: true,
            interval: Duration::from_secs(1),
            buffer_size: 4 << 20,
        }
    }
}

impl Options {
    /// Every interface, events, DNS, a report a second.
    pub fn new() -> Self {
        Self::default()
    }

    /// Captures on `name` (call again to add more); `"any"` means every
    /// interface, as not calling it does.
    pub fn interface(mut self, name: impl Into<String>) -> Self {
        let name = name.into();
        if name != "any" && !self.interfaces.contains(&name) {
            self.interfaces.push(name);
        }
        self
    }

    /// Counts only traffic on the interfaces holding `address` (one of
    /// this host's; call again to add more), as netprocmon's
    /// `add_address` did.
    pub fn address(mut self, address: IpAddr) -> Self {
        if !self.addresses.contains(&address) {
            self.addresses.push(address);
        }
        self
    }

    /// Finds socket owners with the kernel's events (eBPF on Linux) where
    /// they can run (`true`, the default), or by polling only.
    pub fn events(mut self, on: bool) -> Self {
        self.events = on;
        self
    }

    /// Counts traffic per flow in the kernel (eBPF on each interface's
    /// traffic-control hooks; only DNS packets are still captured) where
    /// that can run (`true`, the default), else every packet through
    /// libpcap, as netop's `--capture auto`; `false` always captures every
    /// packet (`--capture pcap`).
    pub fn kernel_counting(mut self, on: bool) -> Self {
        self.kernel_counting = on;
        self
    }

    /// The DNS observatory: the reports' DNS log (default on).
    pub fn dns(mut self, on: bool) -> Self {
        self.dns = on;
        self
    }

    /// How often sockets are re-read and a report made, from
    /// [`MIN_INTERVAL`] to [`MAX_INTERVAL`] (default 1 s); checked by
    /// [`Monitor::new`](crate::Monitor::new).
    pub fn interval(mut self, every: Duration) -> Self {
        self.interval = every;
        self
    }

    /// The kernel capture buffer, 4096 to 67108864 bytes (default 4 MiB).
    pub fn buffer_size(mut self, bytes: u32) -> Self {
        self.buffer_size = bytes;
        self
    }

    /// The interfaces asked for (empty: every one).
    pub fn interfaces(&self) -> &[String] {
        &self.interfaces
    }

    /// The addresses the capture is restricted to (empty: none).
    pub fn addresses(&self) -> &[IpAddr] {
        &self.addresses
    }

    /// Whether the event source is asked for.
    pub fn uses_events(&self) -> bool {
        self.events
    }

    /// Whether kernel counting is asked for.
    pub fn uses_kernel_counting(&self) -> bool {
        self.kernel_counting
    }

    /// Whether the DNS observatory is on.
    pub fn uses_dns(&self) -> bool {
        self.dns
    }

    /// The report interval.
    pub fn every(&self) -> Duration {
        self.interval
    }

    /// Rejects values out of range ([`Error::InvalidOption`]) and
    /// interface names no OS allows ([`Error::NoSuchInterface`]);
    /// [`Monitor::new`](crate::Monitor::new) calls it.
    ///
    /// ```
    /// use std::time::Duration;
    /// let slow = netop_lib::Options::new().interval(Duration::from_secs(61));
    /// assert!(slow.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<(), Error> {
        if !(MIN_INTERVAL..=MAX_INTERVAL).contains(&self.interval) {
            return Err(Error::InvalidOption(format!(
                "interval {:?} is outside {MIN_INTERVAL:?}..={MAX_INTERVAL:?}",
                self.interval
            )));
        }
        if !(4096..=64 << 20).contains(&self.buffer_size) {
            return Err(Error::InvalidOption(format!(
                "buffer size {} is outside 4096..=67108864",
                self.buffer_size
            )));
        }
        if let Some(bad) = self
            .interfaces
            .iter()
            .find(|n| n.is_empty() || n.len() > 255 || n.contains('\0'))
        {
            return Err(Error::NoSuchInterface {
                name: bad.clone(),
                available: Vec::new(),
            });
        }
        Ok(())
    }

    /// The backend's options: one named interface is opened itself;
    /// several, or an address restriction, capture on every interface and
    /// keep the chosen ones' figures.
    pub(crate) fn backend(&self) -> netop_core::BackendOptions {
        let interface = match (self.interfaces.as_slice(), self.addresses.is_empty()) {
            ([one], true) => Some(one.clone()),
            _ => None,
        };
        netop_core::BackendOptions {
            interface,
            buffer_size: self.buffer_size,
            whole_dns: self.dns,
            events: self.events,
            owners: netop_core::OwnersChoice::Auto,
            containers: false,
            counting: if self.kernel_counting {
                netop_core::CountingChoice::Kernel
            } else {
                netop_core::CountingChoice::Packets
            },
        }
    }
}

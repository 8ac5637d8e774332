//! The host's interfaces (getifaddrs) and their kernel counters (sysfs).
//!
//! Owns the translation from libc's address list to [`InterfaceInfo`] and
//! the reading of `/sys/class/net/NAME/statistics`. It keeps no state: the
//! engine asks again on every refresh because addresses come and go.

use std::net::IpAddr;

use netop_core::{HostInterfaces, InterfaceInfo, ResolveError};
use nix::net::if_::InterfaceFlags;

/// [`HostInterfaces`] backed by `getifaddrs(3)`.
#[derive(Debug, Default, Clone, Copy)]
pub struct LinuxInterfaces;

impl LinuxInterfaces {
    pub fn new() -> Self {
        LinuxInterfaces
    }
}

impl HostInterfaces for LinuxInterfaces {
    fn interfaces(&mut self) -> Result<Vec<InterfaceInfo>, ResolveError> {
        let addrs = nix::ifaddrs::getifaddrs().map_err(|errno| ResolveError::Failed {
            what: "interface addresses (getifaddrs)".to_string(),
            message: errno.desc().to_string(),
        })?;
        let mut out: Vec<InterfaceInfo> = Vec::new();
        for ifa in addrs {
            let pos = match out.iter().position(|i| i.name == ifa.interface_name) {
                Some(pos) => pos,
                None => {
                    out.push(InterfaceInfo {
                        index: 0,
                        name: ifa.interface_name.clone(),
                        up: false,
                        addrs: Vec::new(),
                        kernel: None,
                        dns_servers: Vec::new(),
                        mac: None,
                    });
                    out.len() - 1
                }
            };
            let info = &mut out[pos];
            info.up |= ifa.flags.contains(InterfaceFlags::IFF_UP);
            let ip = ifa.address.as_ref().and_then(|a| {
                a.as_sockaddr_in()
                    .map(|v4| IpAddr::V4(v4.ip()))
                    .or_else(|| a.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip())))
            });
            if let Some(ip) = ip {
                if !info.addrs.contains(&ip) {
                    info.addrs.push(ip);
                }
            }
            let link = ifa.address.as_ref().and_then(|a| a.as_link_addr());
            // The link-layer entry carries the index: no lookup by name.
            if let Some(index) = link.and_then(|l| u32::try_from(l.ifindex()).ok()) {
                info.index = index;
            }
            let mac = link.and_then(|l| l.addr());
            if let Some(mac) = mac.filter(|m| m.iter().any(|&b| b != 0)) {
                info.mac = Some(mac);
            }
        }
        for info in &mut out {
            if info.index == 0 {
                info.index =
                    nix::net::if_::if_nametoindex(info.name.as_str()).unwrap_or_else(|errno| {
                        tracing::debug!(name = %info.name, %errno, "no ifindex");
                        0
                    });
            }
            info.kernel = interface_counters(&info.name);
        }
        crate::dns_config::fill_dns_servers(
            &mut out,
            &crate::dns_config::DnsConfigPaths::default(),
        );
        Ok(out)
    }
}

/// Kernel counters of one interface, as `/sys/class/net/NAME/statistics`
/// reports them.
pub use netop_core::interfaces::KernelCounters as IfCounters;

/// The statistics files [`interface_counters`] reads.
const COUNTER_FILES: [&str; 8] = [
    "rx_bytes",
    "tx_bytes",
    "rx_packets",
    "tx_packets",
    "rx_errors",
    "tx_errors",
    "rx_dropped",
    "tx_dropped",
];

/// A sysfs counter file's text: one read of a small buffer (a 64-bit
/// number and its newline fit), three system calls where
/// `read_to_string` makes five; read every second for every interface.
fn read_number_file(path: &std::path::Path) -> Option<String> {
    use std::io::Read;
    let mut buf = [0u8; 32];
    let n = std::fs::File::open(path).ok()?.read(&mut buf).ok()?;
    std::str::from_utf8(&buf[..n]).ok().map(str::to_string)
}

/// Reads the counters of interface `name`; `None` when it does not exist
/// (or its byte counters cannot be read).
pub fn interface_counters(name: &str) -> Option<IfCounters> {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return None;
    }
    let dir = std::path::Path::new("/sys/class/net")
        .join(name)
        .join("statistics");
    let files: Vec<(&str, String)> = COUNTER_FILES
        .iter()
        .filter_map(|file| read_number_file(&dir.join(file)).map(|text| (*file, text)))
        .collect();
    parse_counters(files.iter().map(|(f, t)| (*f, t.as_str())))
}

/// Builds counters from `(file name, file contents)` pairs of a sysfs
/// statistics directory. Unknown files are ignored, unreadable numbers
/// count as zero; `None` unless both byte counters are present.
pub fn parse_counters<'a>(
    files: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Option<IfCounters> {
    let mut c = IfCounters::default();
    let (mut have_rx, mut have_tx) = (false, false);
    for (file, text) in files {
        let value = text.trim().parse::<u64>().unwrap_or(0);
        match file {
            "rx_bytes" => {
                c.rx_bytes = value;
                have_rx = true;
            }
            "tx_bytes" => {
                c.tx_bytes = value;
                have_tx = true;
            }
            "rx_packets" => c.rx_packets = value,
            "tx_packets" => c.tx_packets = value,
            "rx_errors" => c.rx_errors = value,
            "tx_errors" => c.tx_errors = value,
            "rx_dropped" => c.rx_dropped = value,
            "tx_dropped" => c.tx_dropped = value,
            _ => {}
        }
    }
    (have_rx && have_tx).then_some(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_all_counters() {
        let files = [
            ("rx_bytes", "123456\n"),
            ("tx_bytes", "654321\n"),
            ("rx_packets", "100\n"),
            ("tx_packets", "90\n"),
            ("rx_errors", "1\n"),
            ("tx_errors", "2\n"),
            ("rx_dropped", "3\n"),
            ("tx_dropped", "4\n"),
            ("multicast", "77\n"),
        ];
        let c = parse_counters(files).expect("counters");
        assert_eq!(
            c,
            IfCounters {
                rx_bytes: 123_456,
                tx_bytes: 654_321,
                rx_packets: 100,
                tx_packets: 90,
                rx_errors: 1,
                tx_errors: 2,
                rx_dropped: 3,
                tx_dropped: 4,
            }
        );
    }

    #[test]
    fn large_counters_fit() {
        let c = parse_counters([("rx_bytes", "18446744073709551615"), ("tx_bytes", "0")]);
        assert_eq!(c.map(|c| c.rx_bytes), Some(u64::MAX));
    }

    #[test]
    fn garbage_is_zero_and_missing_bytes_is_none() {
        let c = parse_counters([("rx_bytes", "x"), ("tx_bytes", "5"), ("rx_errors", "")]);
        assert_eq!(c.map(|c| (c.rx_bytes, c.tx_bytes)), Some((0, 5)));
        assert_eq!(parse_counters([("rx_bytes", "5")]), None);
        assert_eq!(parse_counters([]), None);
    }

    #[test]
    fn loopback_is_listed_and_up() {
        let ifs = LinuxInterfaces::new().interfaces().expect("getifaddrs");
        let lo = ifs.iter().find(|i| i.name == "lo").expect("lo exists");
        assert!(lo.up);
        // The index from the link-layer entry is the kernel's.
        assert_eq!(lo.index, nix::net::if_::if_nametoindex("lo").expect("lo"));
        for i in &ifs {
            assert_eq!(Ok(i.index), nix::net::if_::if_nametoindex(i.name.as_str()));
        }
        assert!(lo.addrs.contains(&IpAddr::from([127, 0, 0, 1])));
    }

    #[test]
    fn loopback_counters_exist_and_bad_names_do_not() {
        assert!(interface_counters("lo").is_some());
        assert_eq!(interface_counters("netop-no-such-if"), None);
        assert_eq!(interface_counters("../lo"), None);
        assert_eq!(interface_counters(""), None);
    }
}

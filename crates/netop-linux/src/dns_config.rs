//! Which DNS servers the system sends each interface's queries to, read
//! from `/etc/resolv.conf`, systemd-resolved's files and the routing
//! tables, for the Interface view and the resolver statistics.
//!
//! systemd-resolved keeps per-link servers in
//! `/run/systemd/resolve/netif/<ifindex>` and its global ones in
//! `/run/systemd/resolve/resolv.conf`, while `/etc/resolv.conf` then names
//! only its stub (127.0.0.53), which belongs to the loopback interface. A
//! global server belongs to the interface the kernel routes it through.
//! Parsing is in `netop_core::dns::config`; this module only reads files,
//! and a missing file is simply no servers.

use std::net::IpAddr;
use std::path::Path;

use netop_core::dns::config::{
    parse_ipv4_routes, parse_ipv6_routes, parse_resolv_conf, parse_resolved_link, route_interface,
    Route,
};
use netop_core::InterfaceInfo;

/// Where the files are; tests point this at a directory of fixtures.
#[derive(Debug, Clone)]
pub struct DnsConfigPaths {
    pub resolv_conf: String,
    pub resolved_resolv_conf: String,
    pub resolved_netif_dir: String,
    pub ipv4_routes: String,
    pub ipv6_routes: String,
}

impl Default for DnsConfigPaths {
    fn default() -> Self {
        DnsConfigPaths {
            resolv_conf: "/etc/resolv.conf".into(),
            resolved_resolv_conf: "/run/systemd/resolve/resolv.conf".into(),
            resolved_netif_dir: "/run/systemd/resolve/netif".into(),
            ipv4_routes: "/proc/net/route".into(),
            ipv6_routes: "/proc/net/ipv6_route".into(),
        }
    }
}

fn read(path: impl AsRef<Path>) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Fills `dns_servers` of each interface from the system's files.
pub fn fill_dns_servers(interfaces: &mut [InterfaceInfo], paths: &DnsConfigPaths) {
    for info in interfaces.iter_mut() {
        info.dns_servers = parse_resolved_link(&read(
            Path::new(&paths.resolved_netif_dir).join(info.index.to_string()),
        ));
    }
    let mut global = parse_resolv_conf(&read(&paths.resolv_conf));
    for ip in parse_resolv_conf(&read(&paths.resolved_resolv_conf)) {
        if !global.contains(&ip) {
            global.push(ip);
        }
    }
    if global.is_empty() {
        return;
    }
    let mut routes: Vec<Route> = parse_ipv4_routes(&read(&paths.ipv4_routes));
    routes.extend(parse_ipv6_routes(&read(&paths.ipv6_routes)));
    for ip in global {
        if interfaces.iter().any(|i| i.dns_servers.contains(&ip)) {
            continue;
        }
        let target = if ip.is_loopback() || is_local(interfaces, ip) {
            interfaces
                .iter()
                .position(|i| i.addrs.iter().any(IpAddr::is_loopback))
        } else {
            route_interface(&routes, ip)
                .and_then(|name| interfaces.iter().position(|i| i.name == name))
        };
        if let Some(at) = target {
            interfaces[at].dns_servers.push(ip);
        }
    }
}

fn is_local(interfaces: &[InterfaceInfo], ip: IpAddr) -> bool {
    interfaces.iter().any(|i| i.addrs.contains(&ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_go_to_their_link_the_loopback_or_their_route() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = |name: &str| dir.path().join(name).to_string_lossy().into_owned();
        std::fs::create_dir(dir.path().join("netif")).expect("mkdir");
        std::fs::write(dir.path().join("netif/3"), "SERVERS=192.0.2.53\n").expect("write");
        std::fs::write(p("resolv.conf"), "nameserver 127.0.0.53\n").expect("write");
        std::fs::write(
            p("resolved.conf"),
            "nameserver 192.0.2.53\nnameserver 198.51.100.1\n",
        )
        .expect("write");
        std::fs::write(
            p("route"),
            "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\n\
             eth1\t00000000\t010000C6\t0003\t0\t0\t0\t00000000\t0\t0\t0\n",
        )
        .expect("write");
        let paths = DnsConfigPaths {
            resolv_conf: p("resolv.conf"),
            resolved_resolv_conf: p("resolved.conf"),
            resolved_netif_dir: p("netif"),
            ipv4_routes: p("route"),
            ipv6_routes: p("missing"),
        };
        let iface = |index: u32, name: &str, addr: &str| InterfaceInfo {
            index,
            name: name.into(),
            up: true,
            addrs: vec![addr.parse().expect("ip")],
            ..Default::default()
        };
        let mut list = vec![
            iface(1, "lo", "127.0.0.1"),
            iface(3, "wlan0", "192.0.2.10"),
            iface(4, "eth1", "198.18.0.2"),
        ];
        fill_dns_servers(&mut list, &paths);
        let servers: Vec<Vec<String>> = list
            .iter()
            .map(|i| i.dns_servers.iter().map(ToString::to_string).collect())
            .collect();
        assert_eq!(
            servers,
            [vec!["127.0.0.53"], vec!["192.0.2.53"], vec!["198.51.100.1"]]
        );
    }
}

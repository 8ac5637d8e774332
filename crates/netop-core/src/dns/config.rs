//! The system's DNS configuration, parsed from text the backend read:
//! `resolv.conf` files, systemd-resolved's per-link state files, and the
//! kernel's routing tables (to tell which interface a global server is
//! reached through). Parsers only: the backend opens the files.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// `nameserver` lines of a resolv.conf, in order, without duplicates.
/// Scoped IPv6 addresses (`fe80::1%eth0`) keep the address only.
pub fn parse_resolv_conf(text: &str) -> Vec<IpAddr> {
    let mut servers = Vec::new();
    for line in text.lines() {
        let line = line.split(['#', ';']).next().unwrap_or("");
        let mut words = line.split_whitespace();
        if words.next() != Some("nameserver") {
            continue;
        }
        if let Some(ip) = words.next().and_then(parse_ip) {
            if !servers.contains(&ip) {
                servers.push(ip);
            }
        }
    }
    servers
}

/// The servers of one link from systemd-resolved's
/// `/run/systemd/resolve/netif/<ifindex>`: `SERVERS=` (space-separated,
/// possibly `addr#name` or `[v6]:port`), else `DNS=` of older versions.
pub fn parse_resolved_link(text: &str) -> Vec<IpAddr> {
    let mut servers = Vec::new();
    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if key.trim() != "SERVERS" && key.trim() != "DNS" {
            continue;
        }
        for word in value.split_whitespace() {
            if let Some(ip) = parse_server_word(word) {
                if !servers.contains(&ip) {
                    servers.push(ip);
                }
            }
        }
    }
    servers
}

fn parse_ip(word: &str) -> Option<IpAddr> {
    let word = word.split('%').next()?;
    word.parse().ok()
}

/// `1.2.3.4`, `1.2.3.4:53`, `1.2.3.4#dns.example`, `[2001:db8::1]:53`,
/// `2001:db8::1`.
fn parse_server_word(word: &str) -> Option<IpAddr> {
    let word = word.split('#').next()?;
    if let Some(rest) = word.strip_prefix('[') {
        return parse_ip(rest.split(']').next()?);
    }
    if let Some(ip) = parse_ip(word) {
        return Some(ip);
    }
    // a.b.c.d:port
    let (host, _port) = word.rsplit_once(':')?;
    host.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
}

/// One route of the kernel's table: destination prefix, interface name,
/// metric.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub dest: IpAddr,
    pub prefix_len: u8,
    pub interface: String,
    pub metric: u32,
}

/// `/proc/net/route` (IPv4): hexadecimal little-endian addresses, with
/// a header line.
pub fn parse_ipv4_routes(text: &str) -> Vec<Route> {
    let mut routes = Vec::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 8 {
            continue;
        }
        let (Ok(dest), Ok(flags), Ok(metric), Ok(mask)) = (
            u32::from_str_radix(f[1], 16),
            u16::from_str_radix(f[3], 16),
            f[6].parse::<u32>(),
            u32::from_str_radix(f[7], 16),
        ) else {
            continue;
        };
        // RTF_UP
        if flags & 1 == 0 {
            continue;
        }
        routes.push(Route {
            dest: IpAddr::V4(Ipv4Addr::from(u32::from_be(dest))),
            prefix_len: u32::from_be(mask).leading_ones() as u8,
            interface: f[0].to_string(),
            metric,
        });
    }
    routes
}

/// `/proc/net/ipv6_route`: destination (32 hex digits), prefix length
/// (hex), ..., metric (hex, 6th field), ..., interface (last field).
pub fn parse_ipv6_routes(text: &str) -> Vec<Route> {
    let mut routes = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 10 || f[0].len() != 32 {
            continue;
        }
        let (Ok(dest), Ok(len), Ok(metric), Ok(flags)) = (
            u128::from_str_radix(f[0], 16),
            u8::from_str_radix(f[1], 16),
            u32::from_str_radix(f[5], 16),
            u32::from_str_radix(f[8], 16),
        ) else {
            continue;
        };
        // RTF_UP; skip RTF_REJECT (0x200) routes such as unreachable.
        if flags & 1 == 0 || flags & 0x200 != 0 {
            continue;
        }
        routes.push(Route {
            dest: IpAddr::V6(Ipv6Addr::from(dest)),
            prefix_len: len.min(128),
            interface: f[9].to_string(),
            metric,
        });
    }
    routes
}

/// The interface the kernel would use for `ip`: longest prefix, then
/// lowest metric.
pub fn route_interface(routes: &[Route], ip: IpAddr) -> Option<&str> {
    routes
        .iter()
        .filter(|r| prefix_contains(r.dest, r.prefix_len, ip))
        .max_by(|a, b| {
            a.prefix_len
                .cmp(&b.prefix_len)
                .then_with(|| b.metric.cmp(&a.metric))
        })
        .map(|r| r.interface.as_str())
}

fn prefix_contains(dest: IpAddr, len: u8, ip: IpAddr) -> bool {
    match (dest, ip) {
        (IpAddr::V4(d), IpAddr::V4(i)) => {
            let len = u32::from(len.min(32));
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            d.to_bits() & mask == i.to_bits() & mask
        }
        (IpAddr::V6(d), IpAddr::V6(i)) => {
            let len = u32::from(len.min(128));
            let mask = if len == 0 {
                0
            } else {
                u128::MAX << (128 - len)
            };
            d.to_bits() & mask == i.to_bits() & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn resolv_conf_nameservers_in_order() {
        let text = "# generated\nsearch example.com\nnameserver 192.0.2.1\n\
                    nameserver   2001:db8::53 # comment\nnameserver fe80::1%eth0\n\
                    nameserver 192.0.2.1\nnameserver bogus\noptions edns0\n";
        assert_eq!(
            parse_resolv_conf(text),
            vec![ip("192.0.2.1"), ip("2001:db8::53"), ip("fe80::1")]
        );
    }

    #[test]
    fn resolved_link_servers() {
        let text = "# This is private data.\nADMIN_STATE=configured\n\
                    SERVERS=192.0.2.53 192.0.2.54:5353 192.0.2.55#dns.example [2001:db8::1]:53 2001:db8::2\n\
                    DOMAINS=example.com\n";
        assert_eq!(
            parse_resolved_link(text),
            vec![
                ip("192.0.2.53"),
                ip("192.0.2.54"),
                ip("192.0.2.55"),
                ip("2001:db8::1"),
                ip("2001:db8::2")
            ]
        );
        assert_eq!(parse_resolved_link("DNS=10.0.0.1\n"), vec![ip("10.0.0.1")]);
    }

    #[test]
    fn routes_pick_the_longest_prefix() {
        let v4 =
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
                  eth0\t00000000\t0100000A\t0003\t0\t0\t100\t00000000\t0\t0\t0\n\
                  eth0\t0000000A\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n\
                  veth1\t0002000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";
        let routes = parse_ipv4_routes(v4);
        assert_eq!(routes.len(), 3);
        assert_eq!(routes[2].dest, ip("10.0.2.0"));
        assert_eq!(routes[2].prefix_len, 24);
        assert_eq!(route_interface(&routes, ip("10.0.2.7")), Some("veth1"));
        assert_eq!(route_interface(&routes, ip("10.0.0.9")), Some("eth0"));
        assert_eq!(route_interface(&routes, ip("8.8.8.8")), Some("eth0"));
        let v6 = "20010db8000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0\n\
                  00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo\n";
        let routes = parse_ipv6_routes(v6);
        assert_eq!(routes.len(), 1);
        assert_eq!(route_interface(&routes, ip("2001:db8::53")), Some("eth0"));
        assert_eq!(route_interface(&routes, ip("2001:db9::53")), None);
    }
}

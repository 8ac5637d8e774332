//! Which DNS servers macOS sends each interface's queries to, from the
//! text of `scutil --dns` (the system configuration's resolver list, which
//! `/etc/resolv.conf` only partly mirrors on macOS).
//!
//! The text is a list of `resolver #N` blocks, first the configuration
//! for ordinary queries, then (after `DNS configuration (for scoped
//! queries)`) the per-interface ones. A block names its servers
//! (`nameserver[i] : ADDR`), often its interface (`if_index : 4 (en0)`),
//! and for split DNS its domain (`domain : corp.example`, which is how
//! `/etc/resolver/*` files and VPN profiles appear). Text in, servers out:
//! no process is run here (`System::dns_config` gives the text).

use std::net::IpAddr;

use netop_core::InterfaceInfo;

/// One resolver block.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolver {
    /// The domain it answers for (split DNS); `None` for the default.
    pub domain: Option<String>,
    pub servers: Vec<IpAddr>,
    /// The interface it is tied to (`if_index`), by name.
    pub interface: Option<String>,
    /// From the scoped-queries section.
    pub scoped: bool,
}

/// Parses `scutil --dns`; lines it does not know are skipped.
pub fn parse_scutil_dns(text: &str) -> Vec<Resolver> {
    let mut out: Vec<Resolver> = Vec::new();
    let mut scoped = false;
    let mut current: Option<Resolver> = None;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with("DNS configuration") {
            out.extend(current.take());
            scoped = line.contains("scoped");
            continue;
        }
        if line.starts_with("resolver #") {
            out.extend(current.take());
            current = Some(Resolver {
                scoped,
                ..Resolver::default()
            });
            continue;
        }
        let (Some(r), Some((key, value))) = (current.as_mut(), line.split_once(':')) else {
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        if key.starts_with("nameserver[") {
            // IPv6 servers may carry a zone (`fe80::1%en0`).
            let addr = value.split('%').next().unwrap_or(value);
            if let Ok(ip) = addr.parse() {
                if !r.servers.contains(&ip) {
                    r.servers.push(ip);
                }
            }
        } else if key == "if_index" {
            // `4 (en0)`.
            r.interface = value
                .split_once('(')
                .and_then(|(_, rest)| rest.strip_suffix(')'))
                .map(str::to_string);
        } else if key == "domain" {
            r.domain = Some(value.to_string());
        }
    }
    out.extend(current);
    out
}

/// Gives each interface its servers: those of the resolvers tied to it,
/// and the default (domainless, untied) resolvers' servers to every up,
/// addressed, non-loopback interface that has none of its own. Split-DNS
/// resolvers not tied to an interface are not placed.
pub fn fill_dns_servers(interfaces: &mut [InterfaceInfo], resolvers: &[Resolver]) {
    for r in resolvers {
        let Some(name) = &r.interface else { continue };
        if let Some(iface) = interfaces.iter_mut().find(|i| &i.name == name) {
            for ip in &r.servers {
                if !iface.dns_servers.contains(ip) {
                    iface.dns_servers.push(*ip);
                }
            }
        }
    }
    let defaults: Vec<IpAddr> = resolvers
        .iter()
        .filter(|r| r.domain.is_none() && r.interface.is_none() && !r.scoped)
        .flat_map(|r| r.servers.iter().copied())
        .collect();
    for iface in interfaces.iter_mut() {
        let loopback = iface.name.starts_with("lo");
        if iface.dns_servers.is_empty() && iface.up && !loopback && !iface.addrs.is_empty() {
            for ip in &defaults {
                if !iface.dns_servers.contains(ip) {
                    iface.dns_servers.push(*ip);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `scutil --dns` of a Mac on Wi-Fi with a VPN's split DNS and an
    /// `/etc/resolver/test` file (the format of macOS 13-15).
    const SCUTIL: &str = "\
DNS configuration

resolver #1
  search domain[0] : lan
  nameserver[0] : 192.168.1.1
  nameserver[1] : fe80::1%en0
  if_index : 4 (en0)
  flags    : Request A records, Request AAAA records
  reach    : 0x00020002 (Reachable,Directly Reachable Address)

resolver #2
  domain   : local
  options  : mdns
  timeout  : 5
  flags    : Request A records, Request AAAA records
  reach    : 0x00000000 (Not Reachable)
  order    : 300000

resolver #3
  domain   : corp.example
  nameserver[0] : 10.8.0.1
  if_index : 12 (utun3)
  flags    : Supplemental, Request A records
  reach    : 0x00000003 (Reachable,Transient Connection)

resolver #4
  domain   : test
  nameserver[0] : 127.0.0.1
  flags    : Request A records, Request AAAA records
  reach    : 0x00030002 (Reachable,Local Address,Directly Reachable Address)

resolver #5
  nameserver[0] : 1.1.1.1

DNS configuration (for scoped queries)

resolver #1
  search domain[0] : lan
  nameserver[0] : 192.168.1.1
  if_index : 4 (en0)
  flags    : Scoped, Request A records
  reach    : 0x00020002 (Reachable,Directly Reachable Address)
";

    fn iface(name: &str, index: u32, addr: &str) -> InterfaceInfo {
        InterfaceInfo {
            name: name.into(),
            index,
            up: true,
            addrs: vec![addr.parse().expect("ip")],
            ..Default::default()
        }
    }

    #[test]
    fn resolvers_with_servers_interfaces_and_domains() {
        let r = parse_scutil_dns(SCUTIL);
        assert_eq!(r.len(), 6);
        assert_eq!(
            r[0].servers,
            vec![
                "192.168.1.1".parse::<IpAddr>().expect("ip"),
                "fe80::1".parse().expect("ip")
            ]
        );
        assert_eq!(r[0].interface.as_deref(), Some("en0"));
        assert!(!r[0].scoped);
        assert_eq!(r[1].domain.as_deref(), Some("local"));
        assert!(r[1].servers.is_empty(), "mDNS has no servers");
        assert_eq!(r[2].interface.as_deref(), Some("utun3"));
        assert_eq!(r[3].domain.as_deref(), Some("test"));
        assert!(r[5].scoped);
        assert_eq!(parse_scutil_dns(""), vec![]);
        assert_eq!(
            parse_scutil_dns("garbage\n: :\nresolver #x\n nameserver[0] : nope"),
            vec![Resolver::default()]
        );
    }

    #[test]
    fn servers_go_to_their_interfaces_and_the_default_to_the_rest() {
        let mut ifs = vec![
            iface("lo0", 1, "127.0.0.1"),
            iface("en0", 4, "192.168.1.20"),
            iface("en1", 5, "10.0.0.7"),
            iface("utun3", 12, "10.8.0.5"),
        ];
        fill_dns_servers(&mut ifs, &parse_scutil_dns(SCUTIL));
        let servers = |i: usize| -> Vec<String> {
            ifs[i].dns_servers.iter().map(ToString::to_string).collect()
        };
        assert_eq!(servers(1), ["192.168.1.1", "fe80::1"]);
        assert_eq!(servers(3), ["10.8.0.1"]);
        assert_eq!(servers(2), ["1.1.1.1"], "the default resolver for the rest");
        assert!(
            servers(0).is_empty(),
            "loopback gets none; split DNS is not placed"
        );
    }
}

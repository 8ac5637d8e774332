//! Port numbers as service names (`:443` as `https`), from
//! `/etc/services`, or a small built-in table where that file is missing
//! (minimal containers). Read once when the monitor starts; the monitor's
//! `n` key shows numbers instead. Parsing takes text, so it is tested
//! without the file.

use std::collections::HashMap;

use netop_core::Protocol;

/// Ports and their service names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Services {
    names: HashMap<(Protocol, u16), String>,
}

/// The fallback: well-known ports a monitor meets every day.
const BUILTIN: &[(u16, &str, bool, bool)] = &[
    // (port, name, tcp, udp)
    (20, "ftp-data", true, false),
    (21, "ftp", true, false),
    (22, "ssh", true, false),
    (23, "telnet", true, false),
    (25, "smtp", true, false),
    (53, "domain", true, true),
    (67, "bootps", false, true),
    (68, "bootpc", false, true),
    (80, "http", true, false),
    (110, "pop3", true, false),
    (123, "ntp", false, true),
    (143, "imap2", true, false),
    (161, "snmp", false, true),
    (389, "ldap", true, false),
    (443, "https", true, true),
    (465, "submissions", true, false),
    (514, "syslog", false, true),
    (587, "submission", true, false),
    (636, "ldaps", true, false),
    (853, "domain-s", true, true),
    (993, "imaps", true, false),
    (995, "pop3s", true, false),
    (1194, "openvpn", true, true),
    (1883, "mqtt", true, false),
    (3306, "mysql", true, false),
    (3389, "ms-wbt-server", true, false),
    (5353, "mdns", false, true),
    (5432, "postgresql", true, false),
    (6379, "redis", true, false),
    (8080, "http-alt", true, false),
    (9090, "websm", true, false),
    (27017, "mongodb", true, false),
    (51820, "wireguard", false, true),
];

impl Services {
    /// `/etc/services`, or the built-in table without it.
    pub fn load() -> Services {
        match std::fs::read_to_string("/etc/services") {
            Ok(text) => Services::parse(&text),
            Err(_) => Services::builtin(),
        }
    }

    pub fn builtin() -> Services {
        let mut names = HashMap::new();
        for &(port, name, tcp, udp) in BUILTIN {
            if tcp {
                names.insert((Protocol::Tcp, port), name.to_string());
            }
            if udp {
                names.insert((Protocol::Udp, port), name.to_string());
            }
        }
        Services { names }
    }

    /// Lines of `name port/proto [aliases] [# comment]`; the first name
    /// given for a port wins, as getservbyport answers.
    pub fn parse(text: &str) -> Services {
        let mut names = HashMap::new();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("");
            let mut fields = line.split_whitespace();
            let (Some(name), Some(port_proto)) = (fields.next(), fields.next()) else {
                continue;
            };
            let Some((port, proto)) = port_proto.split_once('/') else {
                continue;
            };
            let Ok(port) = port.parse::<u16>() else {
                continue;
            };
            let proto = match proto {
                "tcp" => Protocol::Tcp,
                "udp" => Protocol::Udp,
                _ => continue,
            };
            names
                .entry((proto, port))
                .or_insert_with(|| name.to_string());
        }
        Services { names }
    }

    /// The service name of `port` over `proto`, if it has one.
    pub fn name(&self, proto: Protocol, port: u16) -> Option<&str> {
        self.names.get(&(proto, port)).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etc_services_lines() {
        let s = Services::parse(
            "# comment\nhttp\t\t80/tcp\t\twww\t# WorldWideWeb HTTP\nhttps 443/tcp\nhttps 443/udp\n\
             domain 53/tcp\ndomain 53/udp\nnonsense\nbad 99999/tcp\nsctp-thing 9/sctp\nfirst 7/tcp\nsecond 7/tcp\n",
        );
        assert_eq!(s.name(Protocol::Tcp, 80), Some("http"));
        assert_eq!(s.name(Protocol::Udp, 443), Some("https"));
        assert_eq!(s.name(Protocol::Udp, 53), Some("domain"));
        assert_eq!(s.name(Protocol::Udp, 80), None);
        assert_eq!(s.name(Protocol::Tcp, 7), Some("first"));
        assert_eq!(s.name(Protocol::Tcp, 9), None);
    }

    #[test]
    fn the_builtin_table_covers_the_common_ports() {
        let s = Services::builtin();
        assert_eq!(s.name(Protocol::Tcp, 443), Some("https"));
        assert_eq!(s.name(Protocol::Udp, 53), Some("domain"));
        assert_eq!(s.name(Protocol::Tcp, 22), Some("ssh"));
        assert_eq!(s.name(Protocol::Tcp, 54321), None);
    }
}

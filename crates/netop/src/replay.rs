//! Replay: a recorded capture plus a socket table written as text, so the
//! whole binary can be tested without root or live traffic.
//!
//! The socket file has one socket a line: `proto local remote pid name
//! user [container]`, e.g. `tcp 10.0.0.1:5000 10.0.0.2:80 42 curl alice
//! docker:3f2a1b4c5d6e`; `#` starts a comment. The container is kept only
//! with `--containers`, as a live backend reads it only then. The host's
//! addresses are taken to be the sockets' local ones.

use std::path::Path;

use anyhow::{bail, Context};
use netop_core::socket::canonical_ip;
use netop_core::{
    Capture, Container, FlowKey, HostInterfaces, InterfaceInfo, ProcessInfo, Protocol,
    ResolveError, SocketEntry, SocketResolver, SocketTable, TcpState,
};

use crate::failure::Failure;
use netop_core::Backend;

/// Builds a backend around a file capture and an optional socket file;
/// owners carry their container when `containers` is on.
pub fn backend(
    capture: Box<dyn Capture>,
    sockets: Option<&Path>,
    containers: bool,
) -> Result<Backend, Failure> {
    let mut entries = match sockets {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            parse_sockets(&text).with_context(|| format!("in {}", path.display()))?
        }
        None => Vec::new(),
    };
    if !containers {
        for owner in entries
            .iter_mut()
            .filter_map(|e| e.owner.as_mut().map(std::sync::Arc::make_mut))
        {
            owner.container = None;
        }
    }
    let mut addrs: Vec<_> = entries
        .iter()
        .map(|e| canonical_ip(e.local.ip()))
        .filter(|ip| !ip.is_unspecified())
        .collect();
    addrs.sort_unstable();
    addrs.dedup();
    Ok(Backend {
        capture,
        resolver: Box::new(FixedSockets {
            table: SocketTable::new(entries),
        }),
        interfaces: Box::new(FixedInterfaces(vec![InterfaceInfo {
            index: 0,
            name: "replay".to_string(),
            up: true,
            addrs,
            ..Default::default()
        }])),
        sockets: None,
        owners: None,
    })
}

/// Parses the socket file format described in the module docs.
pub fn parse_sockets(text: &str) -> anyhow::Result<Vec<SocketEntry>> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        let (proto, local, remote, pid, name, user, container) = match f[..] {
            [proto, local, remote, pid, name, user] => {
                (proto, local, remote, pid, name, user, None)
            }
            [proto, local, remote, pid, name, user, container] => {
                let Some((runtime, id)) = container.split_once(':') else {
                    bail!(
                        "line {}: container {container:?} is not runtime:name",
                        n + 1
                    );
                };
                let container = Container {
                    runtime: runtime.to_string(),
                    name: id.to_string(),
                };
                (proto, local, remote, pid, name, user, Some(container))
            }
            _ => bail!(
                "line {}: expected `proto local remote pid name user [container]`",
                n + 1
            ),
        };
        let proto = match proto {
            "tcp" => Protocol::Tcp,
            "udp" => Protocol::Udp,
            other => bail!("line {}: unknown protocol {other:?}", n + 1),
        };
        let addr = |s: &str| {
            s.parse()
                .with_context(|| format!("line {}: bad address {s:?}", n + 1))
        };
        out.push(SocketEntry {
            proto,
            local: addr(local)?,
            remote: addr(remote)?,
            state: if proto == Protocol::Tcp {
                TcpState::Established
            } else {
                TcpState::None
            },
            inode: 0,
            uid: 0,
            rtt_us: None,
            retrans: None,
            owner: Some(std::sync::Arc::new(ProcessInfo {
                pid: pid
                    .parse()
                    .with_context(|| format!("line {}: bad pid", n + 1))?,
                name: name.to_string(),
                user: user.to_string(),
                container,
                start_time: 0,
                exe: None,
            })),
            fd: None,
        });
    }
    Ok(out)
}

struct FixedSockets {
    table: SocketTable,
}

impl SocketResolver for FixedSockets {
    fn sockets(&mut self) -> Result<SocketTable, ResolveError> {
        Ok(self.table.clone())
    }

    fn lookup(&mut self, key: &FlowKey) -> Result<Option<SocketEntry>, ResolveError> {
        Ok(self.table.find(key).cloned())
    }
}

struct FixedInterfaces(Vec<InterfaceInfo>);

impl HostInterfaces for FixedInterfaces {
    fn interfaces(&mut self) -> Result<Vec<InterfaceInfo>, ResolveError> {
        Ok(self.0.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sockets_and_rejects_bad_lines() {
        let text = "# comment\ntcp 10.0.0.1:5000 10.0.0.2:80 42 curl alice\n\nudp [::1]:53 [::]:0 7 dns root # trailing\n";
        let s = parse_sockets(text).expect("parse");
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].owner.as_ref().map(|o| o.pid), Some(42));
        assert!(s[1].is_unconnected());
        assert!(parse_sockets("tcp 1.2.3.4:1 1.2.3.4:2 x n u").is_err());
        assert!(parse_sockets("sctp 1.2.3.4:1 1.2.3.4:2 1 n u").is_err());
        assert!(parse_sockets("tcp 1.2.3.4:1").is_err());
        let s = parse_sockets("tcp 1.2.3.4:1 1.2.3.4:2 1 n u docker:3f2a1b4c5d6e").expect("parse");
        let container = s[0].owner.as_ref().and_then(|o| o.container.clone());
        assert_eq!(
            container.map(|c| c.to_string()).as_deref(),
            Some("docker:3f2a1b4c5d6e")
        );
        assert!(parse_sockets("tcp 1.2.3.4:1 1.2.3.4:2 1 n u docker").is_err());
        assert!(parse_sockets("tcp 1.2.3.4:1 1.2.3.4:2 1 n u a:b extra").is_err());
    }
}

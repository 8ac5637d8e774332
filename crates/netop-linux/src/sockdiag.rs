//! Socket tables from the kernel through NETLINK_SOCK_DIAG.
//!
//! Owns one netlink socket, reused for every query: full dumps of a
//! protocol and family (the periodic refresh), and exact single-socket
//! queries for one flow (the cheap path for connections the last dump
//! missed). It reports sockets without owners; `owners` finds processes.
//! The socket has a receive timeout, so a query can never hang.

mod wire;

use std::io;
use std::net::IpAddr;
use std::os::fd::AsRawFd;
use std::time::Duration;

use netlink_packet_core::{NLM_F_DUMP, NLM_F_REQUEST};
use netlink_packet_sock_diag::constants::{AF_INET, AF_INET6, IPPROTO_TCP, IPPROTO_UDP};
use netlink_packet_sock_diag::inet::{ExtensionFlags, InetRequest, SocketId, StateFlags};
use netlink_sys::{protocols::NETLINK_SOCK_DIAG, Socket, SocketAddr as NlAddr};
use netop_core::{FlowKey, Protocol, SocketEntry};

pub use wire::WireError;

/// `INET_DIAG_NOCOOKIE`: match the socket by its addresses only.
const NO_COOKIE: [u8; 8] = [0xff; 8];
/// Longest wait for one reply datagram.
const RECV_TIMEOUT: Duration = Duration::from_secs(2);
/// Receive buffer; the kernel never sends dump datagrams above 32 KiB.
const RECV_BUF: usize = 64 * 1024;

/// Address family of a dump.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    fn af(self) -> u8 {
        match self {
            Family::V4 => AF_INET,
            Family::V6 => AF_INET6,
        }
    }

    fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }
}

/// Errors of sock_diag queries.
#[derive(Debug, thiserror::Error)]
pub enum SockDiagError {
    #[error("{op} on the sock_diag netlink socket failed: {source}")]
    Io {
        op: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("the kernel refused the sock_diag request: {source}")]
    Kernel {
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Malformed(#[from] WireError),
}

impl SockDiagError {
    /// True when the failure is a missing privilege.
    pub fn is_permission(&self) -> bool {
        let source = match self {
            SockDiagError::Io { source, .. } | SockDiagError::Kernel { source } => source,
            SockDiagError::Malformed(_) => return false,
        };
        source.kind() == io::ErrorKind::PermissionDenied
    }
}

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Done,
    NotFound,
}

/// An open NETLINK_SOCK_DIAG socket.
pub struct SockDiag {
    socket: Socket,
    seq: u32,
    buf: Vec<u8>,
}

impl std::fmt::Debug for SockDiag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SockDiag")
            .field("fd", &self.socket.as_raw_fd())
            .field("seq", &self.seq)
            .finish()
    }
}

impl SockDiag {
    /// Opens the netlink socket (no privileges needed).
    pub fn open() -> Result<Self, SockDiagError> {
        let io = |op| move |source| SockDiagError::Io { op, source };
        let mut socket = Socket::new(NETLINK_SOCK_DIAG).map_err(io("socket"))?;
        socket.bind_auto().map_err(io("bind"))?;
        socket.connect(&NlAddr::new(0, 0)).map_err(io("connect"))?;
        let timeout = nix::sys::time::TimeVal::new(
            RECV_TIMEOUT.as_secs() as nix::libc::time_t,
            RECV_TIMEOUT.subsec_micros() as nix::libc::suseconds_t,
        );
        nix::sys::socket::setsockopt(&socket, nix::sys::socket::sockopt::ReceiveTimeout, &timeout)
            .map_err(|errno| SockDiagError::Io {
                op: "setsockopt(SO_RCVTIMEO)",
                source: errno.into(),
            })?;
        Ok(SockDiag {
            socket,
            seq: 0,
            buf: vec![0; RECV_BUF],
        })
    }

    /// Every socket of one protocol and family, in every state. Protocols
    /// other than TCP and UDP have no sockets here and yield an empty list.
    pub fn dump(
        &mut self,
        proto: Protocol,
        family: Family,
    ) -> Result<Vec<SocketEntry>, SockDiagError> {
        let Some(ipproto) = ip_proto(proto) else {
            return Ok(Vec::new());
        };
        let socket_id = match family {
            Family::V4 => SocketId::new_v4(),
            Family::V6 => SocketId::new_v6(),
        };
        let req = request(family.af(), ipproto, socket_id);
        let mut out = Vec::new();
        let outcome = self.query(req, NLM_F_REQUEST | NLM_F_DUMP, proto, &mut |e| out.push(e))?;
        if outcome == Outcome::NotFound {
            // The protocol's diag module is absent: no sockets to report.
            tracing::debug!(?proto, ?family, "sock_diag dump: ENOENT");
        }
        Ok(out)
    }

    /// The socket of one flow, by an exact kernel lookup (no dump).
    ///
    /// TCP looks the socket up with the local side as `idiag_src`; a
    /// listener is returned when no connection matches. UDP lookups treat
    /// `idiag_src` as the packet source, i.e. the remote peer, so that
    /// order is tried first and the swapped one second. Every answer is
    /// checked against the flow, so a wrong socket is never returned.
    pub fn lookup_one(&mut self, key: &FlowKey) -> Result<Option<SocketEntry>, SockDiagError> {
        let Some(ipproto) = ip_proto(key.proto) else {
            return Ok(None);
        };
        let local = key.local();
        let remote = key.remote();
        let family = Family::of(key.local_ip);
        if family != Family::of(key.remote_ip) {
            return Ok(None);
        }
        // (idiag_src, idiag_dst) orders to try.
        let orders: &[(std::net::SocketAddr, std::net::SocketAddr)] = match key.proto {
            Protocol::Udp => &[(remote, local), (local, remote)],
            _ => &[(local, remote)],
        };
        for &(src, dst) in orders {
            let socket_id = SocketId {
                source_port: src.port(),
                destination_port: dst.port(),
                source_address: src.ip(),
                destination_address: dst.ip(),
                interface_id: 0,
                cookie: NO_COOKIE,
            };
            let req = request(family.af(), ipproto, socket_id);
            let mut found = None;
            self.query(req, NLM_F_REQUEST, key.proto, &mut |e| found = Some(e))?;
            if let Some(entry) = found.filter(|e| matches_flow(e, key)) {
                return Ok(Some(entry));
            }
        }
        Ok(None)
    }

    /// Sends one request and feeds every socket of its reply to `sink`.
    fn query(
        &mut self,
        req: InetRequest,
        flags: u16,
        proto: Protocol,
        sink: &mut dyn FnMut(SocketEntry),
    ) -> Result<Outcome, SockDiagError> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let dump = flags & NLM_F_DUMP == NLM_F_DUMP;
        let bytes = wire::encode_request(req, flags, seq);
        self.socket
            .send(&bytes, 0)
            .map_err(|source| SockDiagError::Io { op: "send", source })?;
        loop {
            let n = self.recv()?;
            for msg in wire::messages(&self.buf[..n]) {
                let msg = msg?;
                if msg.sequence_number() != seq {
                    let got = msg.sequence_number();
                    tracing::debug!(got, want = seq, "stale sock_diag reply skipped");
                    continue;
                }
                if msg.flags() & wire::NLM_F_DUMP_INTR != 0 {
                    tracing::debug!("sock_diag dump interrupted; table may be inconsistent");
                }
                match msg.message_type() {
                    wire::NLMSG_NOOP => {}
                    wire::NLMSG_DONE => return done_status(wire::decode_done(msg.payload())),
                    wire::NLMSG_ERROR => return done_status(wire::decode_error(msg.payload())?),
                    wire::NLMSG_OVERRUN => {
                        return Err(WireError("netlink overrun".into()).into());
                    }
                    wire::SOCK_DIAG_BY_FAMILY => {
                        match wire::decode_socket(msg.payload(), proto) {
                            Ok(entry) => sink(entry),
                            Err(err) => tracing::debug!(%err, "undecodable socket skipped"),
                        }
                        if !dump {
                            return Ok(Outcome::Done);
                        }
                    }
                    other => tracing::debug!(kind = other, "unexpected netlink message"),
                }
            }
        }
    }

    /// Receives one datagram into `self.buf`, retrying on EINTR.
    fn recv(&mut self) -> Result<usize, SockDiagError> {
        loop {
            match self.socket.recv(&mut &mut self.buf[..], libc::MSG_TRUNC) {
                Ok(n) if n > self.buf.len() => {
                    return Err(WireError(format!("datagram of {n} bytes truncated")).into());
                }
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => return Err(SockDiagError::Io { op: "recv", source }),
            }
        }
    }
}

/// Maps an NLMSG_DONE / NLMSG_ERROR status (0 or a negative errno).
fn done_status(code: i32) -> Result<Outcome, SockDiagError> {
    match code {
        0 => Ok(Outcome::Done),
        c if c == -libc::ENOENT => Ok(Outcome::NotFound),
        c => Err(SockDiagError::Kernel {
            source: io::Error::from_raw_os_error(c.saturating_neg()),
        }),
    }
}

fn ip_proto(proto: Protocol) -> Option<u8> {
    match proto {
        Protocol::Tcp => Some(IPPROTO_TCP),
        Protocol::Udp => Some(IPPROTO_UDP),
        _ => None,
    }
}

fn request(family: u8, protocol: u8, socket_id: SocketId) -> InetRequest {
    let extensions = if protocol == IPPROTO_TCP {
        ExtensionFlags::INFO
    } else {
        ExtensionFlags::empty()
    };
    InetRequest {
        family,
        protocol,
        extensions,
        // Every state, including those newer than the crate's flags
        // (NEW_SYN_RECV, BOUND_INACTIVE).
        states: StateFlags::from_bits_retain(u32::MAX),
        socket_id,
    }
}

/// True when `entry` can be the socket of `key`, by the core's one
/// matching rule ([`netop_core::tuples`]).
fn matches_flow(entry: &SocketEntry, key: &FlowKey) -> bool {
    netop_core::tuples::matches(entry.local, entry.remote, key.local(), key.remote()).is_some()
}

/// Decodes every socket of a dump reply datagram, skipping what does not
/// parse: the entry point of the `sockdiag_reply` fuzz target (`fuzz/`),
/// which must find no input that panics.
#[doc(hidden)]
pub fn decode_reply(buf: &[u8], proto: Protocol) -> Vec<SocketEntry> {
    let mut out = Vec::new();
    for msg in wire::messages(buf) {
        let Ok(msg) = msg else { break };
        let _ = wire::decode_error(msg.payload());
        let _ = wire::decode_done(msg.payload());
        if let Ok(entry) = wire::decode_socket(msg.payload(), proto) {
            out.push(entry);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(local: &str, remote: &str) -> SocketEntry {
        SocketEntry {
            proto: Protocol::Udp,
            local: local.parse().expect("addr"),
            remote: remote.parse().expect("addr"),
            state: netop_core::TcpState::None,
            inode: 1,
            uid: 0,
            rtt_us: None,
            retrans: None,
            owner: None,
            fd: None,
        }
    }

    fn key(local: &str, remote: &str) -> FlowKey {
        let l: std::net::SocketAddr = local.parse().expect("addr");
        let r: std::net::SocketAddr = remote.parse().expect("addr");
        FlowKey {
            proto: Protocol::Udp,
            local_ip: l.ip(),
            local_port: l.port(),
            remote_ip: r.ip(),
            remote_port: r.port(),
        }
    }

    #[test]
    fn flow_match_accepts_exact_wildcard_and_unconnected() {
        let k = key("127.0.0.1:5000", "127.0.0.1:6000");
        assert!(matches_flow(&entry("127.0.0.1:5000", "127.0.0.1:6000"), &k));
        assert!(matches_flow(&entry("127.0.0.1:5000", "0.0.0.0:0"), &k));
        assert!(matches_flow(&entry("0.0.0.0:5000", "0.0.0.0:0"), &k));
        assert!(matches_flow(&entry("[::]:5000", "[::]:0"), &k));
        assert!(matches_flow(
            &entry("[::ffff:127.0.0.1]:5000", "[::ffff:127.0.0.1]:6000"),
            &k
        ));
    }

    #[test]
    fn flow_match_rejects_the_peer_socket() {
        let k = key("127.0.0.1:5000", "127.0.0.1:6000");
        assert!(!matches_flow(
            &entry("127.0.0.1:6000", "127.0.0.1:5000"),
            &k
        ));
        assert!(!matches_flow(&entry("127.0.0.1:6000", "0.0.0.0:0"), &k));
        assert!(!matches_flow(&entry("127.0.0.2:5000", "0.0.0.0:0"), &k));
        assert!(!matches_flow(
            &entry("127.0.0.1:5000", "127.0.0.1:6001"),
            &k
        ));
    }

    #[test]
    fn done_status_maps_errno() {
        assert_eq!(done_status(0).ok(), Some(Outcome::Done));
        assert_eq!(done_status(-libc::ENOENT).ok(), Some(Outcome::NotFound));
        let err = done_status(-libc::EPERM).expect_err("error");
        assert!(err.is_permission());
    }
}

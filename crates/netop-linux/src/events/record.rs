//! One event record of the eBPF program, as bytes, into a [`SocketEvent`].
//!
//! The layout is `struct netop_event` in `netop.bpf.c` (80 bytes, native
//! byte order for numbers, network order for addresses); keep the two in
//! step. The last field is the socket's cookie, the number a kernel
//! counter reads from the socket's egress packets (`FlowDelta::cookie`). Decoding is plain Rust over a byte slice: a short record or an
//! unknown family or protocol is an error value, never a panic.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use netop_core::Protocol;

/// Size of one record.
pub const RECORD_LEN: usize = 80;

const AF_INET: u16 = 2;
const AF_INET6: u16 = 10;
const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;

/// Which tracepoint reported a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// `sock:sock_send_length`, in the sender's context.
    Send,
    /// `sock:sock_recv_length`, in the receiver's context.
    Recv,
    /// `sock:inet_sock_set_state` SYN_SENT -> ESTABLISHED, with the owner
    /// remembered at `connect()`.
    Connect,
}

/// A socket and the process that used it, told by the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketEvent {
    /// Network namespace inode (as in `/proc/PID/ns/net`).
    pub netns: u64,
    pub proto: Protocol,
    pub local: SocketAddr,
    /// Unspecified with port 0 for unconnected sockets.
    pub remote: SocketAddr,
    /// The process (thread group) id.
    pub pid: u32,
    /// The thread's name at the time (`comm`, at most 15 bytes).
    pub comm: String,
    pub uid: u32,
    pub kind: EventKind,
    /// The socket's cookie (unique per kernel, never reused while it
    /// runs); `None` when the kernel gave 0.
    pub cookie: Option<u64>,
}

impl SocketEvent {
    /// The owner this event names, as the core's owner cache keeps it.
    pub fn owner(&self, seen: std::time::Instant) -> netop_core::owners::CachedOwner {
        netop_core::owners::CachedOwner {
            pid: self.pid,
            comm: self.comm.clone(),
            uid: self.uid,
            netns: self.netns,
            seen,
        }
    }
}

/// Why a record could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("event record of {0} bytes, expected {RECORD_LEN}")]
    Short(usize),
    #[error("event record with unknown address family {0}")]
    Family(u16),
    #[error("event record with unknown protocol {0}")]
    Protocol(u8),
    #[error("event record with unknown kind {0}")]
    Kind(u8),
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&b[at..at + 8]);
    u64::from_ne_bytes(bytes)
}

fn addr_at(b: &[u8], at: usize, family: u16) -> IpAddr {
    let mut octets = [0u8; 16];
    octets.copy_from_slice(&b[at..at + 16]);
    if family == AF_INET {
        IpAddr::V4(Ipv4Addr::new(octets[0], octets[1], octets[2], octets[3]))
    } else {
        IpAddr::V6(Ipv6Addr::from(octets))
    }
}

/// Decodes one record (longer slices are accepted; the ring buffer may
/// round records up).
pub fn decode(b: &[u8]) -> Result<SocketEvent, RecordError> {
    if b.len() < RECORD_LEN {
        return Err(RecordError::Short(b.len()));
    }
    let netns = u64_at(b, 0);
    let family = u16_at(b, 16);
    if family != AF_INET && family != AF_INET6 {
        return Err(RecordError::Family(family));
    }
    let proto = match b[18] {
        IPPROTO_TCP => Protocol::Tcp,
        IPPROTO_UDP => Protocol::Udp,
        other => return Err(RecordError::Protocol(other)),
    };
    let kind = match b[19] {
        1 => EventKind::Send,
        2 => EventKind::Recv,
        3 => EventKind::Connect,
        other => return Err(RecordError::Kind(other)),
    };
    let comm = &b[56..72];
    let end = comm.iter().position(|&c| c == 0).unwrap_or(comm.len());
    Ok(SocketEvent {
        netns,
        proto,
        local: SocketAddr::new(addr_at(b, 24, family), u16_at(b, 20)),
        remote: SocketAddr::new(addr_at(b, 40, family), u16_at(b, 22)),
        pid: u32_at(b, 8),
        comm: String::from_utf8_lossy(&comm[..end]).into_owned(),
        uid: u32_at(b, 12),
        kind,
        cookie: Some(u64_at(b, 72)).filter(|&c| c != 0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record as the kernel writes it (this host's byte order).
    struct Fixture {
        netns: u64,
        tgid: u32,
        uid: u32,
        family: u16,
        proto: u8,
        kind: u8,
        lport: u16,
        rport: u16,
        laddr: [u8; 16],
        raddr: [u8; 16],
        comm: &'static [u8],
        cookie: u64,
    }

    impl Fixture {
        fn bytes(&self) -> Vec<u8> {
            let mut b = Vec::with_capacity(RECORD_LEN);
            b.extend(self.netns.to_ne_bytes());
            b.extend(self.tgid.to_ne_bytes());
            b.extend(self.uid.to_ne_bytes());
            b.extend(self.family.to_ne_bytes());
            b.push(self.proto);
            b.push(self.kind);
            b.extend(self.lport.to_ne_bytes());
            b.extend(self.rport.to_ne_bytes());
            b.extend(self.laddr);
            b.extend(self.raddr);
            let mut comm = [0u8; 16];
            comm[..self.comm.len()].copy_from_slice(self.comm);
            b.extend(comm);
            b.extend(self.cookie.to_ne_bytes());
            assert_eq!(b.len(), RECORD_LEN);
            b
        }
    }

    fn v4(a: [u8; 4]) -> [u8; 16] {
        let mut o = [0u8; 16];
        o[..4].copy_from_slice(&a);
        o
    }

    fn tcp4() -> Fixture {
        Fixture {
            netns: 4026531840,
            tgid: 4242,
            uid: 1000,
            family: 2,
            proto: 6,
            kind: 3,
            lport: 40000,
            rport: 443,
            laddr: v4([10, 0, 0, 1]),
            raddr: v4([93, 184, 216, 34]),
            comm: b"curl",
            cookie: 0x0000_1234_5678_9abc,
        }
    }

    #[test]
    fn ipv4_tcp_connect_record() {
        let e = decode(&tcp4().bytes()).expect("valid record");
        assert_eq!(e.netns, 4026531840);
        assert_eq!(e.proto, Protocol::Tcp);
        assert_eq!(e.local, "10.0.0.1:40000".parse().expect("addr"));
        assert_eq!(e.remote, "93.184.216.34:443".parse().expect("addr"));
        assert_eq!((e.pid, e.uid), (4242, 1000));
        assert_eq!(e.comm, "curl");
        assert_eq!(e.kind, EventKind::Connect);
        assert_eq!(e.cookie, Some(0x0000_1234_5678_9abc));
    }

    #[test]
    fn ipv6_udp_unconnected_record_with_a_full_comm() {
        let mut f = tcp4();
        f.family = 10;
        f.proto = 17;
        f.kind = 1;
        f.rport = 0;
        f.laddr = "fd00::1".parse::<Ipv6Addr>().expect("addr").octets();
        f.raddr = [0; 16];
        f.comm = b"exactly15bytes!";
        let e = decode(&f.bytes()).expect("valid record");
        assert_eq!(e.proto, Protocol::Udp);
        assert_eq!(e.local, "[fd00::1]:40000".parse().expect("addr"));
        assert_eq!(e.remote, "[::]:0".parse().expect("addr"));
        assert_eq!(e.comm, "exactly15bytes!");
        assert_eq!(e.kind, EventKind::Send);
    }

    #[test]
    fn the_cookie_is_the_last_eight_bytes_and_zero_is_none() {
        let mut f = tcp4();
        f.cookie = u64::MAX - 1;
        let b = f.bytes();
        assert_eq!(&b[72..80], &(u64::MAX - 1).to_ne_bytes());
        assert_eq!(decode(&b).expect("valid record").cookie, Some(u64::MAX - 1));
        f.cookie = 0;
        assert_eq!(decode(&f.bytes()).expect("valid record").cookie, None);
        // The comm before it is read whole, not into the cookie.
        let mut f = tcp4();
        f.comm = b"exactly16bytes!!";
        let e = decode(&f.bytes()).expect("valid record");
        assert_eq!(
            (e.comm.as_str(), e.cookie),
            ("exactly16bytes!!", Some(0x0000_1234_5678_9abc))
        );
    }

    #[test]
    fn comm_without_terminator_and_invalid_utf8_is_kept() {
        let mut b = tcp4().bytes();
        b[56..72].copy_from_slice(b"sixteen-bytes-\xff!");
        let e = decode(&b).expect("valid record");
        assert_eq!(e.comm.chars().count(), 16);
        assert!(e.comm.starts_with("sixteen-bytes-"));
    }

    #[test]
    fn bad_records_are_errors() {
        let b = tcp4().bytes();
        assert_eq!(decode(&b[..79]), Err(RecordError::Short(79)));
        assert_eq!(decode(&b[..72]), Err(RecordError::Short(72)));
        assert_eq!(decode(&[]), Err(RecordError::Short(0)));
        let mut f = tcp4();
        f.family = 1;
        assert_eq!(decode(&f.bytes()), Err(RecordError::Family(1)));
        let mut f = tcp4();
        f.proto = 132;
        assert_eq!(decode(&f.bytes()), Err(RecordError::Protocol(132)));
        let mut f = tcp4();
        f.kind = 9;
        assert_eq!(decode(&f.bytes()), Err(RecordError::Kind(9)));
        let mut longer = b.clone();
        longer.extend([0; 8]);
        assert!(decode(&longer).is_ok());
    }
}

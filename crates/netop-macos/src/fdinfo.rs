//! libproc's answers about one process's descriptors (xnu
//! `bsd/sys/proc_info.h`): the list `proc_pidinfo(PROC_PIDLISTFDS)`
//! returns (`struct proc_fdinfo`), and one socket's
//! `proc_pidfdinfo(PROC_PIDFDSOCKETINFO)` (`struct socket_fdinfo`: its
//! kernel address `soi_so`, family, protocol, and for IP sockets the
//! addresses and ports of `struct in_sockinfo`, for TCP the state of
//! `struct tcp_sockinfo`).
//!
//! `soi_so` is the identity the owner search keys sockets by: the same
//! value is `xso_so` in the pcblist sysctls (`pcblist.rs`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use netop_core::{Protocol, TcpState};

use crate::bytes::{Fields, LayoutError, Writer};

/// `sizeof(struct proc_fdinfo)`: `int32_t proc_fd`, `uint32_t
/// proc_fdtype`.
pub const PROC_FDINFO_LEN: usize = 8;
/// `PROX_FDTYPE_SOCKET`.
pub const PROX_FDTYPE_SOCKET: u32 = 2;

/// `sizeof(struct socket_fdinfo)` (`PROC_PIDFDSOCKETINFO_SIZE`): a
/// 24-byte `proc_fileinfo`, then `socket_info` (768 bytes, of which the
/// `soi_proto` union, sized by its largest member `un_sockinfo`, is 528).
pub const SOCKET_FDINFO_LEN: usize = 792;

// struct proc_fileinfo pfi: fi_openflags 0, fi_status 4, fi_offset
// (off_t) 8, fi_type 16, fi_guardflags 20; 24 bytes.
/// `struct socket_info psi` starts after `pfi`.
pub(crate) const PSI: usize = 24;
// socket_info: struct vinfo_stat soi_stat (136 bytes: 2 × uint32,
// 2 × uint16, uint64 ino, uid, gid, 8 × int64 times, off_t size, int64
// blocks, int32 blksize, 3 × uint32, int64 qspare[2]), then:
/// `uint64_t soi_so`: the socket's kernel address.
pub(crate) const SOI_SO: usize = PSI + 136;
// 144 soi_pcb (uint64_t), 152 soi_type (int)
/// `int soi_protocol` (IPPROTO_TCP 6, IPPROTO_UDP 17).
pub(crate) const SOI_PROTOCOL: usize = PSI + 156;
/// `int soi_family` (AF_INET 2, AF_INET6 30).
pub(crate) const SOI_FAMILY: usize = PSI + 160;
// 164..180 seven shorts and soi_error (u_short), 180 soi_oobmark,
// 184 soi_rcv and 208 soi_snd (struct sockbuf_info, 24 bytes each)
/// `int soi_kind` (SOCKINFO_IN 1, SOCKINFO_TCP 2).
pub(crate) const SOI_KIND: usize = PSI + 232;
/// The `soi_proto` union, after `rfu_1` at 236 (8-aligned).
pub(crate) const SOI_PROTO: usize = PSI + 240;

// struct in_sockinfo (80 bytes), the start of the union for both kinds
// (tcp_sockinfo begins with one):
/// `int insi_fport`: a `u_short` in network byte order, widened.
pub(crate) const INSI_FPORT: usize = 0;
/// `int insi_lport`.
pub(crate) const INSI_LPORT: usize = 4;
// 8 insi_gencnt (uint64), 16 insi_flags, 20 insi_flow (uint32)
/// `uint8_t insi_vflag`: INI_IPV4 1, INI_IPV6 2; then insi_ip_ttl at 25,
/// rfu_1 (uint32) at 28.
pub(crate) const INSI_VFLAG: usize = 24;
/// `insi_faddr`: `struct in4in6_addr` (12 bytes of padding, then the
/// IPv4 address) or `struct in6_addr`.
pub(crate) const INSI_FADDR: usize = 32;
/// `insi_laddr`, the same union.
pub(crate) const INSI_LADDR: usize = 48;
// 64 insi_v4 (u_char), 68 insi_v6 (12 bytes): 80 in all.
/// `int tcpsi_state` of `struct tcp_sockinfo`, after its in_sockinfo.
pub(crate) const TCPSI_STATE: usize = 80;

const SOCKINFO_IN: i32 = 1;
const SOCKINFO_TCP: i32 = 2;
const AF_INET: i32 = 2;
/// AF_INET6 on macOS.
const AF_INET6: i32 = 30;
const INI_IPV4: u8 = 1;
const INI_IPV6: u8 = 2;

/// One descriptor of a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FdEntry {
    pub fd: u32,
    pub fd_type: u32,
}

/// Decodes `proc_pidinfo(PROC_PIDLISTFDS)`'s array; a trailing partial
/// entry is an error.
pub fn fd_list(data: &[u8]) -> Result<Vec<FdEntry>, LayoutError> {
    if !data.len().is_multiple_of(PROC_FDINFO_LEN) {
        return Err(LayoutError::Malformed {
            what: "proc_fdinfo[]",
            why: format!("{} bytes is not a whole number of entries", data.len()),
        });
    }
    data.chunks_exact(PROC_FDINFO_LEN)
        .map(|c| {
            let f = Fields::new("proc_fdinfo", c, PROC_FDINFO_LEN)?;
            Ok(FdEntry {
                fd: f.u32(0)?,
                fd_type: f.u32(4)?,
            })
        })
        .collect()
}

/// What netop needs of one socket descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketInfo {
    /// `soi_so`.
    pub so: u64,
    /// The transport and its endpoints, for TCP and UDP over IP; `None`
    /// for other sockets (UNIX, kernel control, ...).
    pub ip: Option<IpSocket>,
}

/// An IP socket's transport, endpoints and TCP state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpSocket {
    pub proto: Protocol,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub state: TcpState,
}

/// Maps `TSI_S_*` / `TCPS_*` (the same numbers) to the core's state.
pub fn tcp_state(n: i32) -> TcpState {
    match n {
        0 => TcpState::Close,
        1 => TcpState::Listen,
        2 => TcpState::SynSent,
        3 => TcpState::SynRecv,
        4 => TcpState::Established,
        5 => TcpState::CloseWait,
        6 => TcpState::FinWait1,
        7 => TcpState::Closing,
        8 => TcpState::LastAck,
        9 => TcpState::FinWait2,
        10 => TcpState::TimeWait,
        _ => TcpState::None,
    }
}

/// An address from an `in4in6_addr`/`in6_addr` union, by `vflag`.
pub fn union_addr(raw: [u8; 16], v4: bool) -> IpAddr {
    if v4 {
        IpAddr::V4(Ipv4Addr::new(raw[12], raw[13], raw[14], raw[15]))
    } else {
        IpAddr::V6(Ipv6Addr::from(raw))
    }
}

/// Decodes `struct socket_fdinfo`.
pub fn socket_fdinfo(data: &[u8]) -> Result<SocketInfo, LayoutError> {
    let f = Fields::new("socket_fdinfo", data, SOCKET_FDINFO_LEN)?;
    let so = f.u64(SOI_SO)?;
    let family = f.i32(SOI_FAMILY)?;
    let kind = f.i32(SOI_KIND)?;
    let proto = match f.i32(SOI_PROTOCOL)? {
        6 => Protocol::Tcp,
        17 => Protocol::Udp,
        _ => return Ok(SocketInfo { so, ip: None }),
    };
    if !matches!(family, AF_INET | AF_INET6) || !matches!(kind, SOCKINFO_IN | SOCKINFO_TCP) {
        return Ok(SocketInfo { so, ip: None });
    }
    let v4 = match f.u8(SOI_PROTO + INSI_VFLAG)? {
        v if v & INI_IPV4 != 0 => true,
        v if v & INI_IPV6 != 0 => false,
        v => {
            return Err(LayoutError::Malformed {
                what: "in_sockinfo",
                why: format!("insi_vflag {v:#x}"),
            })
        }
    };
    let port = |at: usize| f.be16(SOI_PROTO + at);
    let local = SocketAddr::new(
        union_addr(f.addr16(SOI_PROTO + INSI_LADDR)?, v4),
        port(INSI_LPORT)?,
    );
    let remote = SocketAddr::new(
        union_addr(f.addr16(SOI_PROTO + INSI_FADDR)?, v4),
        port(INSI_FPORT)?,
    );
    let state = if kind == SOCKINFO_TCP {
        tcp_state(f.i32(SOI_PROTO + TCPSI_STATE)?)
    } else {
        TcpState::None
    };
    Ok(SocketInfo {
        so,
        ip: Some(IpSocket {
            proto,
            local,
            remote,
            state,
        }),
    })
}

/// Fixture builders in the layouts above.
pub mod build {
    use super::*;

    /// `proc_fdinfo[]` bytes.
    pub fn fd_list(entries: &[FdEntry]) -> Vec<u8> {
        let mut out = Vec::new();
        for e in entries {
            out.extend_from_slice(&e.fd.to_le_bytes());
            out.extend_from_slice(&e.fd_type.to_le_bytes());
        }
        out
    }

    /// An `in4in6_addr`/`in6_addr` union holding `ip`.
    pub fn union_bytes(ip: IpAddr) -> [u8; 16] {
        match ip {
            IpAddr::V4(v4) => {
                let mut b = [0; 16];
                b[12..].copy_from_slice(&v4.octets());
                b
            }
            IpAddr::V6(v6) => v6.octets(),
        }
    }

    /// A `u_short` port in network byte order, widened to a
    /// little-endian `int` as `insi_lport` holds it.
    fn widened_port(port: u16) -> [u8; 4] {
        let b = port.to_be_bytes();
        [b[0], b[1], 0, 0]
    }

    /// `struct socket_fdinfo` of a TCP or UDP socket.
    pub fn socket_fdinfo(so: u64, s: &IpSocket) -> Vec<u8> {
        let mut w = Writer::new(SOCKET_FDINFO_LEN);
        let v4 = s.local.is_ipv4();
        let tcp = s.proto == Protocol::Tcp;
        w.u64(SOI_SO, so)
            .u32(SOI_PROTOCOL, if tcp { 6 } else { 17 })
            .u32(SOI_FAMILY, if v4 { 2 } else { 30 })
            .u32(SOI_KIND, if tcp { 2 } else { 1 })
            .put(SOI_PROTO + INSI_FPORT, &widened_port(s.remote.port()))
            .put(SOI_PROTO + INSI_LPORT, &widened_port(s.local.port()))
            .put(
                SOI_PROTO + INSI_VFLAG,
                &[if v4 { INI_IPV4 } else { INI_IPV6 }],
            )
            .put(SOI_PROTO + INSI_FADDR, &union_bytes(s.remote.ip()))
            .put(SOI_PROTO + INSI_LADDR, &union_bytes(s.local.ip()));
        if tcp {
            let n = (0..=10).find(|&n| tcp_state(n) == s.state).unwrap_or(0);
            w.u32(SOI_PROTO + TCPSI_STATE, n as u32);
        }
        w.0
    }

    /// `struct socket_fdinfo` of a non-IP socket (a UNIX socket).
    pub fn unix_fdinfo(so: u64) -> Vec<u8> {
        let mut w = Writer::new(SOCKET_FDINFO_LEN);
        w.u64(SOI_SO, so).u32(SOI_FAMILY, 1).u32(SOI_KIND, 3);
        w.0
    }
}

#[cfg(test)]
pub(crate) mod offsets {
    pub(crate) use super::{
        INSI_FADDR, INSI_LADDR, INSI_LPORT, INSI_VFLAG, PSI, SOI_FAMILY, SOI_KIND, SOI_PROTO,
        SOI_PROTOCOL, SOI_SO, TCPSI_STATE,
    };
}

//! The TCP and UDP socket tables of the `net.inet.tcp.pcblist_n` and
//! `net.inet.udp.pcblist_n` sysctls (what `netstat -an` reads).
//!
//! The buffer is a `struct xinpgen` (xnu `bsd/netinet/in_pcb.h`), then per
//! socket a run of items, each starting with its length and kind and
//! padded to 8 bytes (`ROUNDUP64`): `struct xinpcb_n` (XSO_INPCB:
//! addresses, ports, IP version), `struct xsocket_n` (XSO_SOCKET,
//! `bsd/sys/socketvar.h`: the socket's kernel address `xso_so`, its uid),
//! two `xsockbuf_n`, one `xsockstat_n` and, for TCP, `struct xtcpcb_n`
//! (XSO_TCPCB, `bsd/netinet/tcp_var.h`: state, smoothed RTT); a closing
//! `xinpgen` ends it. All of these are `#pragma pack(4)`. Items are
//! read by kind, so an order or a kind this code does not know is
//! skipped, not misread.

use std::net::SocketAddr;

use netop_core::{Protocol, TcpState};

use crate::bytes::{Fields, LayoutError, Writer};
use crate::fdinfo::{tcp_state, union_addr};

/// `sizeof(struct xinpgen)`: xig_len, xig_count (u_int32), xig_gen,
/// xig_sogen (64-bit).
pub const XINPGEN_LEN: usize = 24;
/// `sizeof(struct xinpcb_n)`.
pub const XINPCB_N_LEN: usize = 104;
/// `sizeof(struct xsocket_n)`.
pub const XSOCKET_N_LEN: usize = 76;
/// `sizeof(struct xtcpcb_n)`.
pub const XTCPCB_N_LEN: usize = 204;

/// `XSO_SOCKET`, `XSO_INPCB`, `XSO_TCPCB`.
pub const XSO_SOCKET: u32 = 0x001;
pub const XSO_INPCB: u32 = 0x010;
pub const XSO_TCPCB: u32 = 0x020;

// struct xinpcb_n: xi_len 0, xi_kind 4, xi_inpp (u_int64) 8, then:
/// `u_short inp_fport` (network byte order).
pub(crate) const INP_FPORT: usize = 16;
/// `u_short inp_lport`.
pub(crate) const INP_LPORT: usize = 18;
// 20 inp_ppcb (u_int64, 4-aligned by the pack), 28 inp_gencnt,
// 36 inp_flags, 40 inp_flow, then:
/// `u_char inp_vflag` (INP_IPV4 1, INP_IPV6 2); inp_ip_ttl 45, inp_ip_p 46.
pub(crate) const INP_VFLAG: usize = 44;
/// `inp_dependfaddr` (in_addr_4in6 / in6_addr, 16 bytes).
pub(crate) const INP_FADDR: usize = 48;
/// `inp_dependladdr`.
pub(crate) const INP_LADDR: usize = 64;
// 80 inp_depend4 (1 byte), 84 inp_depend6 (12), 96 inp_flowhash,
// 100 inp_flags2: 104.

// struct xsocket_n: xso_len 0, xso_kind 4, then:
/// `u_int64_t xso_so`.
pub(crate) const XSO_SO: usize = 8;
// 16 so_type (short), 20 so_options (u_int32), 24 so_linger, 26 so_state,
// 28 so_pcb (u_int64), 36 xso_protocol, 40 xso_family, 44..52 four
// shorts, 52 so_error (u_short), 56 so_pgid, 60 so_oobmark, then:
/// `uid_t so_uid`.
pub(crate) const SO_UID: usize = 64;
/// `pid_t so_last_pid`: the last process that used the socket.
pub(crate) const SO_LAST_PID: usize = 68;
/// `pid_t so_e_pid`: its effective (delegating) process.
pub(crate) const SO_E_PID: usize = 72;

// struct xtcpcb_n: xt_len 0, xt_kind 4, t_segq (u_int64) 8, t_dupacks
// 16, t_timer[TCPT_NTIMERS_EXT = 4] 20, then:
/// `int t_state`.
pub(crate) const T_STATE: usize = 36;
// 40 t_flags, 44 t_force, 48..96 twelve tcp_seq/u_int32 fields, 96
// snd_wnd, 100 snd_cwnd, 104 snd_ssthresh, 108 t_maxopd, 112 t_rcvtime,
// 116 t_starttime, 120 t_rtttime, 124 t_rtseq, 128 t_rxtcur, 132
// t_maxseg, then:
/// `int t_srtt`: smoothed RTT in milliseconds, scaled by
/// `TCP_RTT_SCALE` (32).
pub(crate) const T_SRTT: usize = 136;
const TCP_RTT_SCALE: u64 = 32;

/// One socket of a pcblist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pcb {
    pub proto: Protocol,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub state: TcpState,
    /// `xso_so`: the socket's kernel address, as `soi_so` names it.
    pub so: u64,
    pub uid: u32,
    /// Smoothed RTT (TCP), in microseconds.
    pub rtt_us: Option<u32>,
    /// `so_last_pid`, `so_e_pid` (0: none).
    pub last_pid: u32,
    pub e_pid: u32,
}

/// `ROUNDUP64`: a length rounded up to 8 (0 counts as 8, as in xnu).
fn roundup64(n: usize) -> usize {
    if n == 0 {
        8
    } else {
        1 + ((n - 1) | 7)
    }
}

/// Decodes one pcblist sysctl's buffer for `proto`. A record missing its
/// socket item is dropped (it cannot be matched to an owner); a buffer
/// cut short or with an impossible length is an error.
pub fn parse(data: &[u8], proto: Protocol) -> Result<Vec<Pcb>, LayoutError> {
    let head = Fields::new("xinpgen", data, XINPGEN_LEN)?;
    let first = head.u32(0)? as usize;
    if first < XINPGEN_LEN {
        return Err(LayoutError::Malformed {
            what: "xinpgen",
            why: format!("xig_len {first}"),
        });
    }
    let mut out = Vec::new();
    let mut current: Option<Pcb> = None;
    let mut has_socket = false;
    let mut at = roundup64(first);
    while at < data.len() {
        let item = Fields::new("pcblist item", &data[at..], 8)?;
        let len = item.u32(0)? as usize;
        if len <= XINPGEN_LEN {
            // The closing xinpgen.
            break;
        }
        if at + len > data.len() {
            return Err(LayoutError::Truncated {
                what: "pcblist item",
                need: at + len,
                have: data.len(),
            });
        }
        let bytes = &data[at..at + len];
        match item.u32(4)? {
            XSO_INPCB => {
                if let Some(done) = current.take().filter(|_| has_socket) {
                    out.push(done);
                }
                current = Some(inpcb(bytes, proto)?);
                has_socket = false;
            }
            XSO_SOCKET => {
                if let Some(pcb) = current.as_mut() {
                    let f = Fields::new("xsocket_n", bytes, XSOCKET_N_LEN)?;
                    pcb.so = f.u64(XSO_SO)?;
                    pcb.uid = f.u32(SO_UID)?;
                    pcb.last_pid = f.u32(SO_LAST_PID)?;
                    pcb.e_pid = f.u32(SO_E_PID)?;
                    has_socket = true;
                }
            }
            XSO_TCPCB => {
                if let Some(pcb) = current.as_mut() {
                    let f = Fields::new("xtcpcb_n", bytes, XTCPCB_N_LEN)?;
                    pcb.state = tcp_state(f.i32(T_STATE)?);
                    let srtt = f.i32(T_SRTT)?;
                    pcb.rtt_us = (srtt > 0).then(|| {
                        u32::try_from(srtt as u64 * 1000 / TCP_RTT_SCALE).unwrap_or(u32::MAX)
                    });
                }
            }
            _ => {}
        }
        at += roundup64(len);
    }
    if let Some(done) = current.filter(|_| has_socket) {
        out.push(done);
    }
    Ok(out)
}

fn inpcb(bytes: &[u8], proto: Protocol) -> Result<Pcb, LayoutError> {
    let f = Fields::new("xinpcb_n", bytes, XINPCB_N_LEN)?;
    let vflag = f.u8(INP_VFLAG)?;
    let v4 = match vflag {
        v if v & 0x2 != 0 && v & 0x1 == 0 => false,
        v if v & 0x1 != 0 => true,
        v => {
            return Err(LayoutError::Malformed {
                what: "xinpcb_n",
                why: format!("inp_vflag {v:#x}"),
            })
        }
    };
    Ok(Pcb {
        proto,
        local: SocketAddr::new(union_addr(f.addr16(INP_LADDR)?, v4), f.be16(INP_LPORT)?),
        remote: SocketAddr::new(union_addr(f.addr16(INP_FADDR)?, v4), f.be16(INP_FPORT)?),
        state: TcpState::None,
        so: 0,
        uid: 0,
        rtt_us: None,
        last_pid: 0,
        e_pid: 0,
    })
}

/// Builds a pcblist buffer as the kernel lays it out (fixtures): the
/// opening xinpgen, per socket xinpcb_n, xsocket_n, two xsockbuf_n, an
/// xsockstat_n and (TCP) xtcpcb_n, and the closing xinpgen.
pub fn build(pcbs: &[Pcb]) -> Vec<u8> {
    fn push(out: &mut Vec<u8>, item: Vec<u8>) {
        out.extend_from_slice(&item);
        out.resize(out.len() + roundup64(item.len()) - item.len(), 0);
    }
    let mut out = Vec::new();
    let mut gen = Writer::new(XINPGEN_LEN);
    gen.u32(0, XINPGEN_LEN as u32).u32(4, pcbs.len() as u32);
    push(&mut out, gen.0.clone());
    for p in pcbs {
        let v4 = p.local.is_ipv4();
        let mut inp = Writer::new(XINPCB_N_LEN);
        inp.u32(0, XINPCB_N_LEN as u32)
            .u32(4, XSO_INPCB)
            .put(INP_FPORT, &p.remote.port().to_be_bytes())
            .put(INP_LPORT, &p.local.port().to_be_bytes())
            .put(INP_VFLAG, &[if v4 { 1 } else { 2 }])
            .put(INP_FADDR, &crate::fdinfo::build::union_bytes(p.remote.ip()))
            .put(INP_LADDR, &crate::fdinfo::build::union_bytes(p.local.ip()));
        push(&mut out, inp.0);
        let mut so = Writer::new(XSOCKET_N_LEN);
        so.u32(0, XSOCKET_N_LEN as u32)
            .u32(4, XSO_SOCKET)
            .u64(XSO_SO, p.so)
            .u32(SO_UID, p.uid)
            .u32(SO_LAST_PID, p.last_pid)
            .u32(SO_E_PID, p.e_pid);
        push(&mut out, so.0);
        // struct xsockbuf_n: len, kind, then 5 × u_int32 and 2 shorts: 32.
        for kind in [0x002u32, 0x004] {
            let mut sb = Writer::new(32);
            sb.u32(0, 32).u32(4, kind);
            push(&mut out, sb.0);
        }
        // struct xsockstat_n: len, kind, then xst_tc_stats (not read
        // here; its size does not matter to the walk).
        let mut st = Writer::new(8 + 4 * 32);
        st.u32(0, 8 + 4 * 32).u32(4, 0x008);
        push(&mut out, st.0);
        if p.proto == Protocol::Tcp {
            let mut t = Writer::new(XTCPCB_N_LEN);
            let state = (0..=10).find(|&n| tcp_state(n) == p.state).unwrap_or(0);
            let srtt = p
                .rtt_us
                .map_or(0, |us| u64::from(us) * TCP_RTT_SCALE / 1000);
            t.u32(0, XTCPCB_N_LEN as u32)
                .u32(4, XSO_TCPCB)
                .u32(T_STATE, state as u32)
                .u32(T_SRTT, srtt as u32);
            push(&mut out, t.0);
        }
    }
    push(&mut out, gen.0);
    out
}

#[cfg(test)]
pub(crate) mod offsets {
    pub(crate) use super::{
        INP_FADDR, INP_LADDR, INP_VFLAG, SO_E_PID, SO_UID, T_SRTT, T_STATE, XSO_SO,
    };
}

//! The bytes of sock_diag: encoding requests, decoding replies.
//!
//! Pure functions over byte slices, so every malformed-reply case is a unit
//! test instead of a kernel experiment. The request layout and the fixed
//! `inet_diag_msg` header come from `netlink-packet-sock-diag`; the
//! message walk and the attributes are decoded here because the crate's
//! `tcp_info` parser rejects the shorter structs of older kernels, and one
//! bad attribute must cost one socket's RTT, never the whole dump.

use std::net::SocketAddr;

use netlink_packet_core::{NetlinkHeader, NetlinkMessage, Parseable};
use netlink_packet_sock_diag::inet::{InetRequest, InetResponseHeader};
use netlink_packet_sock_diag::SockDiagMessage;
use netop_core::{Protocol, SocketEntry, TcpState};

/// Netlink message header length (`struct nlmsghdr`).
const NLMSG_HDRLEN: usize = 16;
/// `struct inet_diag_msg` length, the fixed part of every socket reply.
const INET_DIAG_MSG_LEN: usize = 72;
/// Netlink attribute header length (`struct nlattr`).
const NLA_HDRLEN: usize = 4;
/// `INET_DIAG_INFO`: the attribute carrying `struct tcp_info`.
const INET_DIAG_INFO: u16 = 2;
/// Attribute type bits (the top two are the nested / byte-order flags).
const NLA_TYPE_MASK: u16 = 0x3fff;
/// Offset of `tcpi_rtt` (smoothed RTT, microseconds) in `struct tcp_info`.
const TCPI_RTT_OFFSET: usize = 68;
/// Offset of `tcpi_total_retrans` in `struct tcp_info`.
const TCPI_TOTAL_RETRANS_OFFSET: usize = 100;

pub(crate) const NLMSG_NOOP: u16 = 1;
pub(crate) const NLMSG_ERROR: u16 = 2;
pub(crate) const NLMSG_DONE: u16 = 3;
pub(crate) const NLMSG_OVERRUN: u16 = 4;
pub(crate) const SOCK_DIAG_BY_FAMILY: u16 = 20;
/// Set on dump messages when the table changed during the dump.
pub(crate) const NLM_F_DUMP_INTR: u16 = 0x10;

/// A reply that cannot be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed sock_diag reply: {0}")]
pub struct WireError(pub String);

/// One netlink message inside a received datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RawMessage<'a> {
    pub kind: u16,
    pub flags: u16,
    pub seq: u32,
    pub payload: &'a [u8],
}

/// Serializes one `SOCK_DIAG_BY_FAMILY` request.
pub(crate) fn encode_request(req: InetRequest, flags: u16, seq: u32) -> Vec<u8> {
    let mut header = NetlinkHeader::default();
    header.flags = flags;
    header.sequence_number = seq;
    let mut msg = NetlinkMessage::new(header, SockDiagMessage::InetRequest(req).into());
    msg.finalize();
    let mut buf = vec![0; msg.buffer_len()];
    msg.serialize(&mut buf);
    buf
}

/// Splits a datagram into its netlink messages. Stops at the first
/// inconsistent length with an error; what came before it stays valid.
pub(crate) fn messages(buf: &[u8]) -> impl Iterator<Item = Result<RawMessage<'_>, WireError>> {
    let mut off = 0usize;
    let mut failed = false;
    std::iter::from_fn(move || {
        if failed || off >= buf.len() {
            return None;
        }
        let rest = &buf[off..];
        let parsed = parse_message(rest);
        match parsed {
            Ok((msg, len)) => {
                off = off.saturating_add(align4(len));
                Some(Ok(msg))
            }
            Err(e) => {
                failed = true;
                Some(Err(e))
            }
        }
    })
}

fn parse_message(rest: &[u8]) -> Result<(RawMessage<'_>, usize), WireError> {
    if rest.len() < NLMSG_HDRLEN {
        return Err(WireError(format!(
            "{} trailing bytes, shorter than a netlink header",
            rest.len()
        )));
    }
    let len = read_u32(rest, 0).unwrap_or(0) as usize;
    if len < NLMSG_HDRLEN || len > rest.len() {
        return Err(WireError(format!(
            "netlink length {len} with {} bytes left",
            rest.len()
        )));
    }
    let msg = RawMessage {
        kind: read_u16(rest, 4).unwrap_or(0),
        flags: read_u16(rest, 6).unwrap_or(0),
        seq: read_u32(rest, 8).unwrap_or(0),
        payload: &rest[NLMSG_HDRLEN..len],
    };
    Ok((msg, len))
}

/// The errno of an `NLMSG_ERROR` payload: 0 for an ack, else a negative
/// errno as the kernel sends it.
pub(crate) fn decode_error(payload: &[u8]) -> Result<i32, WireError> {
    read_i32(payload, 0).ok_or_else(|| WireError("NLMSG_ERROR shorter than its error code".into()))
}

/// The status of an `NLMSG_DONE` payload (0 when absent).
pub(crate) fn decode_done(payload: &[u8]) -> i32 {
    read_i32(payload, 0).unwrap_or(0)
}

/// Decodes one `inet_diag_msg` (plus attributes) into a socket entry.
pub(crate) fn decode_socket(payload: &[u8], proto: Protocol) -> Result<SocketEntry, WireError> {
    if payload.len() < INET_DIAG_MSG_LEN {
        return Err(WireError(format!(
            "inet_diag_msg of {} bytes, expected {INET_DIAG_MSG_LEN}",
            payload.len()
        )));
    }
    let header = InetResponseHeader::parse(&payload[..INET_DIAG_MSG_LEN])
        .map_err(|e| WireError(e.to_string()))?;
    let id = &header.socket_id;
    let is_tcp = proto == Protocol::Tcp;
    let mut entry = SocketEntry {
        proto,
        local: SocketAddr::new(id.source_address, id.source_port),
        remote: SocketAddr::new(id.destination_address, id.destination_port),
        state: if is_tcp {
            TcpState::from_linux(header.state)
        } else {
            TcpState::None
        },
        inode: u64::from(header.inode),
        uid: header.uid,
        rtt_us: None,
        retrans: None,
        owner: None,
        fd: None,
    };
    // Listeners report a tcp_info of zeros: no RTT to speak of.
    if is_tcp && entry.state != TcpState::Listen {
        for (kind, value) in attributes(&payload[INET_DIAG_MSG_LEN..]) {
            if kind == INET_DIAG_INFO {
                if let Some((rtt, retrans)) = tcp_info_stats(value) {
                    // 0 means "no sample yet" (e.g. SYN_SENT).
                    entry.rtt_us = (rtt != 0).then_some(rtt);
                    entry.retrans = Some(retrans);
                }
            }
        }
    }
    Ok(entry)
}

/// Walks netlink attributes as `(type, value)`; a truncated attribute ends
/// the walk (the ones before it are still returned).
pub(crate) fn attributes(buf: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    let mut off = 0usize;
    std::iter::from_fn(move || {
        let rest = buf.get(off..)?;
        let len = usize::from(read_u16(rest, 0)?);
        let kind = read_u16(rest, 2)? & NLA_TYPE_MASK;
        if len < NLA_HDRLEN || len > rest.len() {
            return None;
        }
        off = off.saturating_add(align4(len));
        Some((kind, &rest[NLA_HDRLEN..len]))
    })
}

/// `(tcpi_rtt, tcpi_total_retrans)` from a `struct tcp_info`, or `None` when
/// the struct is too short to hold them (kernels before 2.6.x).
pub(crate) fn tcp_info_stats(info: &[u8]) -> Option<(u32, u32)> {
    Some((
        read_u32(info, TCPI_RTT_OFFSET)?,
        read_u32(info, TCPI_TOTAL_RETRANS_OFFSET)?,
    ))
}

fn align4(len: usize) -> usize {
    len.saturating_add(3) & !3
}

fn read_u16(buf: &[u8], at: usize) -> Option<u16> {
    let bytes = buf.get(at..at.checked_add(2)?)?;
    Some(u16::from_ne_bytes([bytes[0], bytes[1]]))
}

fn read_u32(buf: &[u8], at: usize) -> Option<u32> {
    let bytes = buf.get(at..at.checked_add(4)?)?;
    Some(u32::from_ne_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
}

fn read_i32(buf: &[u8], at: usize) -> Option<i32> {
    read_u32(buf, at).map(|v| v as i32)
}

#[cfg(test)]
#[path = "wire_tests.rs"]
mod tests;

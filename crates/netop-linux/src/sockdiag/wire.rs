//! The bytes of sock_diag: encoding requests, decoding replies.
//!
//! Pure functions over byte slices, so every malformed-reply case is a unit
//! test instead of a kernel experiment. From the netlink crates: the
//! request's layout and serialization, the netlink header of each reply
//! message (`NetlinkBuffer`, checked before any field is read), the
//! `NLMSG_ERROR` and `NLMSG_DONE` codes, the attribute walk
//! (`NlasIterator`) and the fixed `inet_diag_msg` header. What is left here
//! and why:
//!
//! - The walk over the messages of one datagram: netlink-packet-core
//!   parses one message at a time and has no iterator over a datagram.
//! - `tcp_info`: netlink-packet-sock-diag's `InetResponse::parse` either
//!   copies the attribute into a `Vec` per socket (default features) or,
//!   with `rich_nlas`, rejects any `tcp_info` shorter than the newest
//!   kernel's struct (so older kernels would lose every TCP socket), and
//!   one attribute it cannot parse (a congestion name that is not UTF-8)
//!   fails the whole socket. We read the two fields we show at their fixed
//!   offsets instead, so one bad attribute costs one socket's RTT, never
//!   the socket, and decoding a socket allocates nothing.

use std::net::SocketAddr;

use netlink_packet_core::{
    DoneBuffer, Emitable, ErrorBuffer, NetlinkBuffer, NetlinkHeader, NetlinkMessage, NlasIterator,
    Parseable, NLMSG_ALIGNTO,
};
use netlink_packet_sock_diag::constants::INET_DIAG_INFO;
use netlink_packet_sock_diag::inet::{InetRequest, InetResponseHeader};
use netlink_packet_sock_diag::SockDiagMessage;
use netop_core::{Protocol, SocketEntry, TcpState};

pub(crate) use netlink_packet_core::{
    NLMSG_DONE, NLMSG_ERROR, NLMSG_NOOP, NLMSG_OVERRUN, NLM_F_DUMP_INTR,
};
pub(crate) use netlink_packet_sock_diag::constants::SOCK_DIAG_BY_FAMILY;

/// Offset of `tcpi_rtt` (smoothed RTT, microseconds) in `struct tcp_info`
/// (netlink-packet-sock-diag's `TcpInfoBuffer` keeps its fields private).
const TCPI_RTT_OFFSET: usize = 68;
/// Offset of `tcpi_total_retrans` in `struct tcp_info`.
const TCPI_TOTAL_RETRANS_OFFSET: usize = 100;

/// A reply that cannot be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed sock_diag reply: {0}")]
pub struct WireError(pub String);

/// One netlink message of a received datagram, its header checked.
pub(crate) type Message<'a> = NetlinkBuffer<&'a [u8]>;

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
pub(crate) fn messages(buf: &[u8]) -> impl Iterator<Item = Result<Message<'_>, WireError>> {
    let mut rest = buf;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        match NetlinkBuffer::new_checked(rest) {
            Ok(msg) => {
                let next = align(msg.length() as usize);
                rest = rest.get(next..).unwrap_or_default();
                Some(Ok(msg))
            }
            Err(e) => {
                rest = &[];
                Some(Err(WireError(e.to_string())))
            }
        }
    })
}

/// The errno of an `NLMSG_ERROR` payload: 0 for an ack, else a negative
/// errno as the kernel sends it.
pub(crate) fn decode_error(payload: &[u8]) -> Result<i32, WireError> {
    let error = ErrorBuffer::new_checked(payload).map_err(|e| WireError(e.to_string()))?;
    Ok(error.code().map_or(0, i32::from))
}

/// The status of an `NLMSG_DONE` payload (0 when absent).
pub(crate) fn decode_done(payload: &[u8]) -> i32 {
    DoneBuffer::new_checked(payload).map_or(0, |done| done.code())
}

/// Decodes one `inet_diag_msg` (plus attributes) into a socket entry.
pub(crate) fn decode_socket(payload: &[u8], proto: Protocol) -> Result<SocketEntry, WireError> {
    let header = InetResponseHeader::parse(payload).map_err(|e| WireError(e.to_string()))?;
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
    // Listeners report a tcp_info of zeros: no RTT to speak of. A
    // truncated attribute ends the walk; the ones before it count.
    if is_tcp && entry.state != TcpState::Listen {
        let rest = payload.get(header.buffer_len()..).unwrap_or_default();
        let attributes = NlasIterator::new(rest).map_while(Result::ok);
        for nla in attributes {
            if nla.kind() == INET_DIAG_INFO {
                if let Some((rtt, retrans)) = tcp_info_stats(nla.value()) {
                    // 0 means "no sample yet" (e.g. SYN_SENT).
                    entry.rtt_us = (rtt != 0).then_some(rtt);
                    entry.retrans = Some(retrans);
                }
            }
        }
    }
    Ok(entry)
}

/// `(tcpi_rtt, tcpi_total_retrans)` from a `struct tcp_info`, or `None` when
/// the struct is too short to hold them (kernels before 2.6.x).
pub(crate) fn tcp_info_stats(info: &[u8]) -> Option<(u32, u32)> {
    Some((
        read_u32(info, TCPI_RTT_OFFSET)?,
        read_u32(info, TCPI_TOTAL_RETRANS_OFFSET)?,
    ))
}

/// A length rounded up to netlink's 4-byte alignment.
fn align(len: usize) -> usize {
    let to = usize::from(NLMSG_ALIGNTO);
    len.saturating_add(to - 1) & !(to - 1)
}

fn read_u32(buf: &[u8], at: usize) -> Option<u32> {
    let bytes = buf.get(at..at.checked_add(4)?)?;
    Some(u32::from_ne_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
}

#[cfg(test)]
#[path = "wire_tests.rs"]
mod tests;

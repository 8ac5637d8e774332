//! Frame decoding: link layer by hand, network and transport by etherparse.
//!
//! etherparse reads Ethernet (with 802.1Q tags), IP with extension headers,
//! TCP, UDP and ICMP, tolerating payloads cut short by the snap length. It
//! does not read Linux cooked capture v2, the loopback hardware type of
//! cooked v1, or the BSD null/loop headers, so those few fixed-size headers
//! are read here and the network layer is handed to etherparse.
//!
//! Decoding never panics: anything short or malformed becomes a
//! [`DecodeError`] that the engine counts.

use std::net::IpAddr;

use etherparse::{EtherType, LaxNetSlice, LaxSlicedPacket, TransportSlice};

use crate::capture::{Frame, LinkType};
use crate::flow::Protocol;

/// Linux `sll_pkttype` for a packet this host sent.
const PACKET_OUTGOING: u8 = 4;
const ARPHRD_ETHER: u16 = 1;
const ARPHRD_LOOPBACK: u16 = 772;
const ETHERNET_HEADER_LEN: u32 = 14;
const SLL_HEADER_LEN: usize = 16;
const SLL2_HEADER_LEN: usize = 20;
const NULL_HEADER_LEN: usize = 4;

/// What a frame said, as far as netop cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<'a> {
    /// Interface the frame was captured on, if known.
    pub ifindex: Option<u32>,
    /// The kernel's own word on the direction (cooked captures only).
    pub outgoing: Option<bool>,
    /// Bytes the interface's counters count for this frame: the network
    /// layer as the kernel saw it plus the interface's link-layer header.
    pub wire_len: u32,
    /// The IP layer, or `None` for non-IP frames (ARP, LLDP, ...).
    pub ip: Option<IpPacket<'a>>,
}

/// Addresses, protocol and ports of an IP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpPacket<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub proto: Protocol,
    /// Ports for TCP and UDP; 0 otherwise.
    pub src_port: u16,
    pub dst_port: u16,
    pub tcp: TcpFlags,
    /// The captured part of the transport payload (DNS reads this).
    pub payload: &'a [u8],
}

/// The TCP flags the flow table reacts to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TcpFlags {
    pub syn: bool,
    pub fin: bool,
    pub rst: bool,
}

/// Why a frame could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("frame shorter than its headers")]
    Truncated,
    #[error("malformed header")]
    Malformed,
    #[error("unsupported link type {0}")]
    UnsupportedLink(i32),
}

/// Link-layer header length that the kernel's counters include for a
/// cooked-capture hardware type.
fn link_header_len(arphrd: u16) -> u32 {
    match arphrd {
        ARPHRD_ETHER | ARPHRD_LOOPBACK => ETHERNET_HEADER_LEN,
        _ => 0,
    }
}

fn be16(data: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([data[at], data[at + 1]])
}

/// Decodes one frame.
pub fn decode<'a>(frame: &Frame<'a>) -> Result<Packet<'a>, DecodeError> {
    let data = frame.data;
    let orig = frame.orig_len.max(data.len() as u32);
    match frame.link {
        LinkType::Ethernet => {
            let sliced =
                LaxSlicedPacket::from_ethernet(data).map_err(|_| DecodeError::Truncated)?;
            finish(frame.ifindex, None, orig, sliced)
        }
        LinkType::LinuxSll => {
            if data.len() < SLL_HEADER_LEN {
                return Err(DecodeError::Truncated);
            }
            let pkttype = be16(data, 0);
            let arphrd = be16(data, 2);
            let proto = be16(data, 14);
            let wire = orig - SLL_HEADER_LEN as u32 + link_header_len(arphrd);
            let outgoing = Some(pkttype == u16::from(PACKET_OUTGOING));
            network(
                frame.ifindex,
                outgoing,
                wire,
                proto,
                &data[SLL_HEADER_LEN..],
            )
        }
        LinkType::LinuxSll2 => {
            if data.len() < SLL2_HEADER_LEN {
                return Err(DecodeError::Truncated);
            }
            let proto = be16(data, 0);
            let ifindex = u32::from_be_bytes([data[4], data[5], data[6], data[7]]);
            let arphrd = be16(data, 8);
            let pkttype = data[10];
            let wire = orig - SLL2_HEADER_LEN as u32 + link_header_len(arphrd);
            let outgoing = Some(pkttype == PACKET_OUTGOING);
            network(
                Some(ifindex),
                outgoing,
                wire,
                proto,
                &data[SLL2_HEADER_LEN..],
            )
        }
        LinkType::RawIp => ip_only(frame.ifindex, orig, data),
        LinkType::Null | LinkType::Loop => {
            if data.len() < NULL_HEADER_LEN {
                return Err(DecodeError::Truncated);
            }
            let raw = [data[0], data[1], data[2], data[3]];
            let family = if frame.link == LinkType::Loop {
                u32::from_be_bytes(raw)
            } else {
                // Host byte order of the capturing machine: accept either.
                let le = u32::from_le_bytes(raw);
                if le < 0x1_0000 {
                    le
                } else {
                    u32::from_be_bytes(raw)
                }
            };
            let rest = &data[NULL_HEADER_LEN..];
            let wire = orig - NULL_HEADER_LEN as u32;
            match family {
                // AF_INET everywhere; AF_INET6 on Linux, NetBSD/OpenBSD,
                // FreeBSD and macOS.
                2 | 10 | 24 | 28 | 30 => ip_only(frame.ifindex, wire, rest),
                _ => Ok(Packet {
                    ifindex: frame.ifindex,
                    outgoing: None,
                    wire_len: wire,
                    ip: None,
                }),
            }
        }
        LinkType::Other(n) => Err(DecodeError::UnsupportedLink(n)),
    }
}

fn ip_only<'a>(ifindex: Option<u32>, wire: u32, data: &'a [u8]) -> Result<Packet<'a>, DecodeError> {
    if data.is_empty() {
        return Err(DecodeError::Truncated);
    }
    let sliced = LaxSlicedPacket::from_ip(data).map_err(|_| DecodeError::Malformed)?;
    finish(ifindex, None, wire, sliced)
}

fn network<'a>(
    ifindex: Option<u32>,
    outgoing: Option<bool>,
    wire: u32,
    ether_type: u16,
    data: &'a [u8],
) -> Result<Packet<'a>, DecodeError> {
    let sliced = LaxSlicedPacket::from_ether_type(EtherType(ether_type), data);
    finish(ifindex, outgoing, wire, sliced)
}

fn finish<'a>(
    ifindex: Option<u32>,
    outgoing: Option<bool>,
    wire: u32,
    sliced: LaxSlicedPacket<'a>,
) -> Result<Packet<'a>, DecodeError> {
    let (src, dst, ip_payload) = match &sliced.net {
        Some(LaxNetSlice::Ipv4(v4)) => {
            let h = v4.header();
            (
                IpAddr::V4(h.source_addr()),
                IpAddr::V4(h.destination_addr()),
                v4.payload(),
            )
        }
        Some(LaxNetSlice::Ipv6(v6)) => {
            let h = v6.header();
            (
                IpAddr::V6(h.source_addr()),
                IpAddr::V6(h.destination_addr()),
                v6.payload(),
            )
        }
        Some(LaxNetSlice::Arp(_)) | None => {
            // A frame whose IP header failed to parse is an error; a frame
            // that simply is not IP (ARP, LLDP) is counted as non-IP.
            if sliced.stop_err.is_some() && is_ip_ether_type(&sliced) {
                return Err(DecodeError::Malformed);
            }
            return Ok(Packet {
                ifindex,
                outgoing,
                wire_len: wire,
                ip: None,
            });
        }
    };
    let proto = Protocol::from_ip_number(ip_payload.ip_number.0);
    let mut ip = IpPacket {
        src,
        dst,
        proto,
        src_port: 0,
        dst_port: 0,
        tcp: TcpFlags::default(),
        payload: &[],
    };
    match &sliced.transport {
        Some(TransportSlice::Tcp(tcp)) => {
            ip.src_port = tcp.source_port();
            ip.dst_port = tcp.destination_port();
            ip.tcp = TcpFlags {
                syn: tcp.syn(),
                fin: tcp.fin(),
                rst: tcp.rst(),
            };
            ip.payload = tcp.payload();
        }
        Some(TransportSlice::Udp(udp)) => {
            ip.src_port = udp.source_port();
            ip.dst_port = udp.destination_port();
            ip.payload = udp.payload();
        }
        _ => {
            // TCP or UDP whose header did not fit in the capture: no ports
            // to key a flow on, so the frame is malformed for our purpose.
            // Later fragments of a fragmented datagram carry no header and
            // are kept (under port 0).
            if matches!(proto, Protocol::Tcp | Protocol::Udp) && !ip_payload.fragmented {
                return Err(DecodeError::Truncated);
            }
        }
    }
    Ok(Packet {
        ifindex,
        outgoing,
        wire_len: wire,
        ip: Some(ip),
    })
}

fn is_ip_ether_type(sliced: &LaxSlicedPacket<'_>) -> bool {
    use etherparse::err::Layer;
    matches!(
        sliced.stop_err,
        Some((
            _,
            Layer::IpHeader
                | Layer::Ipv4Header
                | Layer::Ipv4Packet
                | Layer::Ipv6Header
                | Layer::Ipv6Packet
                | Layer::Ipv6ExtHeader
        ))
    )
}

#[cfg(test)]
#[path = "decode_tests.rs"]
mod tests;

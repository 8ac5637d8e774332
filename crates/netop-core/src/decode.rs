//! Frame decoding: link layer by hand, network and transport by etherparse.
//!
//! etherparse reads IP with extension headers, TCP and UDP, tolerating
//! payloads cut short by the snap length. It does not read Linux cooked
//! capture v2, the loopback hardware type of cooked v1, or the BSD
//! null/loop headers, so those fixed-size link headers (and Ethernet's 14
//! bytes and VLAN tags, to skip etherparse's whole-packet struct on the hot
//! path) are read here and the IP layer is handed to etherparse.
//!
//! Decoding never panics: anything short or malformed becomes a
//! [`DecodeError`] that the engine counts.

use std::net::IpAddr;

use etherparse::{LaxIpSlice, TcpHeaderSlice, UdpHeaderSlice};

use crate::capture::{Frame, LinkType};
use crate::flow::Protocol;
use crate::pktap::{self, TapProcess};

/// Linux `sll_pkttype` for a packet this host sent.
const PACKET_OUTGOING: u8 = 4;
const ARPHRD_ETHER: u16 = 1;
const ARPHRD_LOOPBACK: u16 = 772;
const ETHERNET_HEADER_LEN: u32 = 14;
const SLL_HEADER_LEN: usize = 16;
const SLL2_HEADER_LEN: usize = 20;
const NULL_HEADER_LEN: usize = 4;
const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_VLAN: u16 = 0x8100;
const ETHERTYPE_QINQ: u16 = 0x88a8;
const ETHERTYPE_QINQ_OLD: u16 = 0x9100;
const VLAN_TAG_LEN: usize = 4;
/// More tags than this is not a real frame.
const MAX_VLAN_TAGS: usize = 3;

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
    /// What a PKTAP header said (macOS): the interface by name and the
    /// process the bytes belong to.
    pub tap: Option<Tap<'a>>,
}

/// The parts of a PKTAP header the engine uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tap<'a> {
    /// The interface name (`en0`, `lo0`, `utun3`).
    pub ifname: &'a [u8],
    /// Whom the bytes belong to, when the header names a process.
    pub process: Option<TapProcess<'a>>,
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
    /// Sequence number (DNS over TCP follows its streams by it).
    pub seq: u32,
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
    if frame.link == LinkType::Pktap {
        return decode_pktap(frame);
    }
    decode_link(frame)
}

/// A PKTAP frame: the header, then the inner frame decoded by its own DLT
/// (its bytes are the ones counted); direction and process from the
/// header. Kept out of [`decode`], so a capture without PKTAP pays one
/// comparison for it.
#[inline(never)]
fn decode_pktap<'a>(frame: &Frame<'a>) -> Result<Packet<'a>, DecodeError> {
    let header = pktap::parse(frame.data)?;
    let link = LinkType::from_dlt(i32::try_from(header.dlt).unwrap_or(-1));
    if link == LinkType::Pktap {
        return Err(DecodeError::Malformed);
    }
    let inner = Frame {
        ts: frame.ts,
        ifindex: frame.ifindex,
        link,
        orig_len: frame.orig_len.saturating_sub(header.length as u32),
        data: &frame.data[header.length..],
    };
    let mut packet = decode_link(&inner)?;
    if let Some(out) = header.outgoing() {
        packet.outgoing = Some(out);
    }
    packet.tap = Some(Tap {
        ifname: header.ifname,
        process: header.process(),
    });
    Ok(packet)
}

/// The link layer and what it carries. Inlined into [`decode`]: as a call
/// of its own it cost every frame a second prologue and a copy of the
/// packet it returns (15 instructions of about 200).
#[inline(always)]
fn decode_link<'a>(frame: &Frame<'a>) -> Result<Packet<'a>, DecodeError> {
    let data = frame.data;
    let orig = frame.orig_len.max(data.len() as u32);
    match frame.link {
        LinkType::Ethernet => {
            if data.len() < ETHERNET_HEADER_LEN as usize {
                return Err(DecodeError::Truncated);
            }
            let ether_type = be16(data, 12);
            network(
                frame.ifindex,
                None,
                orig,
                ether_type,
                &data[ETHERNET_HEADER_LEN as usize..],
            )
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
        LinkType::RawIp => ip(frame.ifindex, None, orig, data),
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
                2 | 10 | 24 | 28 | 30 => ip(frame.ifindex, None, wire, rest),
                _ => Ok(non_ip(frame.ifindex, None, wire)),
            }
        }
        LinkType::Pktap => Err(DecodeError::Malformed),
        LinkType::Other(n) => Err(DecodeError::UnsupportedLink(n)),
    }
}

fn non_ip<'a>(ifindex: Option<u32>, outgoing: Option<bool>, wire: u32) -> Packet<'a> {
    Packet {
        ifindex,
        outgoing,
        wire_len: wire,
        ip: None,
        tap: None,
    }
}

/// Skips 802.1Q/802.1ad tags, then hands IP to [`ip`]; anything else is
/// a non-IP frame.
fn network<'a>(
    ifindex: Option<u32>,
    outgoing: Option<bool>,
    wire: u32,
    mut ether_type: u16,
    mut data: &'a [u8],
) -> Result<Packet<'a>, DecodeError> {
    let mut tags = 0;
    while matches!(
        ether_type,
        ETHERTYPE_VLAN | ETHERTYPE_QINQ | ETHERTYPE_QINQ_OLD
    ) {
        if data.len() < VLAN_TAG_LEN || tags == MAX_VLAN_TAGS {
            return Err(DecodeError::Truncated);
        }
        ether_type = be16(data, 2);
        data = &data[VLAN_TAG_LEN..];
        tags += 1;
    }
    match ether_type {
        ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => ip(ifindex, outgoing, wire, data),
        _ => Ok(non_ip(ifindex, outgoing, wire)),
    }
}

/// The IP layer (IPv6 with its extension headers; IPv4 goes to [`ipv4`])
/// and TCP/UDP ports, read by etherparse from the slice, tolerating a
/// payload cut by the snap length.
fn ip<'a>(
    ifindex: Option<u32>,
    outgoing: Option<bool>,
    wire: u32,
    data: &'a [u8],
) -> Result<Packet<'a>, DecodeError> {
    use etherparse::err::ip::LaxHeaderSliceError;

    if data.first().map(|b| b >> 4) == Some(4) {
        return ipv4(ifindex, outgoing, wire, data);
    }
    let (slice, _ext_err) = LaxIpSlice::from_slice(data).map_err(|e| match e {
        LaxHeaderSliceError::Len(_) => DecodeError::Truncated,
        LaxHeaderSliceError::Content(_) => DecodeError::Malformed,
    })?;
    let payload = slice.payload();
    let proto = Protocol::from_ip_number(payload.ip_number.0);
    let mut ip = IpPacket {
        src: slice.source_addr(),
        dst: slice.destination_addr(),
        proto,
        src_port: 0,
        dst_port: 0,
        tcp: TcpFlags::default(),
        payload: &[],
    };
    match transport(&mut ip, payload.payload) {
        // A later fragment has no transport header: it is kept under port
        // 0 so its bytes still count.
        Err(_) if payload.fragmented => {}
        result => result?,
    }
    Ok(with_ip(ifindex, outgoing, wire, ip))
}

/// IPv4, the common case, read with etherparse's header slices only: no
/// extension headers to walk, so this skips the general IP slicer (a
/// third of the decoding cost).
fn ipv4<'a>(
    ifindex: Option<u32>,
    outgoing: Option<bool>,
    wire: u32,
    data: &'a [u8],
) -> Result<Packet<'a>, DecodeError> {
    use etherparse::err::ipv4::HeaderSliceError;
    use etherparse::Ipv4HeaderSlice;

    let header = Ipv4HeaderSlice::from_slice(data).map_err(|e| match e {
        HeaderSliceError::Len(_) => DecodeError::Truncated,
        HeaderSliceError::Content(_) => DecodeError::Malformed,
    })?;
    let header_len = header.slice().len();
    // The captured part of the IP payload, never past the IP length (a
    // length of 0 is a segmentation-offload packet: take what is there).
    let total = usize::from(header.total_len());
    let end = if total >= header_len {
        total.min(data.len())
    } else {
        data.len()
    };
    let payload = &data[header_len..end.max(header_len)];
    let proto = Protocol::from_ip_number(header.protocol().0);
    let mut ip = IpPacket {
        src: IpAddr::V4(header.source_addr()),
        dst: IpAddr::V4(header.destination_addr()),
        proto,
        src_port: 0,
        dst_port: 0,
        tcp: TcpFlags::default(),
        payload: &[],
    };
    // A later fragment carries no transport header.
    if header.fragments_offset().value() == 0 {
        transport(&mut ip, payload)?;
    }
    Ok(with_ip(ifindex, outgoing, wire, ip))
}

/// Reads TCP or UDP ports (and TCP flags) from the start of `payload`;
/// other protocols have none.
fn transport<'a>(ip: &mut IpPacket<'a>, payload: &'a [u8]) -> Result<(), DecodeError> {
    match ip.proto {
        Protocol::Tcp => {
            let tcp = TcpHeaderSlice::from_slice(payload).map_err(|_| DecodeError::Truncated)?;
            ip.src_port = tcp.source_port();
            ip.dst_port = tcp.destination_port();
            ip.tcp = TcpFlags {
                syn: tcp.syn(),
                fin: tcp.fin(),
                rst: tcp.rst(),
                seq: tcp.sequence_number(),
            };
            ip.payload = &payload[tcp.slice().len()..];
        }
        Protocol::Udp => {
            let udp = UdpHeaderSlice::from_slice(payload).map_err(|_| DecodeError::Truncated)?;
            ip.src_port = udp.source_port();
            ip.dst_port = udp.destination_port();
            ip.payload = &payload[udp.slice().len()..];
        }
        _ => {}
    }
    Ok(())
}

fn with_ip<'a>(
    ifindex: Option<u32>,
    outgoing: Option<bool>,
    wire: u32,
    ip: IpPacket<'a>,
) -> Packet<'a> {
    Packet {
        ifindex,
        outgoing,
        wire_len: wire,
        ip: Some(ip),
        tap: None,
    }
}

#[cfg(test)]
#[path = "decode_tests.rs"]
mod tests;

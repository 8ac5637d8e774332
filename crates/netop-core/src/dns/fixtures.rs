//! DNS messages and the frames that carry them, built for tests and
//! benchmarks (hickory-proto writes the messages; etherparse the packets).

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

use etherparse::PacketBuilder;
use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, MX, PTR};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use crate::capture::LinkType;
use crate::testing::OwnedFrame;

/// The data of one answer record.
#[derive(Debug, Clone)]
pub enum Data {
    Addr(IpAddr),
    Cname(&'static str),
    Mx(u16, &'static str),
    Ptr(&'static str),
}

fn name(s: &str) -> Name {
    Name::from_str(s).unwrap_or_else(|e| panic!("bad name {s}: {e}"))
}

/// A standard query for `qname`/`qtype` with recursion desired.
pub fn query(id: u16, qname: &str, qtype: RecordType) -> Vec<u8> {
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(name(qname), qtype));
    m.to_vec().expect("query encodes")
}

/// A response with response code `rcode` and the given answers
/// (owner name, TTL, data).
pub fn response(
    id: u16,
    qname: &str,
    qtype: RecordType,
    rcode: u16,
    answers: &[(&str, u32, Data)],
) -> Vec<u8> {
    let mut m = Message::new(id, MessageType::Response, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.metadata.recursion_available = true;
    m.metadata.response_code = ResponseCode::from_low(rcode as u8);
    m.add_query(Query::query(name(qname), qtype));
    for (owner, ttl, data) in answers {
        let rdata = match data {
            Data::Addr(IpAddr::V4(v4)) => RData::A(A(*v4)),
            Data::Addr(IpAddr::V6(v6)) => RData::AAAA(AAAA(*v6)),
            Data::Cname(target) => RData::CNAME(CNAME(name(target))),
            Data::Mx(pref, host) => RData::MX(MX::new(*pref, name(host))),
            Data::Ptr(target) => RData::PTR(PTR(name(target))),
        };
        m.add_answer(Record::from_rdata(name(owner), *ttl, rdata));
    }
    m.to_vec().expect("response encodes")
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap_or_else(|_| panic!("bad address {s}"))
}

fn builder(
    src: SocketAddr,
    dst: SocketAddr,
) -> etherparse::PacketBuilderStep<etherparse::IpHeaders> {
    match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => PacketBuilder::ipv4(s.octets(), d.octets(), 64),
        (IpAddr::V6(s), IpAddr::V6(d)) => PacketBuilder::ipv6(s.octets(), d.octets(), 64),
        _ => panic!("mixed address families"),
    }
}

/// A UDP datagram from `src` to `dst` as a Linux `any` capture (cooked
/// v2) delivers it on interface `ifindex`.
pub fn udp(ts: Duration, ifindex: u32, src: &str, dst: &str, payload: &[u8]) -> OwnedFrame {
    let (src, dst) = (addr(src), addr(dst));
    let mut ip = Vec::new();
    builder(src, dst)
        .udp(src.port(), dst.port())
        .write(&mut ip, payload)
        .expect("udp builds");
    sll2(ts, ifindex, src.ip(), ip)
}

/// TCP flags of a built segment.
#[derive(Debug, Clone, Copy, Default)]
pub struct Flags {
    pub syn: bool,
    pub fin: bool,
    pub rst: bool,
}

/// A TCP segment with sequence number `seq` (ACK set).
pub fn tcp(
    ts: Duration,
    ifindex: u32,
    src: &str,
    dst: &str,
    seq: u32,
    flags: Flags,
    payload: &[u8],
) -> OwnedFrame {
    let (src, dst) = (addr(src), addr(dst));
    let mut b = builder(src, dst)
        .tcp(src.port(), dst.port(), seq, 65535)
        .ack(1);
    if flags.syn {
        b = b.syn();
    }
    if flags.fin {
        b = b.fin();
    }
    if flags.rst {
        b = b.rst();
    }
    let mut ip = Vec::new();
    b.write(&mut ip, payload).expect("tcp builds");
    sll2(ts, ifindex, src.ip(), ip)
}

/// A message with its two-byte TCP length prefix.
pub fn framed(message: &[u8]) -> Vec<u8> {
    let mut out = (message.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(message);
    out
}

fn sll2(ts: Duration, ifindex: u32, src: IpAddr, ip: Vec<u8>) -> OwnedFrame {
    let ether_type: u16 = if src.is_ipv4() { 0x0800 } else { 0x86dd };
    let mut data = Vec::with_capacity(20 + ip.len());
    data.extend_from_slice(&ether_type.to_be_bytes());
    data.extend_from_slice(&[0, 0]);
    data.extend_from_slice(&ifindex.to_be_bytes());
    data.extend_from_slice(&1u16.to_be_bytes()); // ARPHRD_ETHER
    data.push(0);
    data.push(6);
    data.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0, 0]);
    data.extend_from_slice(&ip);
    OwnedFrame {
        ts,
        ifindex: None,
        link: LinkType::LinuxSll2,
        orig_len: data.len() as u32,
        data,
    }
}

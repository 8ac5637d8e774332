//! Unit tests of the sock_diag byte layer, with hand-built replies.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use netlink_packet_sock_diag::constants::{AF_INET, AF_INET6, IPPROTO_TCP};
use netlink_packet_sock_diag::inet::{ExtensionFlags, SocketId, StateFlags};

use super::*;

/// `struct nlmsghdr`, `struct nlattr` and `struct inet_diag_msg` lengths:
/// the replies are built by hand here, independently of the crates that
/// decode them.
const NLMSG_HDRLEN: usize = 16;
const NLA_HDRLEN: usize = 4;
const INET_DIAG_MSG_LEN: usize = 72;

fn nlmsg(kind: u16, flags: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
    let len = (NLMSG_HDRLEN + payload.len()) as u32;
    let mut v = Vec::new();
    v.extend_from_slice(&len.to_ne_bytes());
    v.extend_from_slice(&kind.to_ne_bytes());
    v.extend_from_slice(&flags.to_ne_bytes());
    v.extend_from_slice(&seq.to_ne_bytes());
    v.extend_from_slice(&0u32.to_ne_bytes());
    v.extend_from_slice(payload);
    while v.len() % 4 != 0 {
        v.push(0);
    }
    v
}

fn nla(kind: u16, value: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&((NLA_HDRLEN + value.len()) as u16).to_ne_bytes());
    v.extend_from_slice(&kind.to_ne_bytes());
    v.extend_from_slice(value);
    while v.len() % 4 != 0 {
        v.push(0);
    }
    v
}

struct Msg {
    family: u8,
    state: u8,
    local: (IpAddr, u16),
    remote: (IpAddr, u16),
    uid: u32,
    inode: u32,
}

fn addr16(ip: IpAddr) -> [u8; 16] {
    let mut out = [0u8; 16];
    match ip {
        IpAddr::V4(v4) => out[..4].copy_from_slice(&v4.octets()),
        IpAddr::V6(v6) => out = v6.octets(),
    }
    out
}

fn diag_msg(m: &Msg) -> Vec<u8> {
    let mut v = vec![m.family, m.state, 0, 0];
    v.extend_from_slice(&m.local.1.to_be_bytes());
    v.extend_from_slice(&m.remote.1.to_be_bytes());
    v.extend_from_slice(&addr16(m.local.0));
    v.extend_from_slice(&addr16(m.remote.0));
    v.extend_from_slice(&0u32.to_ne_bytes()); // ifindex
    v.extend_from_slice(&[0xff; 8]); // cookie
    v.extend_from_slice(&0u32.to_ne_bytes()); // expires
    v.extend_from_slice(&0u32.to_ne_bytes()); // rqueue
    v.extend_from_slice(&0u32.to_ne_bytes()); // wqueue
    v.extend_from_slice(&m.uid.to_ne_bytes());
    v.extend_from_slice(&m.inode.to_ne_bytes());
    assert_eq!(v.len(), INET_DIAG_MSG_LEN);
    v
}

fn tcp_info(len: usize, rtt: u32, total_retrans: u32) -> Vec<u8> {
    let mut info = vec![0u8; len];
    if len >= 104 {
        info[68..72].copy_from_slice(&rtt.to_ne_bytes());
        info[100..104].copy_from_slice(&total_retrans.to_ne_bytes());
    }
    info
}

fn v4_msg() -> Msg {
    Msg {
        family: AF_INET,
        state: 1,
        local: (IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)), 43210),
        remote: (IpAddr::V4(Ipv4Addr::new(93, 184, 216, 34)), 443),
        uid: 1000,
        inode: 123_456,
    }
}

#[test]
fn request_has_kernel_layout() {
    let mut id = SocketId::new_v4();
    id.source_port = 0x1234;
    id.destination_port = 80;
    id.source_address = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));
    id.cookie = [0xff; 8];
    let req = InetRequest {
        family: AF_INET,
        protocol: IPPROTO_TCP,
        extensions: ExtensionFlags::INFO,
        states: StateFlags::all(),
        socket_id: id,
    };
    let buf = encode_request(req, 0x0301, 77);
    // nlmsghdr (16) + inet_diag_req_v2 (56)
    assert_eq!(buf.len(), 72);
    let msg = messages(&buf).next().expect("one message").expect("valid");
    assert_eq!(msg.message_type(), SOCK_DIAG_BY_FAMILY);
    assert_eq!(msg.flags(), 0x0301);
    assert_eq!(msg.sequence_number(), 77);
    let p = msg.payload();
    assert_eq!((p[0], p[1], p[2]), (AF_INET, IPPROTO_TCP, 1 << 1));
    assert_eq!(u32::from_ne_bytes([p[4], p[5], p[6], p[7]]), 0xffe);
    assert_eq!(&p[8..10], &[0x12, 0x34], "ports are big-endian");
    assert_eq!(&p[10..12], &[0, 80]);
    assert_eq!(&p[12..16], &[127, 0, 0, 1]);
    assert_eq!(&p[48..56], &[0xff; 8], "cookie last");
}

#[test]
fn walks_several_messages_in_one_datagram() {
    let mut dgram = nlmsg(SOCK_DIAG_BY_FAMILY, 2, 5, &diag_msg(&v4_msg()));
    dgram.extend(nlmsg(SOCK_DIAG_BY_FAMILY, 2, 5, &[1, 2, 3])); // padded to 20
    dgram.extend(nlmsg(NLMSG_DONE, 2, 5, &0i32.to_ne_bytes()));
    let msgs: Vec<_> = messages(&dgram).collect::<Result<_, _>>().expect("valid");
    assert_eq!(msgs.len(), 3);
    assert_eq!(msgs[1].payload(), &[1, 2, 3]);
    assert_eq!(msgs[2].message_type(), NLMSG_DONE);
    assert_eq!(decode_done(msgs[2].payload()), 0);
}

#[test]
fn bad_lengths_end_the_walk_with_an_error() {
    let mut dgram = nlmsg(NLMSG_NOOP, 0, 1, &[]);
    let mut bad = nlmsg(SOCK_DIAG_BY_FAMILY, 0, 1, &[0; 8]);
    bad[0..4].copy_from_slice(&200u32.to_ne_bytes()); // longer than the datagram
    dgram.extend(bad);
    let results: Vec<_> = messages(&dgram).collect();
    assert_eq!(results.len(), 2);
    assert!(results[0].is_ok());
    assert!(results[1].is_err());

    let mut tiny = nlmsg(NLMSG_NOOP, 0, 1, &[]);
    tiny[0..4].copy_from_slice(&4u32.to_ne_bytes()); // shorter than a header
    assert!(messages(&tiny).all(|r| r.is_err()));

    assert!(messages(&[1, 2, 3]).all(|r| r.is_err()));
    assert_eq!(messages(&[]).count(), 0);
}

#[test]
fn decodes_tcp_socket_with_tcp_info() {
    let mut payload = diag_msg(&v4_msg());
    payload.extend(nla(8, &[0; 4])); // INET_DIAG_SHUTDOWN-ish noise first
    payload.extend(nla(INET_DIAG_INFO, &tcp_info(232, 12_345, 7)));
    let e = decode_socket(&payload, Protocol::Tcp).expect("valid");
    assert_eq!(e.local, "10.0.0.2:43210".parse().expect("addr"));
    assert_eq!(e.remote, "93.184.216.34:443".parse().expect("addr"));
    assert_eq!(e.state, TcpState::Established);
    assert_eq!((e.inode, e.uid), (123_456, 1000));
    assert_eq!((e.rtt_us, e.retrans), (Some(12_345), Some(7)));
    assert_eq!(e.owner, None);
}

#[test]
fn listeners_and_unsampled_sockets_have_no_rtt() {
    let mut listen = v4_msg();
    listen.state = 10;
    let mut payload = diag_msg(&listen);
    payload.extend(nla(INET_DIAG_INFO, &tcp_info(232, 0, 0)));
    let e = decode_socket(&payload, Protocol::Tcp).expect("valid");
    assert_eq!(
        (e.state, e.rtt_us, e.retrans),
        (TcpState::Listen, None, None)
    );

    let mut syn_sent = v4_msg();
    syn_sent.state = 2;
    let mut payload = diag_msg(&syn_sent);
    payload.extend(nla(INET_DIAG_INFO, &tcp_info(232, 0, 1)));
    let e = decode_socket(&payload, Protocol::Tcp).expect("valid");
    assert_eq!((e.rtt_us, e.retrans), (None, Some(1)));
}

#[test]
fn short_tcp_info_loses_only_the_rtt() {
    let mut payload = diag_msg(&v4_msg());
    payload.extend(nla(INET_DIAG_INFO, &tcp_info(60, 0, 0)));
    let e = decode_socket(&payload, Protocol::Tcp).expect("valid");
    assert_eq!((e.rtt_us, e.retrans), (None, None));
    assert_eq!(e.inode, 123_456);
}

#[test]
fn truncated_attribute_is_ignored() {
    let mut payload = diag_msg(&v4_msg());
    let mut attr = nla(INET_DIAG_INFO, &tcp_info(232, 1, 1));
    attr.truncate(50);
    payload.extend(attr);
    let e = decode_socket(&payload, Protocol::Tcp).expect("valid");
    assert_eq!(e.rtt_us, None);
}

#[test]
fn udp_socket_has_no_tcp_state() {
    let mut m = v4_msg();
    m.state = 7; // TCP_CLOSE: an unconnected UDP socket
    m.remote = (IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0);
    let e = decode_socket(&diag_msg(&m), Protocol::Udp).expect("valid");
    assert_eq!(e.state, TcpState::None);
    assert!(e.is_unconnected());
    assert_eq!(e.rtt_us, None);
}

#[test]
fn decodes_ipv6_socket() {
    let m = Msg {
        family: AF_INET6,
        state: 10,
        local: (IpAddr::V6(Ipv6Addr::UNSPECIFIED), 22),
        remote: (IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0),
        uid: 0,
        inode: 42,
    };
    let e = decode_socket(&diag_msg(&m), Protocol::Tcp).expect("valid");
    assert_eq!(e.state, TcpState::Listen);
    assert_eq!(e.local, "[::]:22".parse().expect("addr"));
    let mapped = Msg {
        local: (
            IpAddr::V6(Ipv4Addr::new(127, 0, 0, 1).to_ipv6_mapped()),
            8080,
        ),
        ..m
    };
    let e = decode_socket(&diag_msg(&mapped), Protocol::Tcp).expect("valid");
    assert_eq!(e.local.port(), 8080);
}

#[test]
fn malformed_socket_payloads_are_errors() {
    assert!(decode_socket(&[0; 10], Protocol::Tcp).is_err());
    let mut m = diag_msg(&v4_msg());
    m[0] = 99; // unknown address family
    assert!(decode_socket(&m, Protocol::Tcp).is_err());
}

#[test]
fn attribute_walk_masks_flags_and_stops_on_garbage() {
    let info = tcp_info(232, 12_345, 7);
    // Flag bits do not hide the type.
    let mut payload = diag_msg(&v4_msg());
    payload.extend(nla(0x8000 | 5, &[9]));
    payload.extend(nla(0x4000 | INET_DIAG_INFO, &info));
    let e = decode_socket(&payload, Protocol::Tcp).expect("valid");
    assert_eq!(e.rtt_us, Some(12_345));
    // A zero-length attribute ends the walk: what follows is not read.
    let mut payload = diag_msg(&v4_msg());
    payload.extend(nla(6, &[1, 2, 3, 4, 5]));
    payload.extend([0, 0, 7, 0]);
    payload.extend(nla(INET_DIAG_INFO, &info));
    let e = decode_socket(&payload, Protocol::Tcp).expect("valid");
    assert_eq!((e.rtt_us, e.inode), (None, 123_456));
    // One stray byte after the header: no attributes, still a socket.
    let mut payload = diag_msg(&v4_msg());
    payload.push(1);
    assert!(decode_socket(&payload, Protocol::Tcp).is_ok());
}

#[test]
fn error_and_done_codes() {
    assert_eq!(decode_error(&(-2i32).to_ne_bytes()), Ok(-2));
    assert_eq!(decode_error(&[0; 20]), Ok(0));
    assert!(decode_error(&[0; 2]).is_err());
    assert_eq!(decode_done(&[]), 0);
    assert_eq!(decode_done(&(-4i32).to_ne_bytes()), -4);
}

#[test]
fn tcp_info_offsets() {
    assert_eq!(tcp_info_stats(&tcp_info(104, 5, 6)), Some((5, 6)));
    assert_eq!(tcp_info_stats(&tcp_info(103, 5, 6)), None);
}

/// Every single-byte change of a valid dump datagram (two sockets with
/// attributes, then NLMSG_DONE), and every cut of it, decodes without a
/// panic: a deterministic cousin of the `sockdiag_reply` fuzz target.
#[test]
fn mutated_replies_never_panic() {
    let mut first = diag_msg(&v4_msg());
    first.extend(nla(INET_DIAG_INFO, &tcp_info(232, 12_345, 7)));
    first.extend(nla(4, b"cubic\0"));
    let mut dgram = nlmsg(SOCK_DIAG_BY_FAMILY, 2, 5, &first);
    dgram.extend(nlmsg(SOCK_DIAG_BY_FAMILY, 2, 5, &diag_msg(&v4_msg())));
    dgram.extend(nlmsg(NLMSG_DONE, 2, 5, &0i32.to_ne_bytes()));
    assert_eq!(
        crate::sockdiag::decode_reply(&dgram, Protocol::Tcp).len(),
        2
    );
    for at in 0..dgram.len() {
        for value in [0u8, 1, 3, 4, 0x10, 0x7f, 0x80, 0xff] {
            let mut bad = dgram.clone();
            bad[at] = value;
            for proto in [Protocol::Tcp, Protocol::Udp] {
                let _ = crate::sockdiag::decode_reply(&bad, proto);
            }
        }
        let _ = crate::sockdiag::decode_reply(&dgram[..at], Protocol::Tcp);
    }
}

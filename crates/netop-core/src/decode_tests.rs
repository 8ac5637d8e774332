//! Decoder tests: every link type for IPv4 and IPv6, tags, extension
//! headers, and frames cut short or full of garbage.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use etherparse::PacketBuilder;

use super::*;

const V4_SRC: [u8; 4] = [10, 0, 0, 1];
const V4_DST: [u8; 4] = [10, 0, 0, 2];
const V6_SRC: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const V6_DST: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

fn frame(link: LinkType, data: &[u8]) -> Frame<'_> {
    Frame {
        ts: Duration::from_secs(1),
        ifindex: Some(7),
        link,
        orig_len: data.len() as u32,
        data,
    }
}

/// An IPv4 TCP SYN with `payload` bytes, as a bare IP packet.
fn ipv4_tcp(payload: usize) -> Vec<u8> {
    let b = PacketBuilder::ipv4(V4_SRC, V4_DST, 64)
        .tcp(40000, 443, 1, 1024)
        .syn();
    let mut out = Vec::new();
    b.write(&mut out, &vec![0u8; payload]).expect("build");
    out
}

/// An IPv6 UDP datagram, as a bare IP packet.
fn ipv6_udp(payload: usize) -> Vec<u8> {
    let b = PacketBuilder::ipv6(V6_SRC, V6_DST, 64).udp(5353, 53);
    let mut out = Vec::new();
    b.write(&mut out, &vec![0u8; payload]).expect("build");
    out
}

fn ethernet(ether_type: u16, ip: &[u8]) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];
    f.extend_from_slice(&ether_type.to_be_bytes());
    f.extend_from_slice(ip);
    f
}

fn sll(pkttype: u16, arphrd: u16, ether_type: u16, ip: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&pkttype.to_be_bytes());
    f.extend_from_slice(&arphrd.to_be_bytes());
    f.extend_from_slice(&6u16.to_be_bytes());
    f.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0, 0]);
    f.extend_from_slice(&ether_type.to_be_bytes());
    f.extend_from_slice(ip);
    f
}

fn sll2(pkttype: u8, arphrd: u16, ifindex: u32, ether_type: u16, ip: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&ether_type.to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(&ifindex.to_be_bytes());
    f.extend_from_slice(&arphrd.to_be_bytes());
    f.push(pkttype);
    f.push(6);
    f.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0, 0]);
    f.extend_from_slice(ip);
    f
}

fn check_v4(p: &Packet<'_>) {
    let ip = p.ip.expect("ip");
    assert_eq!(ip.src, IpAddr::V4(Ipv4Addr::from(V4_SRC)));
    assert_eq!(ip.dst, IpAddr::V4(Ipv4Addr::from(V4_DST)));
    assert_eq!(ip.proto, Protocol::Tcp);
    assert_eq!((ip.src_port, ip.dst_port), (40000, 443));
    assert!(ip.tcp.syn && !ip.tcp.fin && !ip.tcp.rst);
}

fn check_v6(p: &Packet<'_>) {
    let ip = p.ip.expect("ip");
    assert_eq!(ip.src, IpAddr::V6(Ipv6Addr::from(V6_SRC)));
    assert_eq!(ip.dst, IpAddr::V6(Ipv6Addr::from(V6_DST)));
    assert_eq!(ip.proto, Protocol::Udp);
    assert_eq!((ip.src_port, ip.dst_port), (5353, 53));
}

#[test]
fn ethernet_v4_and_v6_count_the_whole_frame() {
    let ip = ipv4_tcp(100);
    let f = ethernet(0x0800, &ip);
    let p = decode(&frame(LinkType::Ethernet, &f)).expect("decode");
    check_v4(&p);
    assert_eq!(p.wire_len, ip.len() as u32 + 14);
    assert_eq!(p.ifindex, Some(7));
    assert_eq!(p.outgoing, None);

    let ip = ipv6_udp(30);
    let f = ethernet(0x86dd, &ip);
    let p = decode(&frame(LinkType::Ethernet, &f)).expect("decode");
    check_v6(&p);
    assert_eq!(p.wire_len, ip.len() as u32 + 14);
    assert_eq!(p.ip.expect("ip").payload.len(), 30);
}

#[test]
fn vlan_tagged_ethernet() {
    let ip = ipv4_tcp(0);
    let mut tagged = vec![0x00, 0x64]; // VLAN 100
    tagged.extend_from_slice(&0x0800u16.to_be_bytes());
    tagged.extend_from_slice(&ip);
    let f = ethernet(0x8100, &tagged);
    let p = decode(&frame(LinkType::Ethernet, &f)).expect("decode");
    check_v4(&p);
    assert_eq!(p.wire_len, ip.len() as u32 + 18);

    let ip = ipv6_udp(4);
    let mut tagged = vec![0x00, 0x64];
    tagged.extend_from_slice(&0x86ddu16.to_be_bytes());
    tagged.extend_from_slice(&ip);
    let f = ethernet(0x8100, &tagged);
    check_v6(&decode(&frame(LinkType::Ethernet, &f)).expect("decode"));
}

#[test]
fn cooked_v1_ethernet_and_loopback_hardware_types() {
    for arphrd in [1u16, 772] {
        let ip = ipv4_tcp(10);
        let f = sll(4, arphrd, 0x0800, &ip);
        let p = decode(&frame(LinkType::LinuxSll, &f)).expect("decode");
        check_v4(&p);
        assert_eq!(p.outgoing, Some(true));
        assert_eq!(p.wire_len, ip.len() as u32 + 14);
        assert_eq!(p.ifindex, Some(7), "v1 has no ifindex: keep the capture's");

        let ip = ipv6_udp(10);
        let f = sll(0, arphrd, 0x86dd, &ip);
        let p = decode(&frame(LinkType::LinuxSll, &f)).expect("decode");
        check_v6(&p);
        assert_eq!(p.outgoing, Some(false));
    }
}

#[test]
fn cooked_v1_ip_only_device_counts_no_link_header() {
    // ARPHRD_NONE (tun, WireGuard): the kernel counts IP bytes only.
    let ip = ipv4_tcp(10);
    let f = sll(0, 0xfffe, 0x0800, &ip);
    let p = decode(&frame(LinkType::LinuxSll, &f)).expect("decode");
    assert_eq!(p.wire_len, ip.len() as u32);
}

#[test]
fn cooked_v2_carries_ifindex_and_direction() {
    let ip = ipv4_tcp(50);
    let f = sll2(4, 1, 42, 0x0800, &ip);
    let p = decode(&frame(LinkType::LinuxSll2, &f)).expect("decode");
    check_v4(&p);
    assert_eq!(p.ifindex, Some(42));
    assert_eq!(p.outgoing, Some(true));
    assert_eq!(p.wire_len, ip.len() as u32 + 14);

    let ip = ipv6_udp(50);
    let f = sll2(0, 772, 1, 0x86dd, &ip);
    let p = decode(&frame(LinkType::LinuxSll2, &f)).expect("decode");
    check_v6(&p);
    assert_eq!(p.ifindex, Some(1));
    assert_eq!(p.outgoing, Some(false));
}

#[test]
fn snap_length_truncation_keeps_the_original_length() {
    let ip = ipv4_tcp(1400);
    let f = sll2(4, 1, 3, 0x0800, &ip);
    let mut fr = frame(LinkType::LinuxSll2, &f[..120]);
    fr.orig_len = f.len() as u32;
    let p = decode(&fr).expect("decode");
    check_v4(&p);
    assert_eq!(p.wire_len, ip.len() as u32 + 14);
}

#[test]
fn raw_ip_v4_and_v6() {
    let ip = ipv4_tcp(1);
    let p = decode(&frame(LinkType::RawIp, &ip)).expect("decode");
    check_v4(&p);
    assert_eq!(p.wire_len, ip.len() as u32);
    let ip = ipv6_udp(1);
    check_v6(&decode(&frame(LinkType::RawIp, &ip)).expect("decode"));
}

#[test]
fn bsd_null_and_loop_headers() {
    for (family, v6) in [(2u32, false), (30, true), (24, true), (28, true)] {
        let ip = if v6 { ipv6_udp(3) } else { ipv4_tcp(3) };
        for (link, header) in [
            (LinkType::Null, family.to_le_bytes()),
            (LinkType::Null, family.to_be_bytes()),
            (LinkType::Loop, family.to_be_bytes()),
        ] {
            let mut f = header.to_vec();
            f.extend_from_slice(&ip);
            let p = decode(&frame(link, &f)).expect("decode");
            if v6 {
                check_v6(&p);
            } else {
                check_v4(&p);
            }
            assert_eq!(p.wire_len, ip.len() as u32);
        }
    }
}

#[test]
fn ipv6_extension_headers_are_skipped() {
    let mut ip = ipv6_udp(8);
    // Insert a hop-by-hop options header (8 bytes, next header UDP).
    let hop = [17u8, 0, 1, 4, 0, 0, 0, 0];
    ip[6] = 0; // next header: hop-by-hop
    let plen = u16::from_be_bytes([ip[4], ip[5]]) + 8;
    ip[4..6].copy_from_slice(&plen.to_be_bytes());
    ip.splice(40..40, hop);
    let p = decode(&frame(LinkType::RawIp, &ip)).expect("decode");
    check_v6(&p);
}

#[test]
fn icmp_and_other_protocols_have_no_ports() {
    let b = PacketBuilder::ipv4(V4_SRC, V4_DST, 64).icmpv4_echo_request(1, 1);
    let mut ip = Vec::new();
    b.write(&mut ip, &[0; 8]).expect("build");
    let p = decode(&frame(LinkType::RawIp, &ip)).expect("decode");
    let pkt = p.ip.expect("ip");
    assert_eq!(pkt.proto, Protocol::Icmp);
    assert_eq!((pkt.src_port, pkt.dst_port), (0, 0));

    let b = PacketBuilder::ipv6(V6_SRC, V6_DST, 64).icmpv6_echo_request(1, 1);
    let mut ip = Vec::new();
    b.write(&mut ip, &[0; 8]).expect("build");
    assert_eq!(
        decode(&frame(LinkType::RawIp, &ip))
            .expect("decode")
            .ip
            .expect("ip")
            .proto,
        Protocol::Icmpv6
    );

    // GRE (47): kept as "other".
    let mut ip = ipv4_tcp(0);
    ip[9] = 47;
    let p = decode(&frame(LinkType::RawIp, &ip)).expect("decode");
    assert_eq!(p.ip.expect("ip").proto, Protocol::Other(47));
}

#[test]
fn arp_is_counted_as_non_ip() {
    let arp = [0u8; 28];
    let f = ethernet(0x0806, &arp);
    let p = decode(&frame(LinkType::Ethernet, &f)).expect("decode");
    assert!(p.ip.is_none());
    assert_eq!(p.wire_len, 42);
}

#[test]
fn truncated_frames_are_errors_for_every_link_type() {
    let ip = ipv4_tcp(0);
    let cases: Vec<(LinkType, Vec<u8>)> = vec![
        (LinkType::Ethernet, ethernet(0x0800, &ip)),
        (LinkType::LinuxSll, sll(0, 1, 0x0800, &ip)),
        (LinkType::LinuxSll2, sll2(0, 1, 1, 0x0800, &ip)),
        (LinkType::RawIp, ip.clone()),
        (
            LinkType::Null,
            [2u8, 0, 0, 0].iter().copied().chain(ip.clone()).collect(),
        ),
    ];
    for (link, full) in cases {
        // The frame ends with the TCP header, so every shorter prefix cuts
        // a header: an error, never a panic.
        for len in 0..full.len() {
            let r = decode(&frame(link, &full[..len]));
            assert!(r.is_err(), "{link:?} prefix {len} decoded: {r:?}");
        }
        assert!(decode(&frame(link, &full)).is_ok());
    }
}

#[test]
fn garbage_never_panics() {
    // A small deterministic generator: no external randomness in tests.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let links = [
        LinkType::Ethernet,
        LinkType::LinuxSll,
        LinkType::LinuxSll2,
        LinkType::RawIp,
        LinkType::Null,
        LinkType::Loop,
    ];
    for round in 0..20_000 {
        let len = (next() % 128) as usize;
        let mut buf: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        // Make some of them look like IP to reach deeper parsers.
        if round % 2 == 0 && !buf.is_empty() {
            buf[0] = 0x45;
        }
        let link = links[round % links.len()];
        let _ = decode(&frame(link, &buf));
    }
}

#[test]
fn unsupported_link_type_is_an_error() {
    let r = decode(&frame(LinkType::Other(147), &[1, 2, 3]));
    assert_eq!(r, Err(DecodeError::UnsupportedLink(147)));
}

#[test]
fn malformed_ip_header_is_an_error() {
    let mut ip = ipv4_tcp(0);
    ip[0] = 0x43; // IHL 3: shorter than the minimum header
    assert!(decode(&frame(LinkType::RawIp, &ip)).is_err());
    let f = ethernet(0x0800, &ip);
    assert_eq!(
        decode(&frame(LinkType::Ethernet, &f)),
        Err(DecodeError::Malformed)
    );
}

#[test]
fn later_ipv4_fragments_count_without_ports() {
    let mut ip = ipv4_tcp(100);
    // Fragment offset 185 (1480 bytes), more-fragments clear: a last fragment
    // whose payload is not a TCP header.
    ip[6] = 0x00;
    ip[7] = 185;
    let p = decode(&frame(LinkType::RawIp, &ip)).expect("decode");
    let pkt = p.ip.expect("ip");
    assert_eq!(pkt.proto, Protocol::Tcp);
    assert_eq!((pkt.src_port, pkt.dst_port), (0, 0));
    assert_eq!(p.wire_len, ip.len() as u32);
}

#[test]
fn too_many_vlan_tags_are_rejected() {
    let ip = ipv4_tcp(0);
    let mut tagged = Vec::new();
    for _ in 0..4 {
        tagged.extend_from_slice(&[0x00, 0x64, 0x81, 0x00]);
    }
    tagged.extend_from_slice(&ip);
    let f = ethernet(0x8100, &tagged);
    assert_eq!(
        decode(&frame(LinkType::Ethernet, &f)),
        Err(DecodeError::Truncated)
    );
}

#[test]
fn ipv4_payload_is_the_captured_part_within_the_ip_length() {
    let b = PacketBuilder::ipv4(V4_SRC, V4_DST, 64).udp(5353, 53);
    let mut ip = Vec::new();
    b.write(&mut ip, &[7u8; 40]).expect("build");
    let p = decode(&frame(LinkType::RawIp, &ip)).expect("decode");
    assert_eq!(p.ip.expect("ip").payload, &[7u8; 40][..]);
    // Ethernet padding after the IP packet is not payload.
    let mut padded = ip.clone();
    padded.extend_from_slice(&[0u8; 6]);
    let p = decode(&frame(LinkType::RawIp, &padded)).expect("decode");
    assert_eq!(p.ip.expect("ip").payload.len(), 40);
    // Cut by the snap length: what was captured.
    let p = decode(&frame(LinkType::RawIp, &ip[..38])).expect("decode");
    assert_eq!(p.ip.expect("ip").payload.len(), 10);
}

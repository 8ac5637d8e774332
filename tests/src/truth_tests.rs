//! Truth sums on a pcap file written here, no root needed.

use std::net::Ipv4Addr;

use etherparse::PacketBuilder;

use super::{parse_mac, stat, Transport, Truth};
use crate::scratch::ScratchDir;

const HOST_MAC: [u8; 6] = [2, 0x6e, 0x74, 9, 0, 1];
const NS_MAC: [u8; 6] = [2, 0x6e, 0x74, 9, 0, 2];
const HOST: [u8; 4] = [10, 231, 9, 1];
const NS: [u8; 4] = [10, 231, 9, 2];

fn tcp(out: bool, local_port: u16, payload: usize) -> Vec<u8> {
    let (smac, dmac, sip, dip, sport, dport) = if out {
        (HOST_MAC, NS_MAC, HOST, NS, local_port, 5001)
    } else {
        (NS_MAC, HOST_MAC, NS, HOST, 5001, local_port)
    };
    let builder = PacketBuilder::ethernet2(smac, dmac)
        .ipv4(sip, dip, 64)
        .tcp(sport, dport, 1, 1000);
    let mut frame = Vec::new();
    builder
        .write(&mut frame, &vec![0u8; payload])
        .expect("building a frame");
    frame
}

fn udp_out(local_port: u16, payload: usize) -> Vec<u8> {
    let builder = PacketBuilder::ethernet2(HOST_MAC, NS_MAC)
        .ipv4(HOST, NS, 64)
        .udp(local_port, 6001);
    let mut frame = Vec::new();
    builder
        .write(&mut frame, &vec![0u8; payload])
        .expect("building a frame");
    frame
}

/// Writes frames with a snap length of 128, as the harness's tcpdump does.
fn write_pcap(frames: &[Vec<u8>]) -> (ScratchDir, std::path::PathBuf) {
    write_pcap_as(pcap::Linktype::ETHERNET, frames)
}

fn write_pcap_as(link: pcap::Linktype, frames: &[Vec<u8>]) -> (ScratchDir, std::path::PathBuf) {
    let dir = ScratchDir::new("unit").expect("scratch dir");
    let path = dir.path().join("t.pcap");
    let cap = pcap::Capture::dead(link).expect("dead capture");
    let mut save = cap.savefile(&path).expect("savefile");
    for frame in frames {
        let caplen = frame.len().min(128);
        let header = pcap::PacketHeader {
            ts: libc::timeval {
                tv_sec: 0,
                tv_usec: 0,
            },
            caplen: caplen as u32,
            len: frame.len() as u32,
        };
        save.write(&pcap::Packet::new(&header, &frame[..caplen]));
    }
    save.flush().expect("flush");
    drop(save);
    (dir, path)
}

#[test]
fn truth_sums_ip_length_plus_ethernet_per_local_port_and_direction() {
    let frames = vec![
        tcp(true, 21001, 1000), // 14 + 20 + 20 + 1000
        tcp(false, 21001, 0),   // 14 + 20 + 20
        tcp(true, 21002, 3000), // a GSO-sized frame, truncated to 128 in the file
        udp_out(23001, 100),    // 14 + 20 + 8 + 100
    ];
    let (_dir, path) = write_pcap(&frames);
    let truth = Truth::from_pcap(&path, Ipv4Addr::from(HOST), HOST_MAC).expect("parse");

    let a = truth.ports(Transport::Tcp, [21001]);
    assert_eq!(
        (a.tx_bytes, a.tx_packets, a.rx_bytes, a.rx_packets),
        (1054, 1, 54, 1)
    );
    let b = truth.ports(Transport::Tcp, [21002]);
    assert_eq!((b.tx_bytes, b.rx_bytes), (3054, 0));
    let u = truth.ports(Transport::Udp, [23001]);
    assert_eq!((u.tx_bytes, u.tx_packets), (142, 1));
    // The same port number under the other transport is a different socket.
    assert_eq!(truth.ports(Transport::Udp, [21001]).total_bytes(), 0);
    assert_eq!(truth.frames.total_bytes(), 1054 + 54 + 3054 + 142);
    assert_eq!(truth.all_ports().total_bytes(), truth.frames.total_bytes());
}

#[test]
fn a_tun_capture_is_raw_ip_without_a_link_header() {
    // The same packets with their Ethernet header cut off.
    let frames: Vec<Vec<u8>> = [tcp(true, 21001, 1000), tcp(false, 21001, 0)]
        .iter()
        .map(|f| f[14..].to_vec())
        .collect();
    // DLT_RAW: libpcap takes the DLT and writes LINKTYPE_RAW (101).
    let (_dir, path) = write_pcap_as(pcap::Linktype(12), &frames);
    let truth = Truth::from_pcap(&path, Ipv4Addr::from(HOST), HOST_MAC).expect("parse");
    let a = truth.ports(Transport::Tcp, [21001]);
    assert_eq!(
        (a.tx_bytes, a.tx_packets, a.rx_bytes, a.rx_packets),
        (1040, 1, 40, 1)
    );
    assert_eq!(truth.frames.total_bytes(), 1080);
}

#[test]
fn tcpdump_statistics_are_read_from_its_stderr() {
    let stderr = "tcpdump: listening on x\n12 packets captured\n14 packets received by filter\n0 packets dropped by kernel\n";
    assert_eq!(stat(stderr, "packets captured").expect("present"), 12);
    assert_eq!(
        stat(stderr, "packets dropped by kernel").expect("present"),
        0
    );
    assert!(stat("", "packets captured").is_err());
}

#[test]
fn macs_are_parsed() {
    assert_eq!(parse_mac("02:6e:74:09:00:01").expect("valid"), HOST_MAC);
    assert!(parse_mac("02:6e:74").is_err());
    assert!(parse_mac("02:6e:74:09:00:01:00").is_err());
}

//! Linux's settings of the shared capture: "any" in cooked v2 framing,
//! with the DNS snap-length filter attached (the defaults). The capture
//! itself is tested in `netop-pcap`. Needs capture privileges (see
//! `common::can_capture`).
#![cfg(target_os = "linux")]

mod common;

use std::net::UdpSocket;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use netop_core::{Capture, LinkType, Poll};
use netop_linux::{open_live, CaptureOptions};

/// Held by each test while it has a capture open: the ring test counts
/// the rings mapped into this process, and the tests run in parallel.
static ONE_CAPTURE: Mutex<()> = Mutex::new(());

/// UDP destination port of an IPv4 frame in cooked v2 framing.
fn sll2_udp_dst_port(data: &[u8]) -> Option<u16> {
    let ip = data.get(20..)?;
    if ip.first()? >> 4 != 4 || *ip.get(9)? != 17 {
        return None;
    }
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    let udp = ip.get(ihl..ihl + 4)?;
    Some(u16::from_be_bytes([udp[2], udp[3]]))
}

#[test]
fn any_capture_uses_cooked_v2_with_ifindex() {
    if !common::can_capture("any_capture_uses_cooked_v2_with_ifindex") {
        return;
    }
    let _one = ONE_CAPTURE.lock().unwrap_or_else(|e| e.into_inner());
    let mut cap = open_live(&CaptureOptions::default()).expect("open any");
    assert_eq!(cap.device(), "any");
    assert_eq!(cap.link_type(), LinkType::LinuxSll2);

    let rx = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let port = rx.local_addr().expect("addr").port();
    let tx = UdpSocket::bind("127.0.0.1:0").expect("bind");
    for _ in 0..5 {
        tx.send_to(b"netop capture test", ("127.0.0.1", port))
            .expect("send");
    }
    let lo = nix::net::if_::if_nametoindex("lo").expect("lo exists");
    let mut seen = 0;
    let deadline = Instant::now() + Duration::from_secs(10);
    while seen < 5 && Instant::now() < deadline {
        match cap.next_frame().expect("next_frame") {
            Poll::Frame(f) if sll2_udp_dst_port(f.data) == Some(port) => {
                assert_eq!(f.ifindex, None, "the frame header carries it");
                let header = u32::from_be_bytes([f.data[4], f.data[5], f.data[6], f.data[7]]);
                assert_eq!(header, lo);
                seen += 1;
            }
            Poll::Frame(_) | Poll::Idle => {}
            Poll::Closed => panic!("live capture closed"),
        }
    }
    assert!(seen > 0, "no datagram seen on any");
}

/// Bytes of the packet ring libpcap mapped into this process: the shared
/// mapping of a socket (`socket:[inode]` in `/proc/self/maps`).
fn mapped_ring_bytes() -> u64 {
    let maps = std::fs::read_to_string("/proc/self/maps").expect("read maps");
    maps.lines()
        .filter(|l| l.contains(" rw-s ") && l.contains("socket:["))
        .filter_map(|l| {
            let (from, to) = l.split_whitespace().next()?.split_once('-')?;
            Some(u64::from_str_radix(to, 16).ok()? - u64::from_str_radix(from, 16).ok()?)
        })
        .sum()
}

/// With DNS kept whole the snap length is raised for libpcap; the ring it
/// maps must still be the buffer asked for (each fixed frame a 2,048-byte
/// share of a page), not twice it, on `any` and on an Ethernet-framed
/// device (`lo`).
#[test]
fn the_packet_ring_maps_the_buffer_asked_for() {
    if !common::can_capture("the_packet_ring_maps_the_buffer_asked_for") {
        return;
    }
    let _one = ONE_CAPTURE.lock().unwrap_or_else(|e| e.into_inner());
    let buffer = u64::try_from(CaptureOptions::default().buffer_size).expect("positive");
    for device in [None, Some("lo".to_string())] {
        let before = mapped_ring_bytes();
        let cap = open_live(&CaptureOptions {
            device: device.clone(),
            ..CaptureOptions::default()
        })
        .expect("open capture");
        let ring = mapped_ring_bytes() - before;
        drop(cap);
        assert!(
            ring >= buffer * 95 / 100 && ring <= buffer * 105 / 100,
            "{device:?}: libpcap mapped {ring} bytes for a {buffer}-byte buffer"
        );
    }
}

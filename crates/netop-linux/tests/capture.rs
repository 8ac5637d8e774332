//! Live capture on loopback and "any", and replay of a pcap file.
//! Live tests need capture privileges (see `common::can_capture`).
#![cfg(target_os = "linux")]

mod common;

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use netop_core::{Capture, CaptureError, LinkType, Poll};
use netop_linux::{CaptureOptions, PcapCapture, PcapFileCapture};

/// Offset of the IP header in a frame of this link type.
fn ip_offset(link: LinkType) -> usize {
    match link {
        LinkType::Ethernet => 14,
        LinkType::LinuxSll => 16,
        LinkType::LinuxSll2 => 20,
        other => panic!("unexpected link type {other:?}"),
    }
}

/// UDP destination port of an IPv4 frame, if it is one.
fn udp_dst_port(data: &[u8], link: LinkType) -> Option<u16> {
    let ip = data.get(ip_offset(link)..)?;
    if ip.first()? >> 4 != 4 || *ip.get(9)? != 17 {
        return None;
    }
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    let udp = ip.get(ihl..ihl + 4)?;
    Some(u16::from_be_bytes([udp[2], udp[3]]))
}

/// Sends datagrams to a fresh local port and returns the frames seen for
/// it: `(frame ifindex, SLL2 header ifindex)`.
fn capture_datagrams(cap: &mut PcapCapture) -> Vec<(Option<u32>, Option<u32>)> {
    let rx = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let port = rx.local_addr().expect("addr").port();
    let tx = UdpSocket::bind("127.0.0.1:0").expect("bind");
    for _ in 0..5 {
        tx.send_to(b"netop capture test", ("127.0.0.1", port))
            .expect("send");
    }
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while seen.len() < 5 && Instant::now() < deadline {
        match cap.next_frame().expect("next_frame") {
            Poll::Frame(f) => {
                if udp_dst_port(f.data, f.link) == Some(port) {
                    assert!(f.orig_len as usize >= f.data.len());
                    assert!(f.ts > Duration::from_secs(1_600_000_000));
                    let sll2_ifindex = (f.link == LinkType::LinuxSll2)
                        .then(|| u32::from_be_bytes([f.data[4], f.data[5], f.data[6], f.data[7]]));
                    seen.push((f.ifindex, sll2_ifindex));
                }
            }
            Poll::Idle => {}
            Poll::Closed => panic!("live capture closed"),
        }
    }
    seen
}

fn lo_index() -> u32 {
    nix::net::if_::if_nametoindex("lo").expect("lo exists")
}

#[test]
fn loopback_capture_sees_local_datagrams_as_ethernet() {
    if !common::can_capture("loopback_capture_sees_local_datagrams_as_ethernet") {
        return;
    }
    let mut cap = PcapCapture::open(&CaptureOptions {
        device: Some("lo".into()),
        ..CaptureOptions::default()
    })
    .expect("open lo");
    assert_eq!(cap.link_type(), LinkType::Ethernet);
    assert_eq!(cap.device(), "lo");
    let seen = capture_datagrams(&mut cap);
    assert!(seen.len() >= 5, "saw {seen:?}");
    assert!(seen.iter().all(|(ifindex, _)| *ifindex == Some(lo_index())));
    let stats = cap.stats().expect("stats");
    assert!(stats.received >= 5, "{stats:?}");
}

#[test]
fn any_capture_uses_cooked_v2_with_ifindex() {
    if !common::can_capture("any_capture_uses_cooked_v2_with_ifindex") {
        return;
    }
    let mut cap = PcapCapture::open(&CaptureOptions::default()).expect("open any");
    assert_eq!(cap.device(), "any");
    assert_eq!(cap.link_type(), LinkType::LinuxSll2);
    let seen = capture_datagrams(&mut cap);
    assert!(!seen.is_empty());
    for (frame_ifindex, header_ifindex) in seen {
        assert_eq!(frame_ifindex, None, "the frame header carries it");
        assert_eq!(header_ifindex, Some(lo_index()));
    }
}

#[test]
fn unknown_device_is_no_such_interface() {
    // Checked before libpcap is asked, so no privilege is needed.
    let err = PcapCapture::open(&CaptureOptions {
        device: Some("netop-nope0".into()),
        ..CaptureOptions::default()
    })
    .expect_err("must fail");
    match err {
        CaptureError::NoSuchInterface { device } => assert_eq!(device, "netop-nope0"),
        other => panic!("expected NoSuchInterface, got {other:?}"),
    }
    // Listing needs no privilege either.
    let names = netop_linux::list_interfaces();
    assert!(names.iter().any(|n| n == "lo"), "{names:?}");
}

/// A classic pcap file (microsecond timestamps, Ethernet) with two frames.
fn pcap_file_bytes() -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    v.extend_from_slice(&2u16.to_le_bytes());
    v.extend_from_slice(&4u16.to_le_bytes());
    v.extend_from_slice(&0i32.to_le_bytes());
    v.extend_from_slice(&0u32.to_le_bytes());
    v.extend_from_slice(&65535u32.to_le_bytes());
    v.extend_from_slice(&1u32.to_le_bytes()); // LINKTYPE_ETHERNET
    for (i, len) in [(0u8, 60u32), (1, 42)] {
        v.extend_from_slice(&1_700_000_000u32.to_le_bytes());
        v.extend_from_slice(&(250_000u32 * u32::from(i)).to_le_bytes());
        v.extend_from_slice(&len.to_le_bytes()); // caplen
        v.extend_from_slice(&(len + 100).to_le_bytes()); // orig len
        v.extend(std::iter::repeat_n(i, len as usize));
    }
    v
}

#[test]
fn file_capture_replays_then_closes() {
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("netop-linux-replay.pcap");
    std::fs::write(&path, pcap_file_bytes()).expect("write fixture");
    let mut cap = PcapFileCapture::open(&path).expect("open file");
    assert_eq!(cap.link_type(), LinkType::Ethernet);
    let mut frames = Vec::new();
    loop {
        match cap.next_frame().expect("next_frame") {
            Poll::Frame(f) => frames.push((f.ts, f.orig_len, f.data.len(), f.ifindex, f.link)),
            Poll::Idle => panic!("files never idle"),
            Poll::Closed => break,
        }
    }
    assert_eq!(
        frames,
        vec![
            (
                Duration::from_secs(1_700_000_000),
                160,
                60,
                None,
                LinkType::Ethernet
            ),
            (
                Duration::from_millis(1_700_000_000_250),
                142,
                42,
                None,
                LinkType::Ethernet
            ),
        ]
    );
    assert!(matches!(cap.next_frame(), Ok(Poll::Closed)));
    assert_eq!(cap.stats().expect("stats"), Default::default());
}

#[test]
fn missing_file_is_an_error() {
    let err = PcapFileCapture::open(std::path::Path::new("/nonexistent/netop.pcap"))
        .expect_err("must fail");
    assert!(matches!(err, CaptureError::Failed { .. }), "{err:?}");
}

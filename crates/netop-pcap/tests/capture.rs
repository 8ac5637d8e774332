//! Live capture on the loopback interface, and replay of a pcap file.
//! Live tests need capture privileges: without them they skip (and fail
//! under `CI`, see `netop_core::testing::skip`).

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use netop_core::{Capture, CaptureError, LinkType, Poll};
use std::sync::{Arc, Mutex};

use netop_pcap::pcap::{Active, Inactive};
use netop_pcap::{
    CaptureOptions, LinkState, PcapCapture, PcapFileCapture, Platform, Posix, ReopeningCapture,
};
use nix::net::if_::InterfaceFlags;

/// The host's loopback interface, whatever the OS calls it.
fn loopback() -> String {
    nix::ifaddrs::getifaddrs()
        .expect("getifaddrs")
        .find(|a| a.flags.contains(InterfaceFlags::IFF_LOOPBACK))
        .expect("a loopback interface")
        .interface_name
}

/// Offset of the IP header in a frame of this link type.
fn ip_offset(link: LinkType) -> usize {
    match link {
        LinkType::Ethernet => 14,
        LinkType::Null | LinkType::Loop => 4,
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

/// Sends datagrams to a fresh local port and returns the ifindex of each
/// frame seen for it.
fn capture_datagrams(cap: &mut PcapCapture) -> Vec<Option<u32>> {
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
                    seen.push(f.ifindex);
                }
            }
            Poll::Idle => {}
            Poll::Closed => panic!("live capture closed"),
        }
    }
    seen
}

#[test]
fn loopback_capture_sees_local_datagrams() {
    let lo = loopback();
    let mut cap = match PcapCapture::open(&CaptureOptions::new(lo.as_str()), &Posix) {
        Ok(cap) => cap,
        Err(CaptureError::PermissionDenied { .. }) => {
            return netop_core::testing::skip("loopback capture: needs capture privileges")
        }
        Err(other) => panic!("open {lo}: {other}"),
    };
    assert_eq!(cap.device(), lo);
    let link = cap.link_type();
    assert!(
        matches!(link, LinkType::Ethernet | LinkType::Null | LinkType::Loop),
        "{link:?}"
    );
    let seen = capture_datagrams(&mut cap);
    assert!(seen.len() >= 5, "saw {seen:?}");
    let index = nix::net::if_::if_nametoindex(lo.as_str()).expect("loopback index");
    assert!(seen.iter().all(|ifindex| *ifindex == Some(index)));
    let stats = cap.stats().expect("stats");
    assert!(stats.received >= 5, "{stats:?}");
}

#[test]
fn unknown_device_is_no_such_interface() {
    // Checked before libpcap is asked, so no privilege is needed.
    let err =
        PcapCapture::open(&CaptureOptions::new("netop-nope0"), &Posix).expect_err("must fail");
    match err {
        CaptureError::NoSuchInterface { device } => assert_eq!(device, "netop-nope0"),
        other => panic!("expected NoSuchInterface, got {other:?}"),
    }
    // Listing needs no privilege either.
    let names = netop_pcap::list_interfaces();
    assert!(names.contains(&loopback()), "{names:?}");
}

/// A platform that records what the capture asks of it.
#[derive(Debug, Default, Clone)]
struct Recording {
    calls: Arc<Mutex<Vec<String>>>,
}

impl Recording {
    fn note(&self, call: String) {
        self.calls.lock().expect("lock").push(call);
    }

    fn calls(&self) -> Vec<String> {
        self.calls.lock().expect("lock").clone()
    }
}

impl Platform for Recording {
    fn configure(
        &self,
        inactive: netop_pcap::pcap::Capture<Inactive>,
        device: &str,
    ) -> netop_pcap::pcap::Capture<Inactive> {
        self.note(format!("configure {device}"));
        inactive
    }

    fn activated(&self, _cap: &mut netop_pcap::pcap::Capture<Active>, device: &str) {
        self.note(format!("activated {device}"));
    }

    fn link_state(&self, device: &str) -> LinkState {
        self.note(format!("link_state {device}"));
        Posix.link_state(device)
    }
}

#[test]
fn the_platform_configures_each_handle_before_and_after_activation() {
    let lo = loopback();
    let platform = Recording::default();
    let opened = ReopeningCapture::open(
        &CaptureOptions::new(lo.as_str()),
        Box::new(platform.clone()),
    );
    let mut cap = match opened {
        Ok(cap) => cap,
        Err(CaptureError::PermissionDenied { .. }) => {
            return netop_core::testing::skip("platform hooks: needs capture privileges")
        }
        Err(other) => panic!("open {lo}: {other}"),
    };
    assert_eq!(
        platform.calls(),
        [format!("configure {lo}"), format!("activated {lo}")]
    );
    // A healthy capture never asks about its link.
    let _ = cap.dispatch(&mut |_| {}).expect("dispatch");
    assert_eq!(platform.calls().len(), 2, "{:?}", platform.calls());
    assert!(cap.health().gone.is_none());
}

#[test]
fn an_unknown_device_fails_at_once_without_asking_the_platform() {
    let platform = Recording::default();
    let err = ReopeningCapture::open(
        &CaptureOptions::new("netop-nope0"),
        Box::new(platform.clone()),
    )
    .expect_err("must fail");
    assert!(
        matches!(err, CaptureError::NoSuchInterface { .. }),
        "{err:?}"
    );
    assert!(platform.calls().is_empty(), "{:?}", platform.calls());
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
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("netop-pcap-replay.pcap");
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

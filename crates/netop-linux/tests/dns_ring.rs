//! Kernel counting's DNS frames on real traffic: the program attached to
//! `lo`, a UDP and a TCP message to port 53 and a datagram to another
//! port, and [`KernelCapture`] must hand over the port-53 packets (only
//! those) as frames whose decoded interface, direction, tuple, payload and
//! wire length are the packets sent.
//!
//! Needs root (loading and attaching eBPF) and is meant for `ci/isolated`
//! (its own `lo`): skipped otherwise, a failure under `CI`.
#![cfg(target_os = "linux")]

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use netop_core::decode::decode;
use netop_core::{Capture, Poll, Protocol};
use netop_linux::counting::KernelCapture;

/// One decoded frame: (protocol, source, destination, payload, wire
/// length, outgoing, interface).
type Seen = (
    Protocol,
    SocketAddr,
    SocketAddr,
    Vec<u8>,
    u32,
    Option<bool>,
    Option<u32>,
);

/// Frames until `want` of them or two seconds.
fn frames(capture: &mut KernelCapture, want: usize) -> Vec<Seen> {
    let mut out = Vec::new();
    let start = Instant::now();
    while out.len() < want && start.elapsed() < Duration::from_secs(2) {
        match capture.next_frame().expect("next frame") {
            Poll::Frame(f) => {
                let p = decode(&f).expect("a DNS frame decodes");
                let ip = p.ip.expect("IP");
                out.push((
                    ip.proto,
                    SocketAddr::new(ip.src, ip.src_port),
                    SocketAddr::new(ip.dst, ip.dst_port),
                    ip.payload.to_vec(),
                    p.wire_len,
                    p.outgoing,
                    p.ifindex,
                ));
            }
            Poll::Idle => {}
            Poll::Closed => break,
        }
    }
    out
}

#[test]
fn port_53_packets_on_lo_come_back_as_their_frames() {
    let mut capture = match KernelCapture::open(Some("lo".to_string()), true) {
        Ok(c) => c,
        Err(why) => {
            netop_core::testing::skip(&format!("kernel counting unavailable: {why}"));
            return;
        }
    };
    let lo = nix::net::if_::if_nametoindex("lo").expect("lo");
    let local = Ipv4Addr::LOCALHOST;
    // Not DNS: counted in the table, no frame.
    let sender = UdpSocket::bind((local, 0)).expect("bind");
    let from = sender.local_addr().expect("address");
    sender.send_to(b"not dns", (local, 54)).expect("send");
    // A query to port 53 (nothing listens: the ICMP error is not DNS).
    let query =
        b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01";
    sender.send_to(query, (local, 53)).expect("send");
    let got = frames(&mut capture, 1);
    let to: SocketAddr = (local, 53).into();
    // lo is counted on ingress only: one frame, coming in, with the
    // 14-byte Ethernet header lo's packets carry.
    let wire = (14 + 20 + 8 + query.len()) as u32;
    assert_eq!(
        got,
        vec![(
            Protocol::Udp,
            from,
            to,
            query.to_vec(),
            wire,
            Some(false),
            Some(lo)
        )]
    );

    // TCP on a listening port 53 (root may bind it): the handshake and the
    // message come as frames too, in both directions.
    let listener = match TcpListener::bind((local, 53)) {
        Ok(l) => l,
        Err(e) => panic!("cannot listen on port 53: {e}"),
    };
    let mut client = TcpStream::connect((local, 53)).expect("connect");
    let (_server, _) = listener.accept().expect("accept");
    client.write_all(b"\x00\x05hello").expect("write");
    let got = frames(&mut capture, 4);
    let client_addr = client.local_addr().expect("address");
    let server_addr: SocketAddr = (local, 53).into();
    assert!(got.len() >= 4, "SYN, SYN-ACK, ACK, data: {got:?}");
    assert!(got
        .iter()
        .all(|s| s.0 == Protocol::Tcp && s.5 == Some(false)));
    assert!(got.iter().any(|s| s.1 == server_addr && s.2 == client_addr));
    assert!(got.iter().any(|s| s.1 == client_addr
        && s.2 == server_addr
        && s.3 == b"\x00\x05hello"
        && s.4 as usize == 14 + 20 + 32 + 7));
    // Everything went through the ring, none through the table's drops.
    let stats = capture.stats().expect("stats");
    assert_eq!(stats.dropped, 0);
}

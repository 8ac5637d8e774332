//! The kernel counting program's parser against the userspace decoder:
//! the same frames (Ethernet, 802.1Q and 802.1ad tags, IPv4 and IPv6 with
//! an extension header, TCP with its flags, UDP, a later fragment, ARP,
//! DNS) run through the loaded program (`BPF_PROG_TEST_RUN`) and through
//! `netop_core::decode` give the same keys, byte counts and packet counts;
//! with the DNS observatory on, the program leaves out of its table exactly
//! the packets the pcap path's DNS filter keeps, and hands them over
//! through its DNS ring as frames that decode to the same tuples, bytes
//! and direction. The same on a recording of real loopback traffic made
//! while the test runs (libpcap into a pcap file, replayed by netop's file
//! capture): every frame, totals per tuple with the TCP flags gathered as
//! the table gathers them, with the DNS observatory off and on.
//!
//! Needs root (loading eBPF): skipped otherwise, a failure under `CI`. A
//! build without clang has no program: also a skip, a failure under `CI`.
#![cfg(target_os = "linux")]

use std::collections::BTreeMap;
use std::time::Duration;

use netop_core::decode::decode;
use netop_core::testing::PacketSpec;
use netop_core::{DeltaTuple, Frame, LinkType};
use netop_linux::counting::Tester;

const MAC: [u8; 6] = [2, 0, 0, 0, 0, 7];

fn tester(skip_dns: bool) -> Option<Tester> {
    match Tester::open(skip_dns) {
        Ok(t) => Some(t),
        Err(why) => {
            netop_core::testing::skip(&format!("kernel counting unavailable: {why}"));
            None
        }
    }
}

fn eth(spec: PacketSpec) -> Vec<u8> {
    spec.ethernet(Duration::ZERO, 1, MAC).data
}

/// `frame` with VLAN tags of `tpids` after the MAC addresses.
fn tagged(frame: &[u8], tpids: &[u16]) -> Vec<u8> {
    let mut out = frame[..12].to_vec();
    for (i, tpid) in tpids.iter().enumerate() {
        out.extend_from_slice(&tpid.to_be_bytes());
        out.extend_from_slice(&(5 + i as u16).to_be_bytes());
    }
    out.extend_from_slice(&frame[12..]);
    out
}

/// An IPv4 frame made a later fragment (offset 8 bytes).
fn later_fragment(frame: &[u8]) -> Vec<u8> {
    let mut out = frame.to_vec();
    out[14 + 6] = 0x00;
    out[14 + 7] = 0x01;
    out
}

/// IPv6 UDP from `sport` to `dport` behind a hop-by-hop header.
fn ipv6_hop_by_hop(sport: u16, dport: u16, payload: usize) -> Vec<u8> {
    let mut f = vec![0x02, 0xee, 0, 0, 0, 0x99];
    f.extend_from_slice(&MAC);
    f.extend_from_slice(&0x86ddu16.to_be_bytes());
    let len = (8 + 8 + payload) as u16;
    f.extend_from_slice(&[0x60, 0, 0, 0]);
    f.extend_from_slice(&len.to_be_bytes());
    f.extend_from_slice(&[0, 64]); // next: hop-by-hop
    f.extend_from_slice(
        &"2001:db8::1"
            .parse::<std::net::Ipv6Addr>()
            .expect("ip")
            .octets(),
    );
    f.extend_from_slice(
        &"2001:db8::2"
            .parse::<std::net::Ipv6Addr>()
            .expect("ip")
            .octets(),
    );
    f.extend_from_slice(&[17, 0, 1, 4, 0, 0, 0, 0]); // next: UDP; PadN
    f.extend_from_slice(&sport.to_be_bytes());
    f.extend_from_slice(&dport.to_be_bytes());
    f.extend_from_slice(&((8 + payload) as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend(std::iter::repeat_n(0u8, payload));
    f
}

fn arp() -> Vec<u8> {
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&MAC);
    f.extend_from_slice(&0x0806u16.to_be_bytes());
    f.extend_from_slice(&[0u8; 28]);
    f
}

type Key = (Option<DeltaTuple>, bool, bool, bool);

/// One decoded packet added to its key's (bytes, packets).
fn add_decoded(out: &mut BTreeMap<String, (u64, u64)>, p: &netop_core::decode::Packet<'_>) {
    let tuple = p.ip.as_ref().map(DeltaTuple::of);
    let flags = p.ip.map(|ip| ip.tcp).unwrap_or_default();
    let key: Key = (tuple, flags.syn, flags.fin, flags.rst);
    let e = out.entry(format!("{key:?}")).or_insert((0, 0));
    e.0 += u64::from(p.wire_len);
    e.1 += 1;
}

/// A whole Ethernet frame, as the decoder takes it.
fn eth_frame(data: &[u8]) -> Frame<'_> {
    Frame {
        ts: Duration::ZERO,
        ifindex: Some(1),
        link: LinkType::Ethernet,
        orig_len: data.len() as u32,
        data,
    }
}

/// A DNS ring record's frame (Linux cooked v2), as the decoder takes it.
fn ring_frame(f: &netop_linux::counting::DnsFrame) -> Frame<'_> {
    Frame {
        ts: Duration::ZERO,
        ifindex: None,
        link: LinkType::LinuxSll2,
        orig_len: f.orig_len,
        data: &f.data,
    }
}

/// Per key (tuple and TCP flags): (bytes, packets), as the decoder reads
/// the frames.
fn decoded(frames: &[Vec<u8>]) -> BTreeMap<String, (u64, u64)> {
    let mut out = BTreeMap::new();
    for data in frames {
        let p = decode(&eth_frame(data)).expect("the fixture decodes");
        add_decoded(&mut out, &p);
    }
    out
}

/// The DNS ring's frames as the decoder reads them, keyed as `decoded`;
/// each frame's interface and direction must be `ifindex` and `outgoing`.
fn ring_decoded(t: &mut Tester, ifindex: u32, outgoing: bool) -> BTreeMap<String, (u64, u64)> {
    let mut out = BTreeMap::new();
    for f in t.dns_frames() {
        let p = decode(&ring_frame(&f)).expect("a ring frame decodes");
        assert_eq!((p.ifindex, p.outgoing), (Some(ifindex), Some(outgoing)));
        add_decoded(&mut out, &p);
    }
    out
}

fn counted(t: &mut Tester, frames: &[Vec<u8>]) -> BTreeMap<String, (u64, u64)> {
    for f in frames {
        t.run("netop_eth_ingress", f).expect("test run");
    }
    let mut out = BTreeMap::new();
    for d in t.deltas().expect("table read") {
        assert!(!d.outgoing, "an ingress program: {d:?}");
        let key: Key = (d.tuple, d.tcp.syn, d.tcp.fin, d.tcp.rst);
        let e = out.entry(format!("{key:?}")).or_insert((0, 0));
        e.0 += d.bytes;
        e.1 += d.packets;
    }
    out
}

#[test]
fn the_program_reads_frames_as_the_decoder_does() {
    let Some(mut t) = tester(false) else {
        return;
    };
    let tcp = PacketSpec::tcp("192.0.2.10:40000", "198.51.100.1:443", 1200);
    let mut rst = PacketSpec::tcp("198.51.100.1:443", "192.0.2.10:40000", 0);
    rst.rst = true;
    let udp = PacketSpec::udp("192.0.2.10:5000", "203.0.113.5:6000", 300);
    let tcp6 = PacketSpec::tcp("[2001:db8::1]:40000", "[2001:db8::2]:80", 700);
    let dns = PacketSpec::udp("192.0.2.10:41000", "192.0.2.1:53", 40);
    let frames = vec![
        eth(tcp),
        eth(tcp),
        eth(rst),
        eth(udp),
        eth(tcp6),
        eth(dns),
        tagged(&eth(udp), &[0x8100]),
        tagged(&eth(tcp6), &[0x88a8, 0x8100]),
        later_fragment(&eth(udp)),
        ipv6_hop_by_hop(7000, 8000, 100),
        arp(),
    ];
    let expected = decoded(&frames);
    let got = counted(&mut t, &frames);
    assert_eq!(got, expected);
    // The cases are there: not IP, a later fragment without ports, RST.
    let keys: Vec<&String> = got.keys().collect();
    for part in [
        "(None,",
        "src_port: 0, dst: 203.0.113.5",
        "false, false, true)",
    ] {
        assert!(keys.iter().any(|k| k.contains(part)), "{part} in {keys:#?}");
    }
}

#[test]
fn with_dns_on_the_program_hands_over_what_the_pcap_filter_keeps() {
    let Some(mut t) = tester(true) else {
        return;
    };
    let udp_dns = PacketSpec::udp("192.0.2.10:41000", "192.0.2.1:53", 40);
    let answer = PacketSpec::udp("192.0.2.1:53", "192.0.2.10:41000", 200);
    let tcp_dns = PacketSpec::tcp("192.0.2.10:41001", "192.0.2.1:53", 60);
    let dns6 = PacketSpec::udp("[2001:db8::1]:41000", "[2001:db8::2]:53", 40);
    let other = PacketSpec::udp("192.0.2.10:41000", "192.0.2.1:54", 40);
    // The pcap path's DNS filter keeps unfragmented IPv4 or IPv6 without
    // extension headers, untagged (skb->protocol IP): these are its.
    let dns_frames = vec![eth(udp_dns), eth(answer), eth(tcp_dns), eth(dns6)];
    // Everything else is counted here, port 53 or not.
    let counted_frames = vec![
        eth(other),
        tagged(&eth(udp_dns), &[0x8100]),
        later_fragment(&eth(udp_dns)),
        ipv6_hop_by_hop(41000, 53, 40),
    ];
    let mut all = dns_frames.clone();
    all.extend(counted_frames.iter().cloned());
    assert_eq!(counted(&mut t, &all), decoded(&counted_frames));
    // The test run's skb is on the loopback device (index 1 in the test's
    // namespace), coming in.
    let lo = nix::net::if_::if_nametoindex("lo").expect("lo");
    assert_eq!(ring_decoded(&mut t, lo, false), decoded(&dns_frames));
    // Leaving: the same frames, marked outgoing by the egress program.
    for f in &dns_frames {
        t.run("netop_eth_egress", f).expect("test run");
    }
    assert_eq!(ring_decoded(&mut t, lo, true), decoded(&dns_frames));
    assert!(t.deltas().expect("table read").is_empty());
}

#[test]
fn dns_packets_the_ring_has_no_room_for_are_counted_in_the_table() {
    let Some(mut t) = tester(true) else {
        return;
    };
    let query = eth(PacketSpec::udp("192.0.2.10:41000", "192.0.2.1:53", 40));
    // More records than the ring holds, none read in between.
    let ring = 1usize << 20;
    let sent = ring / netop_linux::counting::dns_ring::SNAP + 100;
    for _ in 0..sent {
        t.run("netop_eth_ingress", &query).expect("test run");
    }
    let framed = t.dns_frames().len() as u64;
    let in_table: u64 = t
        .deltas()
        .expect("table read")
        .iter()
        .map(|d| d.packets)
        .sum();
    assert!(
        framed > 0 && in_table > 0,
        "{framed} framed, {in_table} in the table"
    );
    assert_eq!(framed + in_table, sent as u64, "each packet once");
    assert_eq!(t.dns_full(), in_table);
}

#[test]
fn a_dns_message_longer_than_the_snap_length_keeps_its_whole_length() {
    let Some(mut t) = tester(true) else {
        return;
    };
    let big = eth(PacketSpec::tcp("192.0.2.1:53", "192.0.2.10:41001", 2500));
    // A test run takes up to about a page.
    assert!(big.len() > 14 + netop_linux::counting::dns_ring::SNAP);
    t.run("netop_eth_ingress", &big).expect("test run");
    let frames = t.dns_frames();
    assert_eq!(frames.len(), 1);
    // Cut at the snap length (after its 14-byte link header, which the
    // cooked header replaces), counted whole.
    let snap = netop_linux::counting::dns_ring::SNAP;
    assert_eq!(frames[0].data.len(), 20 + snap - 14);
    assert_eq!(ring_decoded_one(&frames[0]), big.len() as u32);
}

fn ring_decoded_one(f: &netop_linux::counting::DnsFrame) -> u32 {
    decode(&ring_frame(f)).expect("decodes").wire_len
}

#[test]
fn packets_the_table_has_no_room_for_are_counted_as_dropped() {
    let capacity = 16;
    let Some(mut t) = (match Tester::with_capacity(false, capacity) {
        Ok(t) => Some(t),
        Err(why) => {
            netop_core::testing::skip(&format!("kernel counting unavailable: {why}"));
            None
        }
    }) else {
        return;
    };
    let flows = 40u16;
    for port in 0..flows {
        let src = format!("192.0.2.10:{}", 40000 + port);
        let spec = PacketSpec::udp(&src, "192.0.2.1:54", 40);
        let frame = eth(spec);
        t.run("netop_eth_ingress", &frame)
            .unwrap_or_else(|e| panic!("test run of {} bytes, port {port}: {e}", frame.len()));
    }
    let kept = t.deltas().expect("table read");
    assert!(
        kept.len() as u32 <= capacity && !kept.is_empty(),
        "{} entries",
        kept.len()
    );
    let kept_packets: u64 = kept.iter().map(|d| d.packets).sum();
    assert_eq!(
        kept_packets + t.full(),
        u64::from(flows),
        "each packet kept or counted as dropped"
    );
}

/// Runs the egress classifier `n` times on `frame`.
fn send(t: &Tester, frame: &[u8], n: usize) {
    for _ in 0..n {
        t.run("netop_eth_egress", frame).expect("test run");
    }
}

/// Packets of the flow from source port `sport` in `deltas`: (bytes,
/// packets).
fn flow_total(deltas: &[netop_core::FlowDelta], sport: u16) -> (u64, u64) {
    deltas
        .iter()
        .filter(|d| d.tuple.is_some_and(|t| t.src_port == sport))
        .fold((0, 0), |(b, p), d| (b + d.bytes, p + d.packets))
}

#[test]
fn a_streams_packets_wait_in_the_cpus_slot_until_another_flow_or_a_read() {
    let Some(mut t) = tester(false) else {
        return;
    };
    let a = eth(PacketSpec::udp("192.0.2.10:41001", "192.0.2.1:9", 18));
    let b = eth(PacketSpec::udp("192.0.2.10:41002", "192.0.2.1:9", 300));
    // A stream alone: its last packet at least is in a slot, not the table.
    send(&t, &a, 5);
    let before_flush = t.table_only().expect("table read");
    assert!(flow_total(&before_flush, 41001).1 < 5, "{before_flush:?}");
    // A read merges every slot first: nothing lost, nothing twice.
    let flushed = t.deltas().expect("table read");
    let a_bytes = a.len() as u64;
    let (b0, p0) = flow_total(&before_flush, 41001);
    let (b1, p1) = flow_total(&flushed, 41001);
    assert_eq!((p0 + p1, b0 + b1), (5, 5 * a_bytes));
    // Flows taking turns: each change of flow merges the slot.
    send(&t, &a, 3);
    send(&t, &b, 1);
    send(&t, &a, 2);
    let d = t.deltas().expect("table read");
    assert_eq!(flow_total(&d, 41001), (5 * a_bytes, 5));
    assert_eq!(flow_total(&d, 41002), (b.len() as u64, 1));
    // An empty read after that: the slots were emptied by the flush.
    assert!(t.deltas().expect("table read").is_empty());
    assert_eq!(t.full(), 0);
}

#[test]
fn a_stream_merges_its_own_slot_once_it_is_50_ms_old() {
    let Some(mut t) = tester(false) else {
        return;
    };
    let a = eth(PacketSpec::udp("192.0.2.10:41004", "192.0.2.1:9", 18));
    pin(0);
    send(&t, &a, 3);
    // The coarse clock ticks every few ms: well past 50 ms.
    std::thread::sleep(Duration::from_millis(80));
    send(&t, &a, 1);
    let d = t.table_only().expect("table read");
    assert_eq!(flow_total(&d, 41004), (4 * a.len() as u64, 4), "{d:?}");
    assert!(t.deltas().expect("table read").is_empty());
}

/// Keeps the calling thread on `cpu`.
fn pin(cpu: usize) {
    let mut set = nix::sched::CpuSet::new();
    set.set(cpu).expect("cpu in set");
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set).expect("pin");
}

#[test]
fn a_slot_on_another_cpu_is_merged_by_a_flush_run_there() {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert!(cpus >= 2, "this test needs two CPUs, the host has {cpus}");
    let Some(mut t) = tester(false) else {
        return;
    };
    let a = eth(PacketSpec::udp("192.0.2.10:41003", "192.0.2.1:9", 18));
    // Counted on CPU 0, read from CPU 1: CPU 0's flush runs in an
    // interrupt there.
    pin(0);
    send(&t, &a, 7);
    pin(1);
    let d = t.deltas().expect("table read");
    assert_eq!(flow_total(&d, 41003), (7 * a.len() as u64, 7));
    assert!(t.deltas().expect("table read").is_empty());
}

/// The largest frame `BPF_PROG_TEST_RUN` takes for a traffic-control
/// program: a page less the skb's headroom (64) and its shared info (320).
const TEST_RUN_MAX: usize = 4096 - 64 - 320;

/// Bytes of a frame recorded: more than a test run takes (longer frames
/// are left out of the comparison), and small enough that libpcap's ring
/// slots hold every frame of the burst.
const SNAPLEN: i32 = 4096;

/// Real traffic over the loopback device, recorded by libpcap into a pcap
/// file while it runs: TCP over IPv4 and IPv6 with data both ways and a
/// close, a refused connection (SYN, RST), UDP both ways, UDP to a closed
/// port (ICMP and ICMPv6 errors), and a DNS query.
fn record_loopback(path: &std::path::Path) {
    use netop_pcap::pcap;
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream, UdpSocket};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    let mut cap = pcap::Capture::from_device("lo")
        .and_then(|c| {
            c.snaplen(SNAPLEN)
                .buffer_size(32 << 20)
                .immediate_mode(true)
                .open()
        })
        .and_then(|c| c.setnonblock())
        .expect("libpcap on lo");
    let mut file = cap.savefile(path).expect("savefile");
    let stop = Arc::new(AtomicBool::new(false));
    let recorder = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match cap.next_packet() {
                    Ok(p) => file.write(&p),
                    Err(pcap::Error::TimeoutExpired) => {
                        std::thread::sleep(Duration::from_millis(1))
                    }
                    Err(e) => panic!("recording: {e}"),
                }
            }
            file.flush().expect("flush");
            let stats = cap.stats().expect("libpcap statistics");
            assert_eq!(stats.dropped, 0, "every frame recorded");
        })
    };
    std::thread::sleep(Duration::from_millis(100));
    const SIZES: [usize; 6] = [1, 37, 200, 536, 1000, 1400];
    const MESSAGES: usize = 120;
    for host in ["127.0.0.1", "[::1]"] {
        // TCP: messages of several sizes one way, echoes the other.
        let listener = TcpListener::bind(format!("{host}:0")).expect("listen");
        let addr = listener.local_addr().expect("addr");
        // Each message answered by at most 300 bytes of it, read whole.
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().expect("accept");
            s.set_nodelay(true).expect("nodelay");
            let mut buf = [0u8; 2048];
            for i in 0..MESSAGES {
                let n = SIZES[i % SIZES.len()];
                s.read_exact(&mut buf[..n]).expect("message");
                s.write_all(&buf[..n.min(300)]).expect("echo");
            }
            let _ = s.read(&mut buf);
        });
        let mut client = TcpStream::connect(addr).expect("connect");
        client.set_nodelay(true).expect("nodelay");
        let mut back = [0u8; 2048];
        for i in 0..MESSAGES {
            let n = SIZES[i % SIZES.len()];
            client.write_all(&vec![b'x'; n]).expect("send");
            client
                .read_exact(&mut back[..n.min(300)])
                .expect("echo back");
        }
        drop(client);
        server.join().expect("server");
        // Refused: nothing listens on the port the listener had.
        assert!(TcpStream::connect(addr).is_err());
        // UDP both ways, then to a closed port.
        let a = UdpSocket::bind(format!("{host}:0")).expect("udp");
        let b = UdpSocket::bind(format!("{host}:0")).expect("udp");
        let b_addr = b.local_addr().expect("addr");
        for i in 0..60 {
            let n = SIZES[i % SIZES.len()];
            a.send_to(&vec![b'u'; n], b_addr).expect("send");
            let (got, from) = b.recv_from(&mut back).expect("recv");
            b.send_to(&back[..got], from).expect("reply");
        }
        drop(b);
        for _ in 0..5 {
            let _ = a.send_to(b"closed", b_addr);
            std::thread::sleep(Duration::from_millis(5));
        }
        // A DNS query, answered or refused by whatever the host has.
        let query = [
            0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 7, b'e', b'x', b'a', b'm', b'p', b'l', b'e',
            3, b'c', b'o', b'm', 0, 0, 1, 0, 1,
        ];
        let _ = a.send_to(&query, format!("{host}:53"));
    }
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::Relaxed);
    recorder.join().expect("recorder");
}

/// Per tuple: (bytes, packets, SYN, FIN, RST seen), the flags gathered as
/// the table gathers them for a flow.
type Totals = BTreeMap<String, (u64, u64, bool, bool, bool)>;

/// One decoded packet added to its tuple's totals.
fn add_packet_total(out: &mut Totals, p: &netop_core::decode::Packet<'_>) {
    let f = p.ip.map(|ip| ip.tcp).unwrap_or_default();
    let tuple = p.ip.as_ref().map(DeltaTuple::of);
    add_total(out, tuple, p.wire_len.into(), 1, [f.syn, f.fin, f.rst]);
}

fn add_total(out: &mut Totals, tuple: Option<DeltaTuple>, bytes: u64, packets: u64, f: [bool; 3]) {
    let e = out
        .entry(format!("{tuple:?}"))
        .or_insert((0, 0, false, false, false));
    e.0 += bytes;
    e.1 += packets;
    e.2 |= f[0];
    e.3 |= f[1];
    e.4 |= f[2];
}

#[test]
fn the_program_reads_a_recorded_capture_as_the_decoder_does() {
    use netop_core::{Capture, Poll};

    if tester(false).is_none() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("loopback.pcap");
    record_loopback(&path);

    // The recording replayed as `--replay` reads it.
    let mut replay = netop_pcap::PcapFileCapture::open(&path).expect("replay");
    assert_eq!(replay.link_type(), LinkType::Ethernet);
    let mut frames = Vec::new();
    let mut too_big = 0usize;
    loop {
        match replay.next_frame().expect("replayed frame") {
            Poll::Frame(f) => {
                if f.orig_len as usize > TEST_RUN_MAX {
                    too_big += 1;
                } else {
                    assert_eq!(f.data.len() as u32, f.orig_len, "recorded whole");
                    frames.push(f.data.to_vec());
                }
            }
            Poll::Idle => {}
            Poll::Closed => break,
        }
    }
    assert!(
        frames.len() >= 500 && too_big * 50 <= frames.len(),
        "{} frames to compare, {too_big} over the test run's limit",
        frames.len()
    );

    eprintln!(
        "{} recorded frames compared, {too_big} longer than a test run takes",
        frames.len()
    );
    let mut expected = Totals::new();
    for data in &frames {
        let p = decode(&eth_frame(data)).expect("a recorded frame decodes");
        add_packet_total(&mut expected, &p);
    }
    // The kinds of traffic made are there (TCP, UDP, ICMP, ICMPv6; v4, v6).
    let keys = expected.keys().cloned().collect::<Vec<_>>().join("\n");
    for part in [
        "Tcp",
        "Udp",
        "Icmp",
        "Icmpv6",
        "::1",
        "127.0.0.1",
        "dst_port: 53",
    ] {
        assert!(keys.contains(part), "{part} among\n{keys}");
    }

    // The program, with the DNS observatory off (all in its table) and on
    // (port 53 through its ring): the same totals as the decoder's.
    for skip_dns in [false, true] {
        let mut t = tester(skip_dns).expect("loaded once already");
        for (i, f) in frames.iter().enumerate() {
            t.run("netop_eth_ingress", f)
                .unwrap_or_else(|e| panic!("test run of frame {i} ({} bytes): {e}", f.len()));
        }
        let mut got = Totals::new();
        for d in t.deltas().expect("table read") {
            let f = [d.tcp.syn, d.tcp.fin, d.tcp.rst];
            add_total(&mut got, d.tuple, d.bytes, d.packets, f);
        }
        for f in t.dns_frames() {
            let p = decode(&ring_frame(&f)).expect("a ring frame decodes");
            assert!(p.ip.is_some(), "DNS over IP");
            add_packet_total(&mut got, &p);
        }
        assert_eq!(t.full(), 0);
        assert_eq!(got, expected, "DNS observatory on: {skip_dns}");
    }
}

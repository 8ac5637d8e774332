//! PKTAP header tests: the layout's sizes and offsets, both versions,
//! delegation, and headers cut short or full of garbage.

use std::time::Duration;

use etherparse::PacketBuilder;

use super::build::{v1, v2, Spec};
use super::*;
use crate::capture::{Frame, LinkType};
use crate::decode::decode;

fn spec() -> Spec {
    Spec {
        dlt: 1,
        ifname: "en0".into(),
        flags: FLAG_DIR_OUT,
        pid: 501,
        comm: "curl".into(),
        epid: 501,
        ecomm: "curl".into(),
    }
}

fn ipv4_tcp() -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ipv4([192, 168, 1, 20], [93, 184, 216, 34], 64)
        .tcp(50000, 443, 1, 1024)
        .write(&mut out, &[0u8; 100])
        .expect("build");
    out
}

fn ethernet(ip: &[u8]) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
    f.extend_from_slice(ip);
    f
}

fn frame(data: &[u8]) -> Frame<'_> {
    Frame {
        ts: Duration::from_secs(1),
        ifindex: None,
        link: LinkType::Pktap,
        orig_len: data.len() as u32,
        data,
    }
}

#[test]
fn layout_sizes_and_offsets_follow_xnu() {
    // struct pktap_header: 3 × uint32_t, ifname[24], 4 × uint32_t, pid_t,
    // comm[17] + pad1 + trace_tag (uint16_t), svc, iftype + ifunit, epid,
    // ecomm[17] + pad2 + pad3, flowid, ipproto, timeval32 (8), 2 × uuid_t.
    assert_eq!(IFNAME_LEN, 16 + 8);
    assert_eq!(V1_IFNAME + IFNAME_LEN, FLAGS);
    assert_eq!(FLAGS + 4 * 4, V1_PID);
    assert_eq!(V1_COMM + COMM_LEN + 1 + 2 + 4 + 2 + 2, V1_EPID);
    assert_eq!(V1_ECOMM + COMM_LEN + 1 + 2 + 4 + 4 + 8 + 16 + 16, V1_LEN);
    // struct pktap_v2_hdr: 6 × uint8_t, 5 × uint16_t, protocol_family,
    // svc, flowid, pid, e_pid, flags.
    assert_eq!(V2_DLT, 6);
    assert_eq!(V2_DLT + 5 * 2 + 3 * 4, V2_PID);
    assert_eq!(V2_E_PID + 4, FLAGS);
    assert_eq!(FLAGS + 4, V2_LEN);
    let built = v1(&spec(), &[]);
    assert_eq!(built.len(), V1_LEN);
    assert_eq!(&built[V1_IFNAME..V1_IFNAME + 4], b"en0\0");
    assert_eq!(&built[V1_PID..V1_PID + 4], &501i32.to_le_bytes());
}

#[test]
fn version_1_header_is_read() {
    let data = v1(&spec(), &[1, 2, 3]);
    let h = parse(&data).expect("header");
    assert_eq!(h.length, V1_LEN);
    assert_eq!(h.dlt, 1);
    assert_eq!(h.ifname, b"en0");
    assert_eq!(h.outgoing(), Some(true));
    assert_eq!(
        h.process(),
        Some(TapProcess {
            pid: 501,
            name: b"curl",
            delegate: None
        })
    );
}

#[test]
fn version_2_header_is_read() {
    let mut s = spec();
    s.flags = FLAG_DIR_IN;
    s.ifname = "utun3".into();
    let data = v2(&s, &[9, 9]);
    let h = parse(&data).expect("header");
    assert_eq!(h.length, V2_LEN + "utun3\0curl\0curl\0".len());
    assert_eq!(h.ifname, b"utun3");
    assert_eq!(h.comm, b"curl");
    assert_eq!(h.outgoing(), Some(false));
    assert_eq!(&data[h.length..], &[9, 9]);
}

#[test]
fn effective_process_owns_delegated_bytes() {
    let mut s = spec();
    s.pid = 310;
    s.comm = "nsurlsessiond".into();
    s.epid = 4242;
    s.ecomm = "Safari".into();
    s.flags |= FLAG_PROC_DELEGATED;
    for data in [v1(&s, &[]), v2(&s, &[])] {
        let h = parse(&data).expect("header");
        assert_eq!(
            h.process(),
            Some(TapProcess {
                pid: 4242,
                name: b"Safari",
                delegate: Some((310, b"nsurlsessiond".as_slice())),
            })
        );
    }
}

#[test]
fn no_pid_is_no_process() {
    let mut s = spec();
    s.pid = -1;
    s.epid = 0;
    let data = v1(&s, &[]);
    assert_eq!(parse(&data).expect("header").process(), None);
}

#[test]
fn long_names_stop_at_the_field() {
    let mut s = spec();
    s.comm = "a-very-long-command-name".into();
    s.ifname = "x".repeat(40);
    let data = v1(&s, &[]);
    let h = parse(&data).expect("header");
    assert_eq!(h.comm.len(), COMM_LEN - 1);
    assert_eq!(h.ifname.len(), IFNAME_LEN - 1);
}

#[test]
fn short_and_garbage_headers_are_errors() {
    let good = v1(&spec(), &ethernet(&ipv4_tcp()));
    for cut in 0..V1_LEN {
        assert!(parse(&good[..cut]).is_err(), "cut at {cut}");
    }
    let mut bad_len = good.clone();
    bad_len[0..4].copy_from_slice(&20u32.to_le_bytes());
    assert_eq!(parse(&bad_len), Err(DecodeError::Malformed));
    let mut huge = good.clone();
    huge[0..4].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(parse(&huge), Err(DecodeError::Malformed));
    let mut not_packet = good.clone();
    not_packet[4] = 0;
    assert_eq!(parse(&not_packet), Err(DecodeError::Malformed));
    let mut v2_short = v2(&spec(), &[]);
    v2_short[0] = 8;
    assert_eq!(parse(&v2_short), Err(DecodeError::Malformed));
    let mut v2_bad_offset = v2(&spec(), &[]);
    v2_bad_offset[3] = 250;
    assert_eq!(parse(&v2_bad_offset), Err(DecodeError::Malformed));
    let v2_good = v2(&spec(), &[]);
    for cut in 0..v2_good.len() {
        assert!(parse(&v2_good[..cut]).is_err(), "v2 cut at {cut}");
    }
    // Every byte value at every header position: errors or a header,
    // never a panic.
    for at in 0..V1_LEN {
        for b in [0u8, 1, 0x7f, 0x80, 0xff] {
            let mut g = good.clone();
            g[at] = b;
            let _ = decode(&frame(&g));
        }
    }
}

#[test]
fn inner_frame_is_decoded_and_its_bytes_counted() {
    let ip = ipv4_tcp();
    let eth = ethernet(&ip);
    let data = v1(&spec(), &eth);
    let p = decode(&frame(&data)).expect("decode");
    // The inner Ethernet frame's bytes, as on any Ethernet capture.
    assert_eq!(p.wire_len as usize, eth.len());
    assert_eq!(p.outgoing, Some(true));
    let ip = p.ip.expect("ip");
    assert_eq!((ip.src_port, ip.dst_port), (50000, 443));
    let tap = p.tap.expect("tap");
    assert_eq!(tap.ifname, b"en0");
    assert_eq!(tap.process.expect("process").pid, 501);
}

#[test]
fn inner_null_and_raw_frames() {
    let ip = ipv4_tcp();
    let mut null = 2u32.to_le_bytes().to_vec();
    null.extend_from_slice(&ip);
    let mut s = spec();
    s.dlt = 0;
    s.ifname = "lo0".into();
    let data = v1(&s, &null);
    let p = decode(&frame(&data)).expect("null");
    assert_eq!(p.wire_len as usize, ip.len());
    s.dlt = 12;
    s.ifname = "utun3".into();
    let data = v2(&s, &ip);
    let p = decode(&frame(&data)).expect("raw");
    assert_eq!(p.wire_len as usize, ip.len());
    assert_eq!(p.tap.expect("tap").ifname, b"utun3");
}

#[test]
fn nested_pktap_and_unknown_inner_links_are_errors() {
    let mut s = spec();
    s.dlt = 258;
    assert_eq!(
        decode(&frame(&v1(&s, &[0; 64]))),
        Err(DecodeError::Malformed)
    );
    s.dlt = 9999;
    assert_eq!(
        decode(&frame(&v1(&s, &[0; 64]))),
        Err(DecodeError::UnsupportedLink(9999))
    );
}

#[test]
fn snapped_frame_keeps_its_original_length() {
    let ip = ipv4_tcp();
    let data = v1(&spec(), &ethernet(&ip));
    let cut = &data[..V1_LEN + 14 + 40];
    let f = Frame {
        orig_len: data.len() as u32,
        ..frame(cut)
    };
    let p = decode(&f).expect("decode");
    assert_eq!(p.wire_len as usize, 14 + ip.len());
}

//! Decoder tests: each layout's sizes and offsets against the headers'
//! field lists, round trips through the fixture builders, and records cut
//! short or full of garbage (errors, never a panic).

use std::net::SocketAddr;
use std::time::Duration;

use netop_core::interfaces::KernelCounters;
use netop_core::{Protocol, TcpState};

use crate::bpf::{self, TimestampWidth};
use crate::bsdinfo;
use crate::bytes::LayoutError;
use crate::fdinfo::{self, FdEntry, IpSocket};
use crate::ifdata;
use crate::pcblist::{self, Pcb};

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("address")
}

fn tcp(local: &str, remote: &str, state: TcpState) -> IpSocket {
    IpSocket {
        proto: Protocol::Tcp,
        local: addr(local),
        remote: addr(remote),
        state,
    }
}

/// Every non-empty prefix of `bytes` shorter than `whole` fails; every byte set to
/// a few values anywhere decodes or fails, never panics.
fn cut_and_garble<T>(bytes: &[u8], whole: usize, decode: impl Fn(&[u8]) -> Result<T, LayoutError>) {
    for cut in 1..whole.min(bytes.len()) {
        assert!(decode(&bytes[..cut]).is_err(), "cut at {cut} decoded");
    }
    for at in 0..bytes.len() {
        for b in [0u8, 0x7f, 0xff] {
            let mut g = bytes.to_vec();
            g[at] = b;
            let _ = decode(&g);
        }
    }
}

#[test]
fn bpf_header_layout_and_wordalign() {
    // struct bpf_hdr with a timeval32: 4 + 4 + 4 + 4 + 2.
    assert_eq!(TimestampWidth::Bits32.header_len(), 18);
    assert_eq!(TimestampWidth::Bits64.header_len(), 26);
    assert_eq!(bpf::word_align(18), 20);
    assert_eq!(bpf::word_align(20), 20);
    assert_eq!(bpf::word_align(21), 24);
    assert_eq!(bpf::ALIGNMENT, 4);
}

#[test]
fn bpf_records_are_walked_with_their_padding() {
    for width in [TimestampWidth::Bits32, TimestampWidth::Bits64] {
        let mut buf = Vec::new();
        let ts = Duration::from_micros(1_700_000_000_123_456);
        bpf::push_record(&mut buf, width, ts, &[1; 61]);
        bpf::push_record(&mut buf, width, ts + Duration::from_millis(1), &[2; 40]);
        bpf::push_record(&mut buf, width, ts, &[3; 1]);
        let recs = bpf::records(&buf, width).expect("records");
        assert_eq!(recs.len(), 3, "{width:?}");
        assert_eq!(recs[0].data, &[1; 61][..]);
        assert_eq!(recs[0].ts, ts);
        assert_eq!(recs[1].data.len(), 40);
        assert_eq!(recs[1].ts, ts + Duration::from_millis(1));
        assert_eq!(recs[2].orig_len, 1);
        assert_eq!(bpf::records(&[], width).expect("empty"), vec![]);
        cut_and_garble(&buf, width.header_len(), |b| {
            bpf::records(b, width).map(|r| r.len())
        });
    }
    // The second record's header cut: an error naming the record.
    let mut buf = Vec::new();
    bpf::push_record(&mut buf, TimestampWidth::Bits32, Duration::ZERO, &[0; 10]);
    buf.extend_from_slice(&[0; 6]);
    assert!(matches!(
        bpf::records(&buf, TimestampWidth::Bits32),
        Err(LayoutError::Truncated {
            what: "bpf_hdr",
            ..
        })
    ));
}

#[test]
fn fd_list_decodes_whole_entries_only() {
    let entries = [
        FdEntry { fd: 0, fd_type: 1 },
        FdEntry {
            fd: 5,
            fd_type: fdinfo::PROX_FDTYPE_SOCKET,
        },
    ];
    let bytes = fdinfo::build::fd_list(&entries);
    assert_eq!(bytes.len(), 2 * fdinfo::PROC_FDINFO_LEN);
    assert_eq!(fdinfo::fd_list(&bytes).expect("list"), entries);
    assert!(fdinfo::fd_list(&bytes[..12]).is_err());
    assert_eq!(fdinfo::fd_list(&[]).expect("empty"), vec![]);
}

#[test]
fn socket_fdinfo_layout() {
    use fdinfo::offsets::*;
    // proc_fileinfo: 2 × uint32, off_t, int32, uint32.
    assert_eq!(PSI, 4 + 4 + 8 + 4 + 4);
    // vinfo_stat: uint32, 2 × uint16, uint64, 2 × uint32, 8 × int64,
    // off_t, int64, int32, 3 × uint32, 2 × int64.
    assert_eq!(
        SOI_SO - PSI,
        4 + 2 + 2 + 8 + 4 + 4 + 8 * 8 + 8 + 8 + 4 + 3 * 4 + 2 * 8
    );
    assert_eq!(SOI_PROTOCOL, SOI_SO + 8 + 8 + 4);
    assert_eq!(SOI_FAMILY, SOI_PROTOCOL + 4);
    // 7 shorts + u_short, oobmark, 2 × sockbuf_info (5 × uint32 + 2 shorts).
    assert_eq!(SOI_KIND, SOI_FAMILY + 4 + 8 * 2 + 4 + 2 * (5 * 4 + 2 * 2));
    assert_eq!(SOI_PROTO, SOI_KIND + 4 + 4);
    // in_sockinfo: 2 ints, uint64, 2 × uint32, 2 × uint8 (+2 pad), uint32.
    assert_eq!(INSI_LPORT, 4);
    assert_eq!(INSI_VFLAG, 4 + 4 + 8 + 4 + 4);
    assert_eq!(INSI_FADDR, INSI_VFLAG + 2 + 2 + 4);
    assert_eq!(INSI_LADDR, INSI_FADDR + 16);
    // insi_v4 (1, padded to 4) and insi_v6 (uint8, int, u_short, short).
    assert_eq!(TCPSI_STATE, INSI_LADDR + 16 + 4 + 12);
    // The union is as large as un_sockinfo: 2 × uint64 + 2 × 255,
    // rounded to 8.
    assert_eq!(
        fdinfo::SOCKET_FDINFO_LEN,
        SOI_PROTO + (16usize + 2 * 255).div_ceil(8) * 8
    );
}

#[test]
fn socket_fdinfo_round_trips_v4_v6_tcp_udp() {
    let cases = [
        tcp(
            "192.168.1.20:50000",
            "93.184.216.34:443",
            TcpState::Established,
        ),
        tcp(
            "[2001:db8::20]:50001",
            "[2001:db8::1]:443",
            TcpState::SynSent,
        ),
        tcp("0.0.0.0:8080", "0.0.0.0:0", TcpState::Listen),
        IpSocket {
            proto: Protocol::Udp,
            local: addr("0.0.0.0:5353"),
            remote: addr("0.0.0.0:0"),
            state: TcpState::None,
        },
    ];
    for (i, s) in cases.iter().enumerate() {
        let so = 0xffff_ff80_1234_0000 + i as u64;
        let bytes = fdinfo::build::socket_fdinfo(so, s);
        let info = fdinfo::socket_fdinfo(&bytes).expect("decode");
        assert_eq!(info.so, so);
        assert_eq!(info.ip.as_ref(), Some(s));
    }
    let unix = fdinfo::socket_fdinfo(&fdinfo::build::unix_fdinfo(7)).expect("unix");
    assert_eq!((unix.so, unix.ip), (7, None));
    let bytes = fdinfo::build::socket_fdinfo(1, &cases[0]);
    cut_and_garble(&bytes, fdinfo::SOCKET_FDINFO_LEN, fdinfo::socket_fdinfo);
    let mut bad = bytes.clone();
    bad[fdinfo::offsets::SOI_PROTO + fdinfo::offsets::INSI_VFLAG] = 0x40;
    assert!(matches!(
        fdinfo::socket_fdinfo(&bad),
        Err(LayoutError::Malformed { .. })
    ));
}

#[test]
fn bsdinfo_round_trips() {
    let bytes = bsdinfo::build(501, "curl", 1_700_000_000);
    assert_eq!(bytes.len(), bsdinfo::PROC_BSDINFO_LEN);
    let info = bsdinfo::bsdinfo(&bytes).expect("decode");
    assert_eq!(info.uid, 501);
    assert_eq!(info.name, "curl");
    assert_eq!(info.start_us, 1_700_000_000_000_000);
    assert!(!info.zombie);
    cut_and_garble(&bytes, bsdinfo::PROC_BSDINFO_LEN, bsdinfo::bsdinfo);
}

#[test]
fn pcblist_layout() {
    use pcblist::offsets::*;
    // xinpcb_n, pack(4): 2 × u_int32, u_int64, 2 × u_short, u_int64,
    // inp_gen_t, int, u_int32, 3 × u_char (+1).
    assert_eq!(INP_VFLAG, 4 + 4 + 8 + 2 + 2 + 8 + 8 + 4 + 4);
    assert_eq!(INP_FADDR, INP_VFLAG + 4);
    assert_eq!(INP_LADDR, INP_FADDR + 16);
    assert_eq!(pcblist::XINPCB_N_LEN, INP_LADDR + 16 + 4 + 12 + 4 + 4);
    // xsocket_n, pack(4): len, kind, xso_so, short (+2), u_int32, 2
    // shorts, u_int64, 2 ints, 4 shorts, u_short (+2), pgid, oobmark.
    assert_eq!(XSO_SO, 8);
    assert_eq!(SO_UID, 8 + 8 + 4 + 4 + 4 + 8 + 4 + 4 + 4 * 2 + 4 + 4 + 4);
    assert_eq!(SO_E_PID + 4, pcblist::XSOCKET_N_LEN);
    // xtcpcb_n: len, kind, t_segq, t_dupacks, t_timer[4].
    assert_eq!(T_STATE, 4 + 4 + 8 + 4 + 4 * 4);
    assert_eq!(T_SRTT, T_STATE + 4 * 3 + 4 * 12 + 4 * 4 + 4 * 6);
    // t_srtt .. t_softerror (7 ints), 6 chars (+2), 8 × u_int32.
    assert_eq!(pcblist::XTCPCB_N_LEN, T_SRTT + 7 * 4 + 6 + 2 + 8 * 4);
}

#[test]
fn pcblist_round_trips_and_rejects_bad_buffers() {
    let pcbs = vec![
        Pcb {
            proto: Protocol::Tcp,
            local: addr("192.168.1.20:50000"),
            remote: addr("93.184.216.34:443"),
            state: TcpState::Established,
            so: 0xffff_ff80_0000_1000,
            uid: 501,
            rtt_us: Some(12_000),
            last_pid: 4242,
            e_pid: 4242,
        },
        Pcb {
            proto: Protocol::Tcp,
            local: addr("[::]:22"),
            remote: addr("[::]:0"),
            state: TcpState::Listen,
            so: 0xffff_ff80_0000_2000,
            uid: 0,
            rtt_us: None,
            last_pid: 1,
            e_pid: 1,
        },
    ];
    let bytes = pcblist::build(&pcbs);
    assert_eq!(pcblist::parse(&bytes, Protocol::Tcp).expect("parse"), pcbs);
    let udp = vec![Pcb {
        proto: Protocol::Udp,
        state: TcpState::None,
        rtt_us: None,
        ..pcbs[0].clone()
    }];
    assert_eq!(
        pcblist::parse(&pcblist::build(&udp), Protocol::Udp).expect("udp"),
        udp
    );
    // An empty table: the two xinpgen only.
    assert_eq!(
        pcblist::parse(&pcblist::build(&[]), Protocol::Tcp).expect("empty"),
        vec![]
    );
    cut_and_garble(&bytes, pcblist::XINPGEN_LEN, |b| {
        pcblist::parse(b, Protocol::Tcp)
    });
    // Cut inside the first socket's items.
    assert!(pcblist::parse(&bytes[..150], Protocol::Tcp).is_err());
    let mut bad_len = bytes.clone();
    bad_len[0..4].copy_from_slice(&4u32.to_le_bytes());
    assert!(pcblist::parse(&bad_len, Protocol::Tcp).is_err());
}

#[test]
fn if_data_32_and_64_bit_counters() {
    let c = KernelCounters {
        rx_bytes: 5_000_000_123,
        tx_bytes: 1234,
        rx_packets: 10,
        tx_packets: 20,
        rx_errors: 1,
        tx_errors: 2,
        rx_dropped: 3,
        tx_dropped: 0,
    };
    let wide = ifdata::if_data64(&ifdata::build64(&c)).expect("64");
    assert_eq!(wide, c);
    let narrow = ifdata::if_data(&ifdata::build(&c)).expect("32");
    assert_eq!(
        narrow.rx_bytes,
        5_000_000_123 % (1 << 32),
        "if_data wraps at 4 GiB"
    );
    assert_eq!(narrow.tx_packets, 20);
    assert_eq!(ifdata::IF_DATA_LEN, 8 + 3 * 4 + 13 * 4 + 8 + 4 * 4);
    assert_eq!(ifdata::IF_DATA64_LEN, 8 + 2 * 4 + 12 * 8 + 2 * 4 + 8);
    cut_and_garble(&ifdata::build(&c), ifdata::IF_DATA_LEN, ifdata::if_data);
    cut_and_garble(
        &ifdata::build64(&c),
        ifdata::IF_DATA64_LEN,
        ifdata::if_data64,
    );
}

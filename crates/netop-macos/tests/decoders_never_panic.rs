//! Every decoder of a macOS layout on arbitrary bytes, and on valid
//! records with arbitrary bytes overwritten: an error or a value, never a
//! panic (the kernel's answers are trusted no more than packets are).

use netop_core::Protocol;
use netop_macos::bpf::{self, TimestampWidth};
use netop_macos::{bsdinfo, fdinfo, ifdata, pcblist, sockaddr};
use proptest::prelude::*;

/// A valid pcblist of two TCP sockets, to mutate.
fn valid_pcblist() -> Vec<u8> {
    let pcb = |port: u16, so: u64| pcblist::Pcb {
        proto: Protocol::Tcp,
        local: format!("192.168.1.20:{port}").parse().expect("addr"),
        remote: "93.184.216.34:443".parse().expect("addr"),
        state: netop_core::TcpState::Established,
        so,
        uid: 501,
        rtt_us: Some(9_000),
        last_pid: 1,
        e_pid: 1,
    };
    pcblist::build(&[pcb(50000, 1), pcb(50001, 2)])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..1200)) {
        let _ = bpf::records(&data, TimestampWidth::Bits32);
        let _ = bpf::records(&data, TimestampWidth::Bits64);
        let _ = fdinfo::fd_list(&data);
        let _ = fdinfo::socket_fdinfo(&data);
        let _ = bsdinfo::bsdinfo(&data);
        let _ = pcblist::parse(&data, Protocol::Tcp);
        let _ = pcblist::parse(&data, Protocol::Udp);
        let _ = ifdata::if_data(&data);
        let _ = ifdata::if_data64(&data);
        let _ = sockaddr::parse(&data);
    }

    #[test]
    fn mutated_pcblist(edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..16),
                       cut in any::<usize>()) {
        let mut data = valid_pcblist();
        for (at, b) in edits {
            let i = at % data.len();
            data[i] = b;
        }
        let cut = cut % (data.len() + 1);
        let _ = pcblist::parse(&data[..cut], Protocol::Tcp);
    }
}

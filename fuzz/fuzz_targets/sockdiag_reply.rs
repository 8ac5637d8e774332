//! A NETLINK_SOCK_DIAG reply datagram (several messages, attributes,
//! tcp_info), for TCP and UDP.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netop_core::Protocol;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, bytes)) = data.split_first() else {
        return;
    };
    let proto = if pick & 1 == 0 {
        Protocol::Tcp
    } else {
        Protocol::Udp
    };
    let _ = netop_linux::sockdiag::decode_reply(bytes, proto);
});

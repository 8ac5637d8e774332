//! Link layers, IP, TCP and UDP: one frame of any link type netop reads,
//! PKTAP (macOS's header naming interface and process) included.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use netop_core::decode::decode;
use netop_core::{Frame, LinkType};

const LINKS: [LinkType; 8] = [
    LinkType::Ethernet,
    LinkType::LinuxSll,
    LinkType::LinuxSll2,
    LinkType::RawIp,
    LinkType::Null,
    LinkType::Loop,
    LinkType::Other(147),
    LinkType::Pktap,
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, bytes)) = data.split_first() else {
        return;
    };
    let frame = Frame {
        ts: Duration::from_secs(1_700_000_000),
        ifindex: Some(2),
        link: LINKS[usize::from(pick) % LINKS.len()],
        orig_len: u32::try_from(bytes.len()).unwrap_or(u32::MAX),
        data: bytes,
    };
    let _ = decode(&frame);
});

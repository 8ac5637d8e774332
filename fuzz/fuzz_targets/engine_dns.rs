//! Frames through the whole engine with the DNS observatory on: DNS over
//! UDP, and over TCP with the stream reassembly. The input is a sequence
//! of cooked-v2 frames, each prefixed by a 2-byte length.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use netop_core::testing::StaticResolver;
use netop_core::{Engine, EngineConfig, Frame, LinkType};

fuzz_target!(|data: &[u8]| {
    let mut engine = Engine::new(EngineConfig {
        dns: Some(netop_core::dns::DnsConfig::default()),
        ..EngineConfig::default()
    });
    let mut resolver = StaticResolver::new(Vec::new());
    let mut rest = data;
    let mut ms = 0u64;
    while rest.len() >= 2 {
        let len = usize::from(u16::from_le_bytes([rest[0], rest[1]])).min(rest.len() - 2);
        let bytes = &rest[2..2 + len];
        rest = &rest[2 + len..];
        ms += 7;
        let frame = Frame {
            ts: Duration::from_millis(1_700_000_000_000 + ms),
            ifindex: None,
            link: LinkType::LinuxSll2,
            orig_len: u32::try_from(len).unwrap_or(u32::MAX),
            data: bytes,
        };
        engine.ingest_resolved(&frame, &mut resolver);
    }
    let _ = engine.report();
});

//! Port 53 carries whatever anyone sends: random bytes and mutated real
//! messages go through the parser and the whole engine path (UDP and TCP)
//! and must neither panic nor grow the tables past their limits. Bounded
//! case counts keep this to about a second.

use std::time::Duration;

use hickory_proto::rr::RecordType;
use proptest::prelude::*;

use super::fixtures::{self, Data, Flags};
use super::*;
use crate::testing::{socket, StaticResolver};
use crate::{Engine, EngineConfig, InterfaceInfo, Protocol};

fn seeds() -> Vec<Vec<u8>> {
    let ip = |s: &str| s.parse().expect("ip");
    vec![
        fixtures::query(1, "example.com", RecordType::A),
        fixtures::response(
            1,
            "www.example.com",
            RecordType::A,
            0,
            &[
                ("www.example.com", 60, Data::Cname("edge.example.net")),
                ("edge.example.net", 60, Data::Addr(ip("192.0.2.1"))),
                ("edge.example.net", 60, Data::Addr(ip("2001:db8::1"))),
            ],
        ),
        fixtures::response(
            2,
            "example.com",
            RecordType::MX,
            0,
            &[("example.com", 60, Data::Mx(5, "mx.example.com"))],
        ),
        fixtures::response(3, "nope.example", RecordType::A, 3, &[]),
    ]
}

/// A seed message with some bytes overwritten, some cut off.
fn mutated() -> impl Strategy<Value = Vec<u8>> {
    (
        0..4usize,
        prop::collection::vec((any::<u16>(), any::<u8>()), 0..8),
        any::<u16>(),
    )
        .prop_map(|(i, edits, cut)| {
            let mut m = seeds()[i].clone();
            for (at, byte) in edits {
                let len = m.len();
                m[usize::from(at) % len] = byte;
            }
            let keep = usize::from(cut) % (m.len() + 1);
            if cut % 3 == 0 {
                m.truncate(keep);
            }
            m
        })
}

fn payload() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![prop::collection::vec(any::<u8>(), 0..600), mutated()]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1_000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_parser_never_panics(bytes in payload()) {
        if let Ok(m) = parse_message(&bytes) {
            prop_assert!(m.answers.len() <= message::MAX_ANSWERS);
        }
    }

    #[test]
    fn the_engine_path_never_panics_and_stays_bounded(
        packets in prop::collection::vec((payload(), any::<bool>(), any::<bool>(), any::<u32>()), 1..40)
    ) {
        let config = DnsConfig { log_capacity: 16, max_pending: 8, max_names: 8, max_tcp_streams: 2, ..DnsConfig::default() };
        let mut e = Engine::new(EngineConfig { dns: Some(config), ..EngineConfig::default() });
        e.set_interfaces(&[InterfaceInfo { index: 2, name: "eth0".into(), up: true, addrs: vec!["10.0.0.1".parse().expect("ip")], ..Default::default() }]);
        let mut r = StaticResolver::new(vec![socket(Protocol::Udp, "10.0.0.1:40000", "10.0.0.53:53", 1, "app")]);
        let t0 = Duration::from_secs(1_700_000_000);
        for (i, (bytes, tcp, outbound, seq)) in packets.iter().enumerate() {
            let ts = t0 + Duration::from_millis(i as u64 * 10);
            let (src, dst) = if *outbound { ("10.0.0.1:40000", "10.0.0.53:53") } else { ("10.0.0.53:53", "10.0.0.1:40000") };
            let frame = if *tcp {
                fixtures::tcp(ts, 2, src, dst, *seq % 4, Flags::default(), &fixtures::framed(bytes))
            } else {
                fixtures::udp(ts, 2, src, dst, bytes)
            };
            e.ingest_resolved(&frame.as_frame(), &mut r);
        }
        e.expire(t0 + Duration::from_secs(10));
        let dns = e.dns().expect("dns on");
        let (log, pending, names, streams) = dns.sizes();
        prop_assert!(log <= 16 && pending <= 8 && names <= 8 && streams <= 2);
        prop_assert_eq!(pending, 0, "everything timed out");
    }
}

//! Decode plus flow update per packet, over a synthetic mix of 1,000 flows
//! (IPv4 and IPv6, TCP and UDP, both directions), all attributed, as a
//! capture on `any` delivers them. Run: `cargo xtask bench`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use netop_core::decode::decode;
use netop_core::testing::{socket, OwnedFrame, PacketSpec, StaticResolver};
use netop_core::{Engine, EngineConfig, InterfaceInfo, Protocol, SocketResolver};

const FLOWS: usize = 1_000;
const FRAMES: usize = 10_000;

fn mix() -> (Vec<OwnedFrame>, StaticResolver) {
    let mut frames = Vec::with_capacity(FRAMES);
    let mut sockets = Vec::with_capacity(FLOWS);
    let specs: Vec<(PacketSpec, PacketSpec)> = (0..FLOWS)
        .map(|i| {
            let port = 20_000 + i as u16;
            let (local, remote) = if i % 5 == 4 {
                (
                    format!("[2001:db8::10]:{port}"),
                    format!("[2001:db8::{:x}]:443", i + 1),
                )
            } else {
                (
                    format!("192.0.2.10:{port}"),
                    format!("198.51.{}.{}:443", i / 250, i % 250 + 1),
                )
            };
            let proto = if i % 5 == 3 {
                Protocol::Udp
            } else {
                Protocol::Tcp
            };
            sockets.push(socket(proto, &local, &remote, 100 + (i % 50) as u32, "app"));
            let (out, back) = if proto == Protocol::Udp {
                (
                    PacketSpec::udp(&local, &remote, 100),
                    PacketSpec::udp(&remote, &local, 500),
                )
            } else {
                (
                    PacketSpec::tcp(&local, &remote, 0),
                    PacketSpec::tcp(&remote, &local, 1400),
                )
            };
            (out, back)
        })
        .collect();
    for n in 0..FRAMES {
        let (out, back) = &specs[(n * 7919) % FLOWS];
        let ts = Duration::from_micros(1_700_000_000_000_000 + n as u64 * 10);
        frames.push(if n % 3 == 0 {
            out.sll2(ts, 2, true, 128)
        } else {
            back.sll2(ts, 2, false, 128)
        });
    }
    (frames, StaticResolver::new(sockets))
}

fn interfaces() -> Vec<InterfaceInfo> {
    vec![InterfaceInfo {
        index: 2,
        name: "eth0".into(),
        up: true,
        addrs: vec![
            "192.0.2.10".parse().expect("ip"),
            "2001:db8::10".parse().expect("ip"),
        ],
        ..Default::default()
    }]
}

fn bench(c: &mut Criterion) {
    let (frames, mut resolver) = mix();
    let mut group = c.benchmark_group("per_packet");
    group.throughput(Throughput::Elements(frames.len() as u64));

    group.bench_function("decode_only", |b| {
        b.iter(|| {
            for f in &frames {
                let _ = black_box(decode(&f.as_frame()));
            }
        })
    });

    let mut engine = Engine::new(EngineConfig::default());
    engine.set_interfaces(&interfaces());
    engine.refresh(resolver.sockets().expect("table"));
    // Warm: every flow exists and is attributed.
    for f in &frames {
        engine.ingest_resolved(&f.as_frame(), &mut resolver);
    }
    assert_eq!(engine.flow_count(), FLOWS);
    group.bench_function("decode_and_flow_update_1000_flows", |b| {
        b.iter(|| {
            for f in &frames {
                engine.ingest(black_box(&f.as_frame()));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

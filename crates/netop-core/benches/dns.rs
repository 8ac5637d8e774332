//! DNS costs: parsing one message (a query; a response with four A
//! records), and the whole engine path of one query/answer exchange
//! (decode, flow update, attribution lookup, parse, match, log, names)
//! over 1,000 clients in a ring of 10,000 log entries. Run:
//! `cargo bench -p netop-core --features testing --bench dns`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use hickory_proto::rr::RecordType;
use netop_core::dns::fixtures::{self, Data};
use netop_core::dns::parse_message;
use netop_core::testing::{socket, OwnedFrame, StaticResolver};
use netop_core::{Engine, EngineConfig, InterfaceInfo, Protocol};

const CLIENTS: u16 = 1_000;

fn four_a() -> Vec<u8> {
    let answers: Vec<(&str, u32, Data)> = (1..=4)
        .map(|i| {
            (
                "www.example.com",
                300,
                Data::Addr(format!("192.0.2.{i}").parse().expect("ip")),
            )
        })
        .collect();
    fixtures::response(0x1234, "www.example.com", RecordType::A, 0, &answers)
}

fn parse(c: &mut Criterion) {
    let query = fixtures::query(0x1234, "www.example.com", RecordType::A);
    let response = four_a();
    let mut g = c.benchmark_group("dns_parse");
    g.throughput(Throughput::Elements(1));
    g.bench_function("query", |b| b.iter(|| parse_message(black_box(&query))));
    g.bench_function("response_4_a", |b| {
        b.iter(|| parse_message(black_box(&response)))
    });
    g.finish();
}

fn exchanges() -> (Vec<OwnedFrame>, StaticResolver) {
    let mut frames = Vec::new();
    let mut sockets = Vec::new();
    let server = "192.0.2.53:53";
    for i in 0..CLIENTS {
        let client = format!("192.0.2.10:{}", 30_000 + i);
        sockets.push(socket(
            Protocol::Udp,
            &client,
            server,
            100 + u32::from(i % 50),
            "app",
        ));
        let name = format!("host{i}.example.com");
        let t = Duration::from_secs(1_700_000_000) + Duration::from_micros(u64::from(i) * 100);
        frames.push(fixtures::udp(
            t,
            2,
            &client,
            server,
            &fixtures::query(i, &name, RecordType::A),
        ));
        let answers: Vec<(&str, u32, Data)> = (1..=4)
            .map(|k| {
                (
                    name.as_str(),
                    300,
                    Data::Addr(format!("198.51.100.{k}").parse().expect("ip")),
                )
            })
            .collect();
        frames.push(fixtures::udp(
            t + Duration::from_micros(50),
            2,
            server,
            &client,
            &fixtures::response(i, &name, RecordType::A, 0, &answers),
        ));
    }
    (frames, StaticResolver::new(sockets))
}

fn engine_path(c: &mut Criterion) {
    let (frames, mut resolver) = exchanges();
    let mut engine = Engine::new(EngineConfig::default());
    engine.set_interfaces(&[InterfaceInfo {
        index: 2,
        name: "eth0".into(),
        up: true,
        addrs: vec!["192.0.2.10".parse().expect("ip")],
        ..Default::default()
    }]);
    // Warm: flows exist and the log ring is full, as in a long run.
    for _ in 0..6 {
        for f in &frames {
            engine.ingest_resolved(&f.as_frame(), &mut resolver);
        }
    }
    let mut g = c.benchmark_group("dns_engine");
    g.throughput(Throughput::Elements(frames.len() as u64));
    g.bench_function("messages_1000_clients", |b| {
        b.iter(|| {
            for f in &frames {
                engine.ingest(black_box(&f.as_frame()));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, parse, engine_path);
criterion_main!(benches);

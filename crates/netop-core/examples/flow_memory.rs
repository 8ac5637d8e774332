//! Peak memory of the engine holding 10,000 concurrent attributed flows.
//! Prints the process's peak RSS (VmHWM) before and after. Run:
//! `cargo run --release -p netop-core --features testing --example flow_memory`.

use std::time::Duration;

use netop_core::testing::{socket, PacketSpec, StaticResolver};
use netop_core::{Engine, EngineConfig, InterfaceInfo, Protocol, SocketResolver};

const FLOWS: usize = 10_000;

fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    let before = vm_hwm_kib();
    let mut sockets = Vec::with_capacity(FLOWS);
    let mut engine = Engine::new(EngineConfig::default());
    engine.set_interfaces(&[InterfaceInfo {
        index: 2,
        name: "eth0".into(),
        up: true,
        addrs: vec!["192.0.2.10".parse().expect("ip")],
        ..Default::default()
    }]);
    let specs: Vec<PacketSpec> = (0..FLOWS)
        .map(|i| {
            let local = format!("192.0.2.10:{}", 10_000 + i);
            let remote = format!("198.51.{}.{}:443", i / 250, i % 250 + 1);
            sockets.push(socket(
                Protocol::Tcp,
                &local,
                &remote,
                100 + (i % 500) as u32,
                "app",
            ));
            PacketSpec::tcp(&remote, &local, 1400)
        })
        .collect();
    let mut resolver = StaticResolver::new(sockets);
    engine.refresh(resolver.sockets().expect("table"));
    // The fake resolver keeps two copies of the table; drop them so only
    // what a real run holds (the engine's own table) is measured.
    resolver.dump.clear();
    resolver.live.clear();
    let with_table = vm_hwm_kib();
    // Each flow sees packets over 60 seconds, so every history slot is live.
    for sec in 0..60u64 {
        for spec in &specs {
            let f = spec.sll2(Duration::from_secs(1_700_000_000 + sec), 2, false, 128);
            engine.ingest_resolved(&f.as_frame(), &mut resolver);
        }
    }
    let report = engine.report();
    println!(
        "flows={} processes={} peak_rss_kib: start={before} with_socket_table={with_table} with_flows={}",
        engine.flow_count(),
        report.processes.len(),
        vm_hwm_kib()
    );
}

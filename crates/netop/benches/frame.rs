//! Cost of one monitor frame with 10,000 connections: the capture thread
//! building the report from the engine, and the screen applying it and
//! drawing the Process and Connection views (the expensive ones: they sort
//! and filter every row) into a 200x50 buffer.
//!
//! The iftop-style layout (issue 14) is measured too: its 2/10/40 s
//! columns are means of each row's per-second history, computed while
//! drawing (nothing is added per packet), with a pinned process, an
//! alert threshold that some rows cross, and service names.
//!
//! `cargo bench -p netop --bench frame`

use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use netop::tui::{self, AppState, Event, Settings, SortColumn};
use netop_core::testing::{socket, PacketSpec, StaticResolver};
use netop_core::{Engine, EngineConfig, InterfaceInfo, Protocol, SocketResolver};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

const CONNECTIONS: u32 = 10_000;
const PROCESSES: u32 = 500;
const NOW: u64 = 1_700_000_100;

/// An engine with `CONNECTIONS` TCP connections spread over `PROCESSES`
/// processes, each having sent and received a few packets in the last
/// seconds.
fn engine() -> Engine {
    let local = |i: u32| {
        format!(
            "10.0.{}.{}:{}",
            i / 250 % 250,
            i % 250 + 1,
            20_000 + i % 40_000
        )
    };
    let remote = |i: u32| format!("192.0.{}.{}:443", i / 200 % 200, i % 200 + 1);
    let sockets = (0..CONNECTIONS)
        .map(|i| {
            let mut s = socket(
                Protocol::Tcp,
                &local(i),
                &remote(i),
                1000 + i % PROCESSES,
                "proc",
            );
            s.inode = u64::from(i) + 1;
            s.owner
                .as_mut()
                .map(std::sync::Arc::make_mut)
                .expect("owner")
                .name = format!("proc{}", i % PROCESSES);
            s
        })
        .collect();
    let mut r = StaticResolver::new(sockets);
    let mut e = Engine::new(EngineConfig {
        dns: None,
        ..EngineConfig::default()
    });
    let addrs = (0..CONNECTIONS)
        .map(|i| {
            local(i)
                .rsplit_once(':')
                .expect("port")
                .0
                .parse()
                .expect("ip")
        })
        .collect::<std::collections::BTreeSet<std::net::IpAddr>>();
    e.set_interfaces(&[InterfaceInfo {
        index: 2,
        name: "eth0".into(),
        up: true,
        addrs: addrs.into_iter().collect(),
        ..Default::default()
    }]);
    e.refresh(r.sockets().expect("table"));
    for sec in 0..3u64 {
        for i in 0..CONNECTIONS {
            let ts = Duration::from_secs(NOW - 2 + sec) + Duration::from_micros(u64::from(i));
            let out = PacketSpec::tcp(&local(i), &remote(i), 100 + (i as usize % 1000));
            let back = PacketSpec::tcp(&remote(i), &local(i), 1400);
            e.ingest_resolved(&out.sll2(ts, 2, true, 128).as_frame(), &mut r);
            e.ingest_resolved(&back.sll2(ts, 2, false, 128).as_frame(), &mut r);
        }
    }
    e
}

fn frame(c: &mut Criterion) {
    let engine = engine();
    let report = Arc::new(engine.live_report(NOW, 1));
    assert_eq!(report.connections.len(), CONNECTIONS as usize);
    let mut group = c.benchmark_group("monitor_10k_connections");
    group.sample_size(30);
    group.bench_function("build_report", |b| b.iter(|| engine.live_report(NOW, 1)));
    let settings = Settings {
        sort: SortColumn::Traffic,
        filter: None,
        interval: Duration::from_secs(1),
        color: true,
        dns: false,
        utc_offset: 0,
        interface: None,
        containers: false,
        owners: None,
        counting: netop_core::Counting::Packets,
        theme: "default".into(),
        pins: Default::default(),
        alerts: Default::default(),
        exclude: Vec::new(),
        services: Arc::new(tui::services::Services::builtin()),
        columns: Default::default(),
    };
    let mut power = settings.clone();
    power.pins.processes.insert("proc7".into());
    power.alerts.rate = Some(1_000);
    let mut terminal = Terminal::new(TestBackend::new(200, 50)).expect("terminal");
    let cases = [
        ("process_view", "1", &settings),
        ("connection_view", "2", &settings),
        ("process_view_windows_pins_alerts", "1w", &power),
        ("connection_view_windows_pins_alerts", "2w", &power),
    ];
    for (name, keys, settings) in cases {
        let mut state = AppState::new(settings.clone(), (200, 50));
        for key in keys.chars() {
            tui::update(
                &mut state,
                Event::Key(crossterm::event::KeyEvent::from(
                    crossterm::event::KeyCode::Char(key),
                )),
            );
        }
        group.bench_function(format!("apply_and_draw_{name}"), |b| {
            b.iter(|| {
                tui::update(&mut state, Event::Report(Arc::clone(&report)));
                terminal.draw(|f| tui::render(&state, f)).expect("draw");
            })
        });
    }
    group.finish();
}

criterion_group!(benches, frame);
criterion_main!(benches);

//! A fixed scene for the monitor's tests: packets and sockets fed through
//! the core's fakes (`ReplayCapture`-style frames into a real [`Engine`],
//! a `StaticResolver` for sockets) and a DNS log, at fixed timestamps, so
//! every figure on screen is one the engine computed.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use netop_core::dns::{QueryRecord, QueryStatus, ResolverStats};
use netop_core::engine::{LiveDns, LiveReport};
use netop_core::interfaces::KernelCounters;
use netop_core::testing::{socket, PacketSpec, StaticResolver};
use netop_core::{
    Container, Engine, EngineConfig, InterfaceInfo, Protocol, SocketResolver, TcpState,
};

use super::state::{AppState, Event, Settings, SortColumn};

/// The second the scene's rates end at.
pub const NOW: u64 = 1_700_000_100;

fn interfaces() -> Vec<InterfaceInfo> {
    vec![
        InterfaceInfo {
            index: 1,
            name: "lo".into(),
            up: true,
            addrs: vec!["127.0.0.1".parse().expect("ip"), "::1".parse().expect("ip")],
            kernel: Some(KernelCounters {
                rx_packets: 50_000,
                tx_packets: 50_000,
                ..KernelCounters::default()
            }),
            dns_servers: Vec::new(),
            mac: None,
        },
        InterfaceInfo {
            index: 2,
            name: "eth0".into(),
            up: true,
            addrs: vec![
                "192.168.1.100".parse().expect("ip"),
                "fe80::1a2b:3c4d:5e6f:7890".parse().expect("ip"),
            ],
            kernel: Some(KernelCounters {
                rx_packets: 1_234_567,
                tx_packets: 234_567,
                rx_errors: 2,
                ..KernelCounters::default()
            }),
            dns_servers: vec!["192.168.1.1".parse().expect("ip")],
            mac: None,
        },
    ]
}

fn sockets() -> Vec<netop_core::SocketEntry> {
    let mut all = Vec::new();
    let mut add = |proto, local: &str, remote: &str, pid, name: &str, state: TcpState| {
        let mut s = socket(proto, local, remote, pid, name);
        s.inode = 100 + all.len() as u64;
        // fds from 5, as in the guide's tree; the last socket's is unknown.
        s.fd = (all.len() < 12).then(|| 5 + all.len() as u32);
        s.state = state;
        if proto == Protocol::Tcp && state == TcpState::Established {
            s.rtt_us = Some(12_000 + 1_000 * all.len() as u32);
            s.retrans = Some(all.len() as u32 % 3);
        }
        all.push(s);
    };
    let est = TcpState::Established;
    add(
        Protocol::Tcp,
        "192.168.1.100:54321",
        "140.82.121.4:443",
        1842,
        "firefox",
        est,
    );
    add(
        Protocol::Tcp,
        "192.168.1.100:54322",
        "151.101.1.69:443",
        1842,
        "firefox",
        est,
    );
    add(
        Protocol::Udp,
        "192.168.1.100:51234",
        "192.168.1.1:53",
        1842,
        "firefox",
        TcpState::None,
    );
    add(
        Protocol::Tcp,
        "192.168.1.100:54400",
        "93.184.216.34:443",
        2103,
        "curl",
        est,
    );
    add(
        Protocol::Tcp,
        "0.0.0.0:3000",
        "0.0.0.0:0",
        3000,
        "node",
        TcpState::Listen,
    );
    add(
        Protocol::Tcp,
        "192.168.1.100:3000",
        "10.0.0.5:49201",
        3000,
        "node",
        est,
    );
    add(
        Protocol::Tcp,
        "0.0.0.0:22",
        "0.0.0.0:0",
        612,
        "sshd",
        TcpState::Listen,
    );
    // Containers, shown only with `--containers`: node in Docker, curl in
    // an LXC container with a name too long for its cell.
    for s in &mut all {
        if let Some(owner) = s.owner.as_mut().map(std::sync::Arc::make_mut) {
            owner.container = match owner.pid {
                3000 => Some(("docker", "3f2a1b4c5d6e")),
                2103 => Some(("lxc", "build-runner-with-a-long-name")),
                _ => None,
            }
            .map(|(runtime, name)| Container {
                runtime: runtime.into(),
                name: name.into(),
            });
        }
    }
    all
}

/// (local, remote, bytes out per second, bytes in per second, opened by us)
const TRAFFIC: [(&str, &str, usize, usize, bool); 6] = [
    (
        "192.168.1.100:54321",
        "140.82.121.4:443",
        200_000,
        1_200_000,
        true,
    ),
    (
        "192.168.1.100:54322",
        "151.101.1.69:443",
        140_000,
        800_000,
        true,
    ),
    ("192.168.1.100:51234", "192.168.1.1:53", 600, 900, true),
    (
        "192.168.1.100:54400",
        "93.184.216.34:443",
        12_000,
        512_000,
        true,
    ),
    (
        "192.168.1.100:3000",
        "10.0.0.5:49201",
        1_500_000,
        50_000,
        false,
    ),
    // Nobody's socket: unknown traffic.
    ("192.168.1.100:7777", "203.0.113.9:5000", 300, 300, false),
];

/// Feeds `TRAFFIC` for the 20 seconds before [`NOW`], rising over time so
/// the sparklines have a shape: second `i` carries `(i + 1) / 20` of the
/// full rate.
pub fn engine() -> Engine {
    let mut r = StaticResolver::new(sockets());
    let mut e = Engine::new(EngineConfig::default());
    e.set_interfaces(&interfaces());
    e.refresh(r.sockets().expect("static table"));
    for i in 0..20u64 {
        let sec = NOW - 19 + i;
        for (local, remote, out, back, ours) in TRAFFIC {
            let scale = |n: usize| n * (i as usize + 1) / 20;
            // Packets of at most 1400 payload bytes.
            let mut send = |src: &str, dst: &str, total: usize, outgoing: bool, first: u64| {
                let mut left = total;
                let mut n = 0u64;
                while left > 0 {
                    let chunk = left.min(1400);
                    let spec = PacketSpec::tcp(src, dst, chunk);
                    let spec = if remote.ends_with(":53") {
                        PacketSpec::udp(src, dst, chunk)
                    } else {
                        spec
                    };
                    let ts = Duration::from_secs(sec) + Duration::from_micros(first + n);
                    e.ingest_resolved(&spec.sll2(ts, 2, outgoing, 128).as_frame(), &mut r);
                    left -= chunk;
                    n += 1;
                }
            };
            // Whoever opened the flow sends first.
            if ours {
                send(local, remote, scale(out), true, 0);
                send(remote, local, scale(back), false, 500_000);
            } else {
                send(remote, local, scale(back), false, 0);
                send(local, remote, scale(out), true, 500_000);
            }
        }
    }
    e
}

fn query(
    seq: u64,
    at: u64,
    pid: Option<u32>,
    name: &str,
    qtype: &str,
    (response, status, ms): (&str, QueryStatus, u64),
) -> QueryRecord {
    let resolver: SocketAddr = "192.168.1.1:53".parse().expect("addr");
    QueryRecord {
        seq,
        ts: Duration::from_secs(at),
        pid,
        process: match pid {
            Some(1842) => "firefox",
            Some(2103) => "curl",
            Some(3000) => "node",
            _ => "unknown",
        }
        .to_string(),
        name: name.to_string(),
        qtype: qtype.to_string(),
        response: response.to_string(),
        status,
        latency: Some(Duration::from_millis(ms)),
        resolver,
        client: "192.168.1.100:51234".parse().expect("addr"),
        ifindex: 2,
        tcp: false,
        retransmits: 0,
        upstream: None,
        downstream: None,
    }
}

fn dns() -> LiveDns {
    use QueryStatus::*;
    LiveDns {
        resolvers: vec![ResolverStats {
            ifindex: 2,
            interface: "eth0".into(),
            server: "192.168.1.1".parse().expect("ip"),
            configured: true,
            queries: 5,
            answered: 5,
            timeouts: 0,
            failures: 0,
            avg_latency: Some(Duration::from_micros(22_400)),
            p95_latency: Some(Duration::from_millis(45)),
        }],
        log: vec![
            query(
                1,
                NOW - 9,
                Some(1842),
                "github.com",
                "A",
                ("140.82.121.4", Answered, 12),
            ),
            query(
                2,
                NOW - 9,
                Some(1842),
                "api.github.com",
                "AAAA",
                ("2606:50c0:8003::154", Answered, 15),
            ),
            query(
                3,
                NOW - 8,
                Some(2103),
                "example.com",
                "A",
                ("93.184.216.34", Answered, 18),
            ),
            query(
                4,
                NOW - 7,
                Some(3000),
                "nonexistent.local",
                "A",
                ("NXDOMAIN", NxDomain, 45),
            ),
            query(
                5,
                NOW - 7,
                None,
                "telemetry.example.com",
                "A",
                ("203.0.113.50", Answered, 22),
            ),
        ],
    }
}

/// The scene as the capture thread would send it (built once: feeding
/// the engine is most of a test's time in a debug build).
pub fn report() -> Arc<LiveReport> {
    static REPORT: OnceLock<Arc<LiveReport>> = OnceLock::new();
    let report = REPORT.get_or_init(|| {
        let mut report = engine().live_report(NOW, 1);
        report.dns = Some(dns());
        Arc::new(report)
    });
    Arc::clone(report)
}

pub fn settings() -> Settings {
    Settings {
        sort: SortColumn::Traffic,
        filter: None,
        interval: Duration::from_secs(1),
        color: true,
        dns: true,
        utc_offset: 0,
        interface: None,
        containers: false,
        owners: None,
        counting: netop_core::Counting::Packets,
        theme: "default".into(),
        pins: Default::default(),
        alerts: Default::default(),
        exclude: Vec::new(),
        services: std::sync::Arc::new(super::services::Services::builtin()),
        columns: Default::default(),
    }
}

/// A state of `size` that has received the scene.
pub fn state(size: (u16, u16)) -> AppState {
    let mut state = AppState::new(settings(), size);
    super::state::update(&mut state, Event::Report(report()));
    state
}

//! The library's API over the core's fakes (no privileges): figures per
//! interface, watching, children, ports, reports, errors, stopping.

use std::net::IpAddr;
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use netop_core::testing::{socket, OwnedFrame, PacketSpec, ReplayCapture, StaticResolver};
use netop_core::{
    Backend, Capture, CaptureError, CaptureStats, HostInterfaces, InterfaceInfo, OpenError,
    OwnerMode, Poll, Protocol, ResolveError, SocketEntry, TcpState,
};

use crate::{Error, Monitor, Options, Proto, Traffic};

#[derive(Debug)]
struct Host;

impl HostInterfaces for Host {
    fn interfaces(&mut self) -> Result<Vec<InterfaceInfo>, ResolveError> {
        let iface = |index, name: &str, addr: &str| InterfaceInfo {
            index,
            name: name.into(),
            up: true,
            addrs: vec![addr.parse::<IpAddr>().expect("ip")],
            ..Default::default()
        };
        Ok(vec![
            iface(1, "lo", "127.0.0.1"),
            iface(2, "eth0", "192.0.2.10"),
            iface(3, "wg0", "10.9.0.2"),
        ])
    }
}

fn listener(proto: Protocol, local: &str, pid: u32, name: &str) -> SocketEntry {
    let mut s = socket(proto, local, "0.0.0.0:0", pid, name);
    s.state = if proto == Protocol::Tcp {
        TcpState::Listen
    } else {
        TcpState::None
    };
    s
}

fn sockets() -> Vec<SocketEntry> {
    vec![
        socket(
            Protocol::Tcp,
            "192.0.2.10:40000",
            "198.51.100.1:443",
            42,
            "agent",
        ),
        socket(Protocol::Udp, "10.9.0.2:5000", "10.9.0.1:53", 42, "agent"),
        socket(
            Protocol::Tcp,
            "192.0.2.10:40001",
            "198.51.100.1:443",
            43,
            "worker",
        ),
        listener(Protocol::Tcp, "0.0.0.0:8080", 77, "server"),
        socket(
            Protocol::Tcp,
            "127.0.0.1:8080",
            "127.0.0.1:50000",
            77,
            "server",
        ),
        listener(Protocol::Udp, "0.0.0.0:5353", 78, "mdns"),
    ]
}

fn now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// The frames of a workload: agent (42) on eth0 and wg0, its child worker
/// (43) on eth0, and a stray packet nobody owns.
fn frames() -> Vec<OwnedFrame> {
    let t = now();
    let mut frames = Vec::new();
    let mut push = |spec: PacketSpec, ifindex, outgoing, n| {
        for _ in 0..n {
            frames.push(spec.sll2(t, ifindex, outgoing, 128));
        }
    };
    push(
        PacketSpec::tcp("192.0.2.10:40000", "198.51.100.1:443", 300),
        2,
        true,
        3,
    );
    push(
        PacketSpec::tcp("198.51.100.1:443", "192.0.2.10:40000", 1200),
        2,
        false,
        5,
    );
    push(
        PacketSpec::udp("10.9.0.2:5000", "10.9.0.1:53", 80),
        3,
        true,
        2,
    );
    push(
        PacketSpec::tcp("192.0.2.10:40001", "198.51.100.1:443", 50),
        2,
        true,
        4,
    );
    push(
        PacketSpec::tcp("198.51.100.9:443", "192.0.2.10:49999", 10),
        2,
        false,
        1,
    );
    frames
}

/// Bytes the engine counts for one frame of `spec` on an Ethernet
/// interface: the IP packet plus the 14-byte link header.
fn wire(spec: PacketSpec) -> u64 {
    spec.ip_bytes().len() as u64 + 14
}

fn replay(frames: Vec<OwnedFrame>) -> Backend {
    Backend {
        capture: Box::new(ReplayCapture::new(frames)),
        resolver: Box::new(StaticResolver::new(sockets())),
        interfaces: Box::new(Host),
        sockets: None,
        owners: None,
    }
}

fn replayed(options: Options) -> Monitor {
    let parents = |pid| match pid {
        43 => Some(42),
        _ => Some(1),
    };
    Monitor::with_backend(options, |_| Ok(replay(frames())))
        .expect("options")
        .with_parents(parents)
}

fn find<'a>(traffic: &'a [Traffic], interface: &str) -> &'a Traffic {
    traffic
        .iter()
        .find(|t| t.interface == interface)
        .unwrap_or_else(|| panic!("no {interface} in {traffic:?}"))
}

#[test]
fn a_watched_process_has_its_bytes_per_interface() {
    let m = replayed(Options::new());
    m.watch(42).expect("watch");
    m.start().expect("start");
    m.wait();
    let t = m.traffic(42).expect("traffic");
    assert_eq!(t.len(), 2, "{t:?}");
    let eth = find(&t, "eth0");
    let up = PacketSpec::tcp("192.0.2.10:40000", "198.51.100.1:443", 300);
    let down = PacketSpec::tcp("198.51.100.1:443", "192.0.2.10:40000", 1200);
    assert_eq!((eth.tx_packets, eth.rx_packets), (3, 5));
    assert_eq!(eth.tx_bytes, 3 * wire(up));
    assert_eq!(eth.rx_bytes, 5 * wire(down));
    let wg = find(&t, "wg0");
    assert_eq!((wg.tx_packets, wg.rx_packets, wg.rx_bytes), (2, 0, 0));
    assert_eq!(
        wg.tx_bytes,
        2 * wire(PacketSpec::udp("10.9.0.2:5000", "10.9.0.1:53", 80))
    );
    // The worker is another process: not in 42's own figures, but among
    // its children's.
    let with = m.traffic_with_children(42).expect("children");
    let worker = 4 * wire(PacketSpec::tcp("192.0.2.10:40001", "198.51.100.1:443", 50));
    assert_eq!(find(&with, "eth0").tx_bytes, eth.tx_bytes + worker);
    assert_eq!(find(&with, "wg0"), wg);
}

#[test]
fn reports_hold_every_process_and_the_unknown_bytes() {
    let m = replayed(Options::new().dns(false));
    m.start().expect("start");
    m.wait();
    let report = m.report().expect("a report");
    let pids: Vec<u32> = report.processes.iter().map(|p| p.pid).collect();
    assert_eq!(pids, [42, 43], "most bytes first");
    assert_eq!(report.processes[0].name, "agent");
    assert_eq!(report.unknown.len(), 1, "{:?}", report.unknown);
    assert_eq!(report.unknown[0].rx_packets, 1);
    let all: u64 = report.interfaces.iter().map(Traffic::total_bytes).sum();
    let owned: u64 = report.processes.iter().map(|p| p.total_bytes()).sum();
    let unknown = report.unknown[0].rx_bytes + report.unknown[0].tx_bytes;
    assert_eq!(all, owned + unknown);
    assert!(report.dns.is_empty());
}

#[test]
fn an_address_restricts_the_figures_to_its_interface() {
    let m = replayed(Options::new().address("10.9.0.2".parse().expect("ip")));
    m.watch(42).expect("watch");
    m.start().expect("start");
    m.wait();
    let t = m.traffic(42).expect("traffic");
    let names: Vec<&str> = t.iter().map(|t| t.interface.as_str()).collect();
    assert_eq!(names, ["wg0"]);
    let report = m.report().expect("report");
    assert_eq!(report.interfaces.len(), 1);
    assert_eq!(report.processes.len(), 1, "only agent used wg0");
}

#[test]
fn ports_name_their_processes() {
    let m = replayed(Options::new());
    m.watch(42).expect("watch");
    m.start().expect("start");
    assert_eq!(m.pid_by_port(Proto::Tcp, 8080), Ok(Some(77)));
    assert_eq!(m.pid_by_port(Proto::Udp, 5353), Ok(Some(78)));
    assert_eq!(m.pid_by_port(Proto::Udp, 8080), Ok(None));
    assert_eq!(
        m.ports_by_pid(42),
        Ok(vec![(Proto::Tcp, 40000), (Proto::Udp, 5000)])
    );
    assert_eq!(m.ports(Proto::Tcp), Ok(vec![40000]), "the watched pid's");
    assert_eq!(m.ports(Proto::Udp), Ok(vec![5000]));
    m.stop().expect("stop");
}

#[test]
fn bad_calls_are_errors_not_panics() {
    let m = replayed(Options::new());
    assert_eq!(m.traffic(42), Err(Error::NotWatched { pid: 42 }));
    m.watch(42).expect("watch");
    assert_eq!(m.traffic(42), Err(Error::NotStarted));
    assert_eq!(m.pid_by_port(Proto::Tcp, 80), Err(Error::NotStarted));
    assert_eq!(m.ports_by_pid(42), Err(Error::NotStarted));
    assert_eq!(m.watch(0), Err(Error::InvalidPid));
    assert_eq!(m.unwatch(7), Err(Error::NotWatched { pid: 7 }));
    m.start().expect("start");
    assert_eq!(m.start(), Err(Error::AlreadyStarted));
    m.wait();
    assert_eq!(m.traffic(9), Err(Error::NotWatched { pid: 9 }));
}

#[test]
fn unknown_interfaces_and_addresses_list_what_exists() {
    let m = replayed(Options::new().interface("eth0").interface("eth9"));
    match m.start() {
        Err(Error::NoSuchInterface { name, available }) => {
            assert_eq!(name, "eth9");
            assert_eq!(available, ["lo", "eth0", "wg0"]);
        }
        other => panic!("expected NoSuchInterface, got {other:?}"),
    }
    let m = replayed(Options::new().address("203.0.113.1".parse().expect("ip")));
    match m.start() {
        Err(e @ Error::NoSuchAddress { .. }) => {
            let text = e.to_string();
            assert!(
                text.contains("203.0.113.1") && text.contains("10.9.0.2"),
                "{text}"
            );
        }
        other => panic!("expected NoSuchAddress, got {other:?}"),
    }
    let bad = Options::new().interval(Duration::from_secs(3600));
    assert!(matches!(Monitor::new(bad), Err(Error::InvalidOption(_))));
}

#[test]
fn missing_privileges_say_how_to_get_them() {
    let m = Monitor::with_backend(Options::new(), |_| Err(OpenError::Privileges)).expect("new");
    match m.start() {
        Err(Error::PermissionDenied { fix }) => assert!(fix.contains("root"), "{fix}"),
        other => panic!("expected PermissionDenied, got {other:?}"),
    }
    let m = Monitor::with_backend(Options::new(), |_| {
        Err(OpenError::UnknownInterface {
            name: "nope".into(),
            available: vec!["lo".into()],
        })
    })
    .expect("new");
    assert_eq!(
        m.start(),
        Err(Error::NoSuchInterface {
            name: "nope".into(),
            available: vec!["lo".into()]
        })
    );
}

/// A live-like capture: frames sent over a channel, idle in between.
#[derive(Debug)]
struct Fed {
    rx: mpsc::Receiver<OwnedFrame>,
    current: Option<OwnedFrame>,
}

impl Capture for Fed {
    fn next_frame(&mut self) -> Result<Poll<'_>, CaptureError> {
        match self.rx.recv_timeout(Duration::from_millis(20)) {
            Ok(frame) => {
                self.current = Some(frame);
                Ok(self
                    .current
                    .as_ref()
                    .map_or(Poll::Idle, |f| Poll::Frame(f.as_frame())))
            }
            Err(mpsc::RecvTimeoutError::Timeout) => Ok(Poll::Idle),
            Err(mpsc::RecvTimeoutError::Disconnected) => Ok(Poll::Closed),
        }
    }

    fn stats(&mut self) -> Result<CaptureStats, CaptureError> {
        Ok(CaptureStats::default())
    }
}

fn live(interval_ms: u64) -> (Monitor, mpsc::Sender<OwnedFrame>) {
    let (tx, rx) = mpsc::channel();
    let options = Options::new().interval(Duration::from_millis(interval_ms));
    let m = Monitor::with_backend(options, move |_| {
        Ok(Backend {
            capture: Box::new(Fed { rx, current: None }),
            resolver: Box::new(StaticResolver::new(sockets())),
            interfaces: Box::new(Host),
            sockets: None,
            owners: Some(OwnerMode::Polling {
                reason: "a test".into(),
            }),
        })
    })
    .expect("new");
    (m, tx)
}

fn send(tx: &mpsc::Sender<OwnedFrame>, spec: PacketSpec, n: usize) {
    for _ in 0..n {
        tx.send(spec.sll2(now(), 2, true, 128))
            .expect("capture runs");
    }
}

#[test]
fn watching_counts_from_then_on_and_reports_arrive_each_interval() {
    let (m, tx) = live(100);
    m.start().expect("start");
    let mut reports = m.reports();
    let up = PacketSpec::tcp("192.0.2.10:40000", "198.51.100.1:443", 300);
    send(&tx, up, 3);
    // Wait for a report that has seen them.
    let seen = |r: &crate::Report| r.processes.iter().any(|p| p.pid == 42);
    let first = std::iter::from_fn(|| reports.next_timeout(Duration::from_secs(5)))
        .find(seen)
        .expect("a report with the first packets");
    assert!(first.seq >= 1);
    m.watch(42).expect("watch");
    assert_eq!(m.traffic(42), Ok(Vec::new()), "nothing since the watch");
    send(&tx, up, 2);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let t = m.traffic(42).expect("traffic");
        if t.first().is_some_and(|t| t.tx_packets == 2) {
            assert_eq!(t[0].tx_bytes, 2 * wire(up));
            break;
        }
        assert!(std::time::Instant::now() < deadline, "not counted: {t:?}");
        let _ = reports.next_timeout(Duration::from_millis(500));
    }
    assert!(m.is_running());
    m.stop().expect("stop");
    assert!(!m.is_running());
    assert!(reports.next_timeout(Duration::from_secs(1)).is_none() || reports.next().is_none());
    // Figures stay readable after the stop.
    assert_eq!(m.traffic(42).expect("after stop")[0].tx_packets, 2);
    drop(tx);
}

#[test]
fn dropping_a_running_monitor_stops_its_thread() {
    let (m, tx) = live(100);
    m.start().expect("start");
    let reports = m.reports();
    drop(m);
    // The capture thread ended: the reports end, and the capture (the
    // frames' receiver) is gone with the backend.
    assert!(reports.count() <= 16);
    let frame =
        PacketSpec::tcp("192.0.2.10:40000", "198.51.100.1:443", 1).sll2(now(), 2, true, 128);
    assert!(tx.send(frame).is_err(), "the capture still runs");
}

#[test]
fn the_monitor_is_send_and_sync() {
    fn both<T: Send + Sync>() {}
    both::<Monitor>();
}

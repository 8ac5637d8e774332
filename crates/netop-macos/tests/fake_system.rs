//! The macOS backend's logic against a fake system built from byte
//! fixtures in macOS's own layouts: socket table assembly (pcblist
//! sysctls + libproc owners), exact lookups of sockets that appeared
//! later, what a non-root run cannot see, interface listing, the capture
//! plan and its messages, and the whole path from a process table and
//! PKTAP or Ethernet frames to per-process totals.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use netop_core::interfaces::KernelCounters;
use netop_core::owners::OwnerIndex;
use netop_core::pktap::build::Spec;
use netop_core::pktap::{FLAG_DIR_IN, FLAG_DIR_OUT, FLAG_PROC_DELEGATED};
use netop_core::testing::{FakeClock, PacketSpec};
use netop_core::{
    BackendOptions, Engine, EngineConfig, FlowKey, HostInterfaces, OpenError, Protocol,
    SocketResolver, TcpState,
};
use netop_macos::fake::{FakeProcess, FakeSystem};
use netop_macos::fdinfo::IpSocket;
use netop_macos::plan::{self, Source};
use netop_macos::procs::MacProcesses;
use netop_macos::{MacInterfaces, MacResolver};

const HOST: &str = "192.168.1.20";

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("address")
}

fn tcp(local: &str, remote: &str) -> IpSocket {
    IpSocket {
        proto: Protocol::Tcp,
        local: addr(local),
        remote: addr(remote),
        state: TcpState::Established,
    }
}

fn process(pid: u32, uid: u32, name: &str, sockets: Vec<(u32, u64, IpSocket)>) -> FakeProcess {
    FakeProcess {
        pid,
        uid,
        name: name.to_string(),
        start_sec: 1_700_000_000 + u64::from(pid),
        sockets,
        hidden: false,
        exe: Some(format!("/usr/bin/{name}")),
    }
}

/// A Mac with curl (uid 501) downloading, a root daemon listening, and
/// en0/lo0.
fn mac() -> FakeSystem {
    let sys = FakeSystem::new();
    sys.set_euid(0);
    sys.add_user(501, "alice");
    sys.add_user(0, "root");
    sys.add_process(process(
        501,
        501,
        "curl",
        vec![(
            5,
            0xffff_ff80_0000_0501,
            tcp("192.168.1.20:50000", "93.184.216.34:443"),
        )],
    ));
    sys.add_process(process(
        88,
        0,
        "sshd",
        vec![(
            3,
            0xffff_ff80_0000_0088,
            IpSocket {
                state: TcpState::Listen,
                ..tcp("0.0.0.0:22", "0.0.0.0:0")
            },
        )],
    ));
    sys.add_interface(
        "lo0",
        1,
        true,
        None,
        KernelCounters {
            rx_bytes: 100,
            tx_bytes: 100,
            ..Default::default()
        },
        &["127.0.0.1".parse().expect("ip"), "::1".parse().expect("ip")],
    );
    sys.add_interface(
        "en0",
        4,
        true,
        Some([2, 0, 0, 0, 0, 1]),
        KernelCounters {
            rx_bytes: 123_456,
            tx_bytes: 7_890,
            rx_packets: 100,
            tx_packets: 50,
            ..Default::default()
        },
        &[HOST.parse().expect("ip")],
    );
    sys
}

fn resolver(sys: &FakeSystem) -> (MacResolver<FakeSystem>, FakeClock) {
    let clock = FakeClock::default();
    let index = OwnerIndex::with_clock(
        Box::new(MacProcesses::new(sys.clone())),
        Box::new(clock.clone()),
        Duration::from_millis(200),
        Duration::from_secs(5),
    );
    (
        MacResolver::with_index(sys.clone(), index, Box::new(clock.clone())),
        clock,
    )
}

#[test]
fn socket_table_has_every_socket_with_its_owner_fd_and_user() {
    let sys = mac();
    let (mut r, _clock) = resolver(&sys);
    let table = r.sockets().expect("table");
    assert_eq!(table.len(), 2);
    let curl = table
        .find(&FlowKey::new(
            Protocol::Tcp,
            addr("192.168.1.20:50000"),
            addr("93.184.216.34:443"),
        ))
        .expect("curl's socket");
    let owner = curl.owner.as_ref().expect("owner");
    assert_eq!(
        (owner.pid, owner.name.as_str(), owner.user.as_str()),
        (501, "curl", "alice")
    );
    assert_eq!(owner.exe.as_deref(), Some("/usr/bin/curl"), "proc_pidpath");
    assert_eq!(curl.fd, Some(5));
    assert_eq!(curl.state, TcpState::Established);
    assert_eq!(curl.rtt_us, Some(12_000));
    assert_eq!(
        curl.inode, 0xffff_ff80_0000_0501,
        "identity is xso_so = soi_so"
    );
    let ssh = table
        .find(&FlowKey::new(
            Protocol::Tcp,
            addr("192.168.1.20:22"),
            addr("10.0.0.9:51515"),
        ))
        .expect("the listener matches an incoming flow");
    assert_eq!(ssh.owner.as_ref().map(|o| o.pid), Some(88));
}

#[test]
fn a_socket_that_appears_later_is_found_by_a_lookup() {
    let sys = mac();
    let (mut r, clock) = resolver(&sys);
    r.sockets().expect("first table");
    sys.add_process(process(
        4242,
        501,
        "Safari",
        vec![(
            9,
            0xffff_ff80_0000_4242,
            tcp("192.168.1.20:50010", "17.253.144.10:443"),
        )],
    ));
    clock.advance(Duration::from_millis(10));
    let key = FlowKey::new(
        Protocol::Tcp,
        addr("192.168.1.20:50010"),
        addr("17.253.144.10:443"),
    );
    let found = r.lookup(&key).expect("lookup").expect("socket");
    assert_eq!(
        found.owner.as_ref().map(|o| o.name.as_str()),
        Some("Safari")
    );
    assert_eq!(found.fd, Some(9));
    let none = FlowKey::new(Protocol::Udp, addr("192.168.1.20:9"), addr("1.1.1.1:53"));
    assert_eq!(r.lookup(&none).expect("lookup"), None);
}

#[test]
fn a_burst_of_lookups_shares_one_table_read() {
    let sys = mac();
    let (mut r, clock) = resolver(&sys);
    let curl = FlowKey::new(
        Protocol::Tcp,
        addr("192.168.1.20:50000"),
        addr("93.184.216.34:443"),
    );
    let unknown = FlowKey::new(Protocol::Tcp, addr("192.168.1.20:1"), addr("10.0.0.1:2"));
    let before = r.table_reads();
    assert!(r.lookup(&curl).expect("lookup").is_some());
    assert_eq!(r.lookup(&unknown).expect("lookup"), None);
    assert!(r.lookup(&curl).expect("lookup").is_some());
    assert_eq!(r.table_reads(), before + 1, "one read for the burst");
    clock.advance(netop_macos::resolver::DUMP_REUSE);
    assert!(r.lookup(&curl).expect("lookup").is_some());
    assert_eq!(r.table_reads(), before + 2, "read again once it is old");
}

#[test]
fn without_root_other_users_sockets_have_no_owner() {
    let sys = mac();
    sys.set_euid(501);
    let mut daemon = process(
        90,
        0,
        "mDNSResponder",
        vec![(
            4,
            0xffff_ff80_0000_0090,
            IpSocket {
                proto: Protocol::Udp,
                local: addr("0.0.0.0:5353"),
                remote: addr("0.0.0.0:0"),
                state: TcpState::None,
            },
        )],
    );
    daemon.hidden = true;
    sys.add_process(daemon);
    let (mut r, _clock) = resolver(&sys);
    let table = r.sockets().expect("table");
    let mdns = table
        .find(&FlowKey::new(
            Protocol::Udp,
            addr("192.168.1.20:5353"),
            addr("224.0.0.251:5353"),
        ))
        .expect("the sysctl shows every socket");
    assert_eq!(mdns.owner, None, "libproc hides another user's process");
    assert_eq!(mdns.uid, 0);
    // The engine says so instead of guessing that the owner left.
    assert_eq!(r.visible_uid(), Some(501));
    let mut e = Engine::new(EngineConfig::default());
    e.set_visible_uid(r.visible_uid());
    e.set_interfaces(
        &MacInterfaces::new(sys.clone())
            .interfaces()
            .expect("interfaces"),
    );
    e.refresh(table);
    let query = PacketSpec::udp("192.168.1.7:5353", "192.168.1.20:5353", 50);
    e.ingest_resolved(
        &query.ethernet(at(0), 4, [2, 0, 0, 0, 0, 7]).as_frame(),
        &mut r,
    );
    let reasons: Vec<_> = e
        .unknown_reasons()
        .into_iter()
        .map(|(why, _)| why)
        .collect();
    assert_eq!(reasons, vec![netop_core::UnknownReason::Hidden]);
}

#[test]
fn exited_processes_are_told_apart_from_recycled_pids() {
    let sys = mac();
    let (mut r, _clock) = resolver(&sys);
    let start = 1_700_000_501u64 * 1_000_000;
    assert_eq!(r.exited(&[(501, start)]), vec![]);
    assert_eq!(
        r.exited(&[(501, start + 1)]),
        vec![(501, start + 1)],
        "pid reused"
    );
    sys.remove_process(501);
    assert_eq!(r.exited(&[(501, 0)]), vec![(501, 0)]);
}

#[test]
fn interfaces_come_from_getifaddrs_with_their_counters() {
    let sys = mac();
    let clock = FakeClock::default();
    let mut ifs = MacInterfaces::with_clock(sys.clone(), Box::new(clock.clone()));
    let list = ifs.interfaces().expect("interfaces");
    let names: Vec<&str> = list.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["lo0", "en0"]);
    let en0 = &list[1];
    assert_eq!(en0.index, 4);
    assert!(en0.up);
    assert_eq!(en0.mac, Some([2, 0, 0, 0, 0, 1]));
    assert_eq!(en0.addrs, vec![HOST.parse::<IpAddr>().expect("ip")]);
    let k = en0.kernel.expect("counters");
    assert_eq!(
        (k.rx_bytes, k.tx_bytes, k.rx_packets),
        (123_456, 7_890, 100)
    );
    assert_eq!(list[0].addrs.len(), 2);
    assert_eq!(ifs.names(), ["lo0", "en0"]);
    assert!(en0.dns_servers.is_empty(), "no resolver configuration yet");
    sys.set_dns_config(
        "DNS configuration\n\nresolver #1\n  nameserver[0] : 192.168.1.1\n  if_index : 4 (en0)\n",
    );
    let list = ifs.interfaces().expect("interfaces");
    assert!(
        list[1].dns_servers.is_empty(),
        "scutil is not run again at once"
    );
    clock.advance(netop_macos::interfaces::DNS_CONFIG_REUSE);
    let list = ifs.interfaces().expect("interfaces");
    assert_eq!(
        list[1].dns_servers,
        vec!["192.168.1.1".parse::<IpAddr>().expect("ip")]
    );
}

#[test]
fn capture_plan_and_messages() {
    let all = BackendOptions::default();
    let p = plan::plan(&all, true);
    assert_eq!(p.source, Source::Pktap);
    assert_eq!(p.source.device(), "pktap");
    let p = plan::plan(&all, false);
    assert_eq!(p.source, Source::AllInterfaces, "no root: BPF devices");
    assert!(p.why.contains("access_bpf"), "{}", p.why);
    let en0 = BackendOptions {
        interface: Some("en0".into()),
        ..Default::default()
    };
    let p = plan::plan(&en0, false);
    assert_eq!(p.source, Source::Interface("en0".into()));
    let list = MacInterfaces::new(mac()).interfaces().expect("interfaces");
    let mut down = list[1].clone();
    down.name = "awdl0".into();
    down.addrs.clear();
    let mut with_down = list.clone();
    with_down.push(down);
    assert_eq!(plan::capture_devices(&with_down), ["lo0", "en0"]);
    assert_eq!(plan::read_timeout_each(100, 4), 25);
    assert_eq!(plan::read_timeout_each(100, 0), 100);
    assert_eq!(plan::read_timeout_each(100, 50), 5);
    assert!(plan::check_interface("en0", vec!["lo0".into(), "en0".into()]).is_ok());
    assert!(matches!(
        plan::check_interface("eth0", vec!["lo0".into(), "en0".into()]),
        Err(OpenError::UnknownInterface { name, available }) if name == "eth0" && available.len() == 2
    ));
    let busy = plan::open_error("en0", "(no devices found) /dev/bpf0: Resource busy", vec![]);
    assert!(
        matches!(&busy, OpenError::Failed(m) if m.starts_with("cannot open BPF device")),
        "{busy:?}"
    );
    assert!(matches!(
        plan::open_error(
            "en0",
            "(cannot open BPF device) /dev/bpf0: Permission denied",
            vec![]
        ),
        OpenError::Privileges
    ));
    assert!(matches!(
        plan::open_error("en9", "BIOCSETIF: en9: Device not configured", vec![]),
        OpenError::UnknownInterface { .. }
    ));
    let sys = mac();
    let mut s = sys.clone();
    let lines = plan::diagnostics(&mut s, &all);
    assert!(lines[0].contains("PKTAP"), "{lines:?}");
    sys.set_euid(501);
    let lines = plan::diagnostics(&mut s, &all);
    assert!(lines[0].contains("BPF device per interface"), "{lines:?}");
    assert!(lines[1].contains("not visible"), "{lines:?}");
}

fn at(ms: u64) -> Duration {
    Duration::from_millis(1_700_000_000_000 + ms)
}

fn tap(out: bool, (pid, comm): (i32, &str), (epid, ecomm): (i32, &str)) -> Spec {
    let mut flags = if out { FLAG_DIR_OUT } else { FLAG_DIR_IN };
    if pid != epid {
        flags |= FLAG_PROC_DELEGATED;
    }
    Spec {
        dlt: 1,
        ifname: "en0".into(),
        flags,
        pid,
        comm: comm.into(),
        epid,
        ecomm: ecomm.into(),
    }
}

#[test]
fn pktap_frames_and_a_process_table_give_per_process_totals() {
    let sys = mac();
    let (mut r, _clock) = resolver(&sys);
    let mut e = Engine::new(EngineConfig::default());
    e.set_interfaces(
        &MacInterfaces::new(sys.clone())
            .interfaces()
            .expect("interfaces"),
    );
    e.refresh(r.sockets().expect("table"));
    let down = PacketSpec::tcp("93.184.216.34:443", "192.168.1.20:50000", 1400);
    let up = PacketSpec::tcp("192.168.1.20:50000", "93.184.216.34:443", 0);
    // A process that lived between two tables: only its headers name it.
    let brief = PacketSpec::udp("192.168.1.20:61000", "1.1.1.1:53", 40);
    // Delegated: nsurlsessiond for Safari.
    let fetch = PacketSpec::tcp("192.168.1.20:50020", "17.253.144.10:443", 500);
    for i in 0..20 {
        e.ingest_resolved(
            &down
                .pktap(at(i), &tap(false, (501, "curl"), (501, "curl")))
                .as_frame(),
            &mut r,
        );
        if i % 2 == 0 {
            e.ingest_resolved(
                &up.pktap(at(i), &tap(true, (501, "curl"), (501, "curl")))
                    .as_frame(),
                &mut r,
            );
        }
    }
    e.ingest_resolved(
        &brief
            .pktap(at(30), &tap(true, (7000, "dig"), (7000, "dig")))
            .as_frame(),
        &mut r,
    );
    for i in 0..3 {
        e.ingest_resolved(
            &fetch
                .pktap(
                    at(40 + i),
                    &tap(true, (310, "nsurlsessiond"), (4242, "Safari")),
                )
                .as_frame(),
            &mut r,
        );
    }
    let report = e.report();
    let row = |pid: u32| report.processes.iter().find(|p| p.pid == Some(pid));
    let wire = |p: &PacketSpec| p.ip_bytes().len() as u64 + 14;
    let curl = row(501).expect("curl");
    assert_eq!(curl.counters.rx_bytes, 20 * wire(&down));
    assert_eq!(curl.counters.tx_bytes, 10 * wire(&up));
    assert_eq!(curl.user, "alice", "the socket table's owner, same pid");
    assert_eq!(row(7000).expect("dig").counters.tx_bytes, wire(&brief));
    let safari = row(4242).expect("Safari");
    assert_eq!(safari.counters.tx_bytes, 3 * wire(&fetch));
    assert_eq!(safari.delegates, vec![(310, "nsurlsessiond".to_string())]);
    assert!(row(310).is_none());
    assert!(
        report.processes.iter().all(|p| p.pid.is_some()),
        "{:?}",
        report.processes
    );
    let en0 = report
        .interfaces
        .iter()
        .find(|i| i.name == "en0")
        .expect("en0");
    assert_eq!(
        en0.index, 4,
        "the header's name mapped to getifaddrs' index"
    );
}

#[test]
fn bpf_device_frames_are_attributed_by_the_socket_tables() {
    let sys = mac();
    let (mut r, _clock) = resolver(&sys);
    let mut e = Engine::new(EngineConfig::default());
    e.set_interfaces(
        &MacInterfaces::new(sys.clone())
            .interfaces()
            .expect("interfaces"),
    );
    e.refresh(r.sockets().expect("table"));
    let down = PacketSpec::tcp("93.184.216.34:443", "192.168.1.20:50000", 1400);
    // Safari starts after the first table: found by a lookup.
    sys.add_process(process(
        4242,
        501,
        "Safari",
        vec![(
            9,
            0xffff_ff80_0000_4242,
            tcp("192.168.1.20:50010", "17.253.144.10:443"),
        )],
    ));
    let safari = PacketSpec::tcp("192.168.1.20:50010", "17.253.144.10:443", 200);
    for i in 0..5 {
        e.ingest_resolved(
            &down.ethernet(at(i), 4, [2, 0, 0, 0, 0, 9]).as_frame(),
            &mut r,
        );
        e.ingest_resolved(
            &safari.ethernet(at(i), 4, [2, 0, 0, 0, 0, 1]).as_frame(),
            &mut r,
        );
    }
    let report = e.report();
    let row = |pid: u32| report.processes.iter().find(|p| p.pid == Some(pid));
    let wire = |p: &PacketSpec| p.ip_bytes().len() as u64 + 14;
    assert_eq!(row(501).expect("curl").counters.rx_bytes, 5 * wire(&down));
    assert_eq!(
        row(4242).expect("Safari").counters.tx_bytes,
        5 * wire(&safari)
    );
}

//! The observatory through the engine, from frames built byte by byte:
//! matching, attribution, CNAME chains, error codes, timeouts, TCP
//! reassembly, duplicate ids, retransmissions, stub linking, passive
//! names and the filter, and the bounds.

use std::net::IpAddr;
use std::time::Duration;

use hickory_proto::rr::RecordType;

use super::fixtures::{self, Data, Flags};
use super::*;
use crate::testing::{socket, OwnedFrame, StaticResolver};
use crate::{Engine, EngineConfig, InterfaceInfo, Protocol};

const T0: Duration = Duration::from_secs(1_700_000_000);
const CLIENT: &str = "10.0.0.1:40001";
const SERVER: &str = "10.0.0.53:53";

fn at(ms: u64) -> Duration {
    T0 + Duration::from_millis(ms)
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("ip")
}

fn interfaces() -> Vec<InterfaceInfo> {
    vec![
        InterfaceInfo {
            index: 1,
            name: "lo".into(),
            up: true,
            addrs: vec![ip("127.0.0.1")],
            ..Default::default()
        },
        InterfaceInfo {
            index: 2,
            name: "eth0".into(),
            up: true,
            addrs: vec![ip("10.0.0.1")],
            dns_servers: vec![ip("10.0.0.53"), ip("10.0.0.54")],
            ..Default::default()
        },
    ]
}

fn engine_with(config: EngineConfig) -> Engine {
    let mut e = Engine::new(config);
    e.set_interfaces(&interfaces());
    e
}

fn engine() -> Engine {
    engine_with(EngineConfig::default())
}

fn feed(e: &mut Engine, r: &mut StaticResolver, frames: &[OwnedFrame]) {
    for f in frames {
        e.ingest_resolved(&f.as_frame(), r);
    }
}

fn client_socket(local: &str, remote: &str, pid: u32, name: &str) -> StaticResolver {
    StaticResolver::new(vec![socket(Protocol::Udp, local, remote, pid, name)])
}

fn log(e: &Engine) -> Vec<QueryRecord> {
    e.dns().expect("dns on").log().cloned().collect()
}

fn a(s: &str) -> Data {
    Data::Addr(ip(s))
}

/// One query and its answer 12 ms later, from `CLIENT` (pid 100, curl).
fn exchange(
    id: u16,
    name: &str,
    qtype: RecordType,
    rcode: u16,
    answers: &[(&str, u32, Data)],
) -> Engine {
    let mut e = engine();
    let mut r = client_socket(CLIENT, SERVER, 100, "curl");
    feed(
        &mut e,
        &mut r,
        &[
            fixtures::udp(at(0), 2, CLIENT, SERVER, &fixtures::query(id, name, qtype)),
            fixtures::udp(
                at(12),
                2,
                SERVER,
                CLIENT,
                &fixtures::response(id, name, qtype, rcode, answers),
            ),
        ],
    );
    e
}

#[test]
fn an_a_query_is_logged_with_owner_answer_latency_and_resolver() {
    let e = exchange(
        7,
        "example.com",
        RecordType::A,
        0,
        &[("example.com", 300, a("192.0.2.7"))],
    );
    let log = log(&e);
    assert_eq!(log.len(), 1);
    let q = &log[0];
    assert_eq!(q.seq, 0);
    assert_eq!(q.ts, at(0));
    assert_eq!(q.pid, Some(100));
    assert_eq!(q.process, "curl");
    assert_eq!(q.name, "example.com");
    assert_eq!(q.qtype, "A");
    assert_eq!(q.response, "192.0.2.7");
    assert_eq!(q.status, QueryStatus::Answered);
    assert_eq!(q.latency, Some(Duration::from_millis(12)));
    assert_eq!(q.resolver, SERVER.parse().expect("addr"));
    assert_eq!(q.ifindex, 2);
    assert!(!q.tcp);
}

#[test]
fn aaaa_answers_and_several_addresses_are_listed() {
    let e = exchange(
        8,
        "v6.example.com",
        RecordType::AAAA,
        0,
        &[
            ("v6.example.com", 60, a("2001:db8::1")),
            ("v6.example.com", 60, a("2001:db8::2")),
        ],
    );
    let q = &log(&e)[0];
    assert_eq!(q.qtype, "AAAA");
    assert_eq!(q.response, "2001:db8::1, 2001:db8::2");
}

#[test]
fn a_cname_chain_shows_its_addresses_or_its_final_name() {
    let chain = [
        ("www.example.com", 60, Data::Cname("edge.example.net")),
        ("edge.example.net", 60, Data::Cname("pop1.cdn.example")),
        ("pop1.cdn.example", 60, a("198.51.100.9")),
    ];
    let e = exchange(9, "www.example.com", RecordType::A, 0, &chain);
    assert_eq!(log(&e)[0].response, "198.51.100.9");
    // Passive names use the name the application asked for.
    let dns = e.dns().expect("dns");
    assert_eq!(dns.name_of(ip("198.51.100.9")), Some("www.example.com"));

    let e = exchange(10, "www.example.com", RecordType::A, 0, &chain[..2]);
    assert_eq!(log(&e)[0].response, "pop1.cdn.example");
}

#[test]
fn other_types_show_their_data_and_empty_answers_are_nodata() {
    let e = exchange(
        11,
        "example.com",
        RecordType::MX,
        0,
        &[("example.com", 60, Data::Mx(10, "mail.example.com"))],
    );
    let q = &log(&e)[0];
    assert_eq!(q.qtype, "MX");
    assert_eq!(q.response, "10 mail.example.com.");
    let e = exchange(
        12,
        "7.2.0.192.in-addr.arpa",
        RecordType::PTR,
        0,
        &[("7.2.0.192.in-addr.arpa", 60, Data::Ptr("host.example"))],
    );
    assert_eq!(log(&e)[0].response, "host.example.");
    let e = exchange(13, "example.com", RecordType::HTTPS, 0, &[]);
    let q = &log(&e)[0];
    assert_eq!((q.qtype.as_str(), q.response.as_str()), ("HTTPS", "NODATA"));
    assert_eq!(q.status, QueryStatus::Answered);
}

#[test]
fn nxdomain_is_an_answer_servfail_and_refused_are_failures() {
    let e = exchange(14, "nope.example", RecordType::A, 3, &[]);
    let q = &log(&e)[0];
    assert_eq!(
        (q.status, q.response.as_str()),
        (QueryStatus::NxDomain, "NXDOMAIN")
    );
    let stats = e.dns().expect("dns").resolver_stats();
    let row = stats
        .iter()
        .find(|s| s.server == ip("10.0.0.53"))
        .expect("row");
    assert_eq!((row.queries, row.answered, row.failures), (1, 1, 0));

    let e = exchange(15, "broken.example", RecordType::A, 2, &[]);
    let q = &log(&e)[0];
    assert_eq!(
        (q.status, q.response.as_str()),
        (QueryStatus::ServFail, "SERVFAIL")
    );
    let stats = e.dns().expect("dns").resolver_stats();
    let row = stats
        .iter()
        .find(|s| s.server == ip("10.0.0.53"))
        .expect("row");
    assert_eq!((row.queries, row.failures), (1, 1));
    assert!((row.failure_rate() - 1.0).abs() < f64::EPSILON);

    let e = exchange(16, "closed.example", RecordType::A, 5, &[]);
    assert_eq!(log(&e)[0].status, QueryStatus::Refused);
}

#[test]
fn a_query_without_answer_times_out_after_five_seconds() {
    let mut e = engine();
    let mut r = client_socket(CLIENT, SERVER, 100, "curl");
    feed(
        &mut e,
        &mut r,
        &[fixtures::udp(
            at(0),
            2,
            CLIENT,
            SERVER,
            &fixtures::query(1, "slow.example", RecordType::A),
        )],
    );
    e.expire(at(4_999));
    assert_eq!(log(&e)[0].status, QueryStatus::Pending);
    e.expire(at(5_001));
    let q = &log(&e)[0];
    assert_eq!(
        (q.status, q.response.as_str(), q.latency),
        (QueryStatus::Timeout, "timeout", None)
    );
    let stats = e.dns().expect("dns").resolver_stats();
    let row = stats
        .iter()
        .find(|s| s.server == ip("10.0.0.53"))
        .expect("row");
    assert_eq!(
        (row.queries, row.timeouts, row.failures, row.avg_latency),
        (1, 1, 1, None)
    );
    // A late answer matches nothing.
    feed(
        &mut e,
        &mut r,
        &[fixtures::udp(
            at(6_000),
            2,
            SERVER,
            CLIENT,
            &fixtures::response(1, "slow.example", RecordType::A, 0, &[]),
        )],
    );
    assert_eq!(e.dns().expect("dns").stats().unmatched, 1);
}

#[test]
fn resolver_stats_count_exactly_and_list_configured_servers() {
    let mut e = engine();
    let mut r = client_socket(CLIENT, SERVER, 100, "curl");
    let mut frames = Vec::new();
    // 20 queries answered after 1..=20 ms.
    for i in 0..20u16 {
        let t = u64::from(i) * 100;
        frames.push(fixtures::udp(
            at(t),
            2,
            CLIENT,
            SERVER,
            &fixtures::query(i, "example.com", RecordType::A),
        ));
        frames.push(fixtures::udp(
            at(t + u64::from(i) + 1),
            2,
            SERVER,
            CLIENT,
            &fixtures::response(
                i,
                "example.com",
                RecordType::A,
                0,
                &[("example.com", 60, a("192.0.2.1"))],
            ),
        ));
    }
    feed(&mut e, &mut r, &frames);
    let stats = e.dns().expect("dns").resolver_stats();
    assert_eq!(stats.len(), 2, "{stats:?}");
    let used = &stats[0];
    assert_eq!(
        (used.interface.as_str(), used.server),
        ("eth0", ip("10.0.0.53"))
    );
    assert!(used.configured);
    assert_eq!((used.queries, used.answered, used.failures), (20, 20, 0));
    assert_eq!(used.avg_latency, Some(Duration::from_micros(10_500)));
    // Nearest rank: the 19th of 20 sorted latencies.
    assert_eq!(used.p95_latency, Some(Duration::from_millis(19)));
    let idle = &stats[1];
    assert_eq!(
        (idle.server, idle.queries, idle.avg_latency),
        (ip("10.0.0.54"), 0, None)
    );
}

#[test]
fn tcp_messages_split_across_segments_are_reassembled() {
    let mut e = engine();
    let tcp_client = "10.0.0.1:40100";
    let mut r = StaticResolver::new(vec![socket(Protocol::Tcp, tcp_client, SERVER, 101, "dig")]);
    let q = fixtures::framed(&fixtures::query(21, "big.example", RecordType::A));
    let answers: Vec<(&str, u32, Data)> = (1..=40)
        .map(|i| ("big.example", 60, Data::Addr(ip(&format!("192.0.2.{i}")))))
        .collect();
    let resp = fixtures::framed(&fixtures::response(
        21,
        "big.example",
        RecordType::A,
        0,
        &answers,
    ));
    assert!(resp.len() > 600);
    let no = Flags::default();
    let syn = Flags { syn: true, ..no };
    // Query: split inside the length prefix. Response: three segments, the
    // middle one retransmitted.
    let (q1, q2) = q.split_at(1);
    let (r1, rest) = resp.split_at(100);
    let (r2, r3) = rest.split_at(300);
    let frames = vec![
        fixtures::tcp(at(0), 2, tcp_client, SERVER, 999, syn, &[]),
        fixtures::tcp(at(1), 2, SERVER, tcp_client, 4_999, syn, &[]),
        fixtures::tcp(at(2), 2, tcp_client, SERVER, 1_000, no, q1),
        fixtures::tcp(at(3), 2, tcp_client, SERVER, 1_001, no, q2),
        fixtures::tcp(at(20), 2, SERVER, tcp_client, 5_000, no, r1),
        fixtures::tcp(at(21), 2, SERVER, tcp_client, 5_100, no, r2),
        fixtures::tcp(at(22), 2, SERVER, tcp_client, 5_100, no, r2),
        fixtures::tcp(at(23), 2, SERVER, tcp_client, 5_400, no, r3),
    ];
    feed(&mut e, &mut r, &frames);
    let log = log(&e);
    assert_eq!(log.len(), 1, "{log:?}");
    let q = &log[0];
    assert!(q.tcp);
    assert_eq!((q.pid, q.process.as_str()), (Some(101), "dig"));
    assert_eq!(q.ts, at(3));
    assert_eq!(q.latency, Some(Duration::from_millis(20)));
    assert!(
        q.response.starts_with("192.0.2.1, 192.0.2.2, "),
        "{}",
        q.response
    );
    assert!(q.response.contains("192.0.2.40"));
}

#[test]
fn two_tcp_messages_in_one_segment_and_a_gap_are_handled() {
    let mut e = engine();
    let tcp_client = "10.0.0.1:40101";
    let mut r = StaticResolver::new(vec![socket(Protocol::Tcp, tcp_client, SERVER, 101, "dig")]);
    let mut both = fixtures::framed(&fixtures::query(1, "one.example", RecordType::A));
    both.extend(fixtures::framed(&fixtures::query(
        2,
        "two.example",
        RecordType::AAAA,
    )));
    let third = fixtures::framed(&fixtures::query(3, "three.example", RecordType::A));
    let no = Flags::default();
    let frames = vec![
        fixtures::tcp(at(0), 2, tcp_client, SERVER, 1, no, &both),
        // A segment the capture lost, then one that starts a message.
        fixtures::tcp(
            at(1),
            2,
            tcp_client,
            SERVER,
            1 + both.len() as u32 + 50,
            no,
            &third,
        ),
    ];
    feed(&mut e, &mut r, &frames);
    let names: Vec<String> = log(&e).into_iter().map(|q| q.name).collect();
    assert_eq!(names, ["one.example", "two.example", "three.example"]);
}

#[test]
fn duplicate_ids_from_different_clients_stay_apart() {
    let mut e = engine();
    let (c1, c2) = ("10.0.0.1:40001", "10.0.0.1:40002");
    let mut r = StaticResolver::new(vec![
        socket(Protocol::Udp, c1, SERVER, 100, "curl"),
        socket(Protocol::Udp, c2, SERVER, 200, "wget"),
    ]);
    let q = fixtures::query(5, "same.example", RecordType::A);
    let resp = |addr: &str| {
        fixtures::response(
            5,
            "same.example",
            RecordType::A,
            0,
            &[("same.example", 60, a(addr))],
        )
    };
    feed(
        &mut e,
        &mut r,
        &[
            fixtures::udp(at(0), 2, c1, SERVER, &q),
            fixtures::udp(at(1), 2, c2, SERVER, &q),
            fixtures::udp(at(10), 2, SERVER, c2, &resp("192.0.2.2")),
            fixtures::udp(at(30), 2, SERVER, c1, &resp("192.0.2.1")),
        ],
    );
    let log = log(&e);
    assert_eq!(log.len(), 2);
    assert_eq!(
        (log[0].process.as_str(), log[0].response.as_str()),
        ("curl", "192.0.2.1")
    );
    assert_eq!(log[0].latency, Some(Duration::from_millis(30)));
    assert_eq!(
        (log[1].process.as_str(), log[1].response.as_str()),
        ("wget", "192.0.2.2")
    );
    assert_eq!(log[1].latency, Some(Duration::from_millis(9)));
}

#[test]
fn a_retransmitted_query_is_one_entry_timed_from_the_first_copy() {
    let mut e = engine();
    let mut r = client_socket(CLIENT, SERVER, 100, "curl");
    let q = fixtures::query(6, "lossy.example", RecordType::A);
    feed(
        &mut e,
        &mut r,
        &[
            fixtures::udp(at(0), 2, CLIENT, SERVER, &q),
            fixtures::udp(at(1_000), 2, CLIENT, SERVER, &q),
            fixtures::udp(
                at(1_005),
                2,
                SERVER,
                CLIENT,
                &fixtures::response(
                    6,
                    "lossy.example",
                    RecordType::A,
                    0,
                    &[("lossy.example", 60, a("192.0.2.6"))],
                ),
            ),
        ],
    );
    let log = log(&e);
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].retransmits, 1);
    assert_eq!(log[0].latency, Some(Duration::from_millis(1_005)));
    let stats = e.dns().expect("dns").resolver_stats();
    assert_eq!(stats[0].queries, 1);
}

#[test]
fn a_stub_resolvers_upstream_query_is_linked_to_the_application_query() {
    let mut e = engine();
    let app = "127.0.0.1:50000";
    let stub = "127.0.0.53:53";
    let upstream_client = "10.0.0.1:33333";
    let mut r = StaticResolver::new(vec![
        socket(Protocol::Udp, app, stub, 100, "curl"),
        socket(Protocol::Udp, stub, app, 300, "systemd-resolve"),
        socket(
            Protocol::Udp,
            upstream_client,
            SERVER,
            300,
            "systemd-resolve",
        ),
    ]);
    let answer = [("example.org", 60, a("192.0.2.80"))];
    feed(
        &mut e,
        &mut r,
        &[
            fixtures::udp(
                at(0),
                1,
                app,
                stub,
                &fixtures::query(0x1111, "example.org", RecordType::A),
            ),
            // The stub asks upstream with its own id and 0x20 case.
            fixtures::udp(
                at(1),
                2,
                upstream_client,
                SERVER,
                &fixtures::query(0x2222, "ExAmple.ORG", RecordType::A),
            ),
            fixtures::udp(
                at(31),
                2,
                SERVER,
                upstream_client,
                &fixtures::response(0x2222, "ExAmple.ORG", RecordType::A, 0, &answer),
            ),
            fixtures::udp(
                at(32),
                1,
                stub,
                app,
                &fixtures::response(0x1111, "example.org", RecordType::A, 0, &answer),
            ),
        ],
    );
    let log = log(&e);
    assert_eq!(log.len(), 2, "{log:?}");
    let (app_q, up_q) = (&log[0], &log[1]);
    assert_eq!((app_q.process.as_str(), app_q.ifindex), ("curl", 1));
    assert_eq!(app_q.resolver, stub.parse().expect("addr"));
    assert_eq!(app_q.latency, Some(Duration::from_millis(32)));
    assert_eq!(app_q.upstream, Some(up_q.seq));
    assert_eq!(up_q.process, "systemd-resolve");
    assert_eq!(up_q.downstream, Some(app_q.seq));
    assert_eq!(up_q.latency, Some(Duration::from_millis(30)));
    assert_eq!(up_q.resolver, SERVER.parse().expect("addr"));
}

#[test]
fn a_cached_stub_answer_links_nothing_and_other_processes_are_not_upstreams() {
    let mut e = engine();
    let app = "127.0.0.1:50000";
    let stub = "127.0.0.53:53";
    let mut r = StaticResolver::new(vec![
        socket(Protocol::Udp, app, stub, 100, "curl"),
        socket(Protocol::Udp, stub, app, 300, "systemd-resolve"),
        socket(Protocol::Udp, "10.0.0.1:44444", SERVER, 400, "firefox"),
    ]);
    let answer = [("example.org", 60, a("192.0.2.80"))];
    feed(
        &mut e,
        &mut r,
        &[
            fixtures::udp(
                at(0),
                1,
                app,
                stub,
                &fixtures::query(1, "example.org", RecordType::A),
            ),
            // Another application asks a remote server the same question:
            // not the stub's process, so no link.
            fixtures::udp(
                at(1),
                2,
                "10.0.0.1:44444",
                SERVER,
                &fixtures::query(2, "example.org", RecordType::A),
            ),
            fixtures::udp(
                at(2),
                1,
                stub,
                app,
                &fixtures::response(1, "example.org", RecordType::A, 0, &answer),
            ),
        ],
    );
    let log = log(&e);
    assert_eq!(log.len(), 2);
    assert_eq!((log[0].upstream, log[1].downstream), (None, None));
}

#[test]
fn an_owner_found_later_fills_in_the_log() {
    let mut e = engine();
    // The exact lookup finds nothing (the socket is not visible yet).
    let mut r = StaticResolver::default();
    feed(
        &mut e,
        &mut r,
        &[fixtures::udp(
            at(0),
            2,
            CLIENT,
            SERVER,
            &fixtures::query(3, "late.example", RecordType::A),
        )],
    );
    assert_eq!(log(&e)[0].process, "unknown");
    assert_eq!(log(&e)[0].pid, None);
    e.refresh(crate::SocketTable::new(vec![socket(
        Protocol::Udp,
        CLIENT,
        SERVER,
        555,
        "late-app",
    )]));
    let q = &log(&e)[0];
    assert_eq!((q.pid, q.process.as_str()), (Some(555), "late-app"));
}

#[test]
fn passive_names_feed_the_filter_and_expire_with_ttl_plus_grace() {
    let mut e = engine_with(EngineConfig {
        filter: Some("GitHub.com".into()),
        ..EngineConfig::default()
    });
    let web = "10.0.0.1:45000";
    let mut r = StaticResolver::new(vec![
        socket(Protocol::Udp, CLIENT, SERVER, 100, "resolver-lib"),
        socket(Protocol::Tcp, web, "140.82.121.4:443", 300, "git"),
        socket(
            Protocol::Tcp,
            "10.0.0.1:45001",
            "192.0.2.99:443",
            301,
            "other",
        ),
    ]);
    feed(
        &mut e,
        &mut r,
        &[
            fixtures::udp(
                at(0),
                2,
                CLIENT,
                SERVER,
                &fixtures::query(4, "github.com", RecordType::A),
            ),
            fixtures::udp(
                at(5),
                2,
                SERVER,
                CLIENT,
                &fixtures::response(
                    4,
                    "github.com",
                    RecordType::A,
                    0,
                    &[("github.com", 60, a("140.82.121.4"))],
                ),
            ),
            fixtures::tcp(
                at(10),
                2,
                web,
                "140.82.121.4:443",
                1,
                Flags::default(),
                &[0; 100],
            ),
            fixtures::tcp(
                at(11),
                2,
                "10.0.0.1:45001",
                "192.0.2.99:443",
                1,
                Flags::default(),
                &[0; 100],
            ),
        ],
    );
    let report = e.report();
    let names: Vec<&str> = report.processes.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        ["git"],
        "only the flow to github.com's address matches"
    );
    let dns = e.dns().expect("dns");
    assert_eq!(dns.name_of(ip("140.82.121.4")), Some("github.com"));
    assert!(dns.log().all(|q| q.matches("github.com")));
    // TTL 60 s + 300 s grace.
    e.expire(at(5 + 359_000));
    assert_eq!(
        e.dns().expect("dns").name_of(ip("140.82.121.4")),
        Some("github.com")
    );
    e.expire(at(5 + 360_000));
    assert_eq!(e.dns().expect("dns").name_of(ip("140.82.121.4")), None);
}

#[test]
fn the_most_recent_answer_names_an_address() {
    let mut e = engine();
    let mut r = client_socket(CLIENT, SERVER, 100, "curl");
    let shared = [("a.example", 60, a("192.0.2.50"))];
    let shared_b = [("b.example", 60, a("192.0.2.50"))];
    feed(
        &mut e,
        &mut r,
        &[
            fixtures::udp(
                at(0),
                2,
                CLIENT,
                SERVER,
                &fixtures::query(1, "a.example", RecordType::A),
            ),
            fixtures::udp(
                at(1),
                2,
                SERVER,
                CLIENT,
                &fixtures::response(1, "a.example", RecordType::A, 0, &shared),
            ),
            fixtures::udp(
                at(2),
                2,
                CLIENT,
                SERVER,
                &fixtures::query(2, "b.example", RecordType::A),
            ),
            fixtures::udp(
                at(3),
                2,
                SERVER,
                CLIENT,
                &fixtures::response(2, "b.example", RecordType::A, 0, &shared_b),
            ),
        ],
    );
    assert_eq!(
        e.dns().expect("dns").name_of(ip("192.0.2.50")),
        Some("b.example")
    );
}

#[test]
fn the_log_is_a_ring_and_the_pending_table_is_capped() {
    let mut e = engine_with(EngineConfig {
        dns: Some(DnsConfig {
            log_capacity: 3,
            max_pending: 2,
            ..DnsConfig::default()
        }),
        ..EngineConfig::default()
    });
    let mut r = client_socket(CLIENT, SERVER, 100, "curl");
    let frames: Vec<OwnedFrame> = (0..5u16)
        .map(|i| {
            fixtures::udp(
                at(u64::from(i)),
                2,
                CLIENT,
                SERVER,
                &fixtures::query(i, "x.example", RecordType::A),
            )
        })
        .collect();
    feed(&mut e, &mut r, &frames);
    let dns = e.dns().expect("dns");
    let seqs: Vec<u64> = dns.log().map(|q| q.seq).collect();
    assert_eq!(seqs, [2, 3, 4]);
    assert_eq!(dns.total_queries(), 5);
    let statuses: Vec<QueryStatus> = dns.log().map(|q| q.status).collect();
    assert_eq!(statuses, [QueryStatus::Untracked; 3]);
    assert_eq!(dns.stats().untracked, 3);
    assert_eq!(dns.sizes().1, 2);
}

#[test]
fn without_dns_nothing_is_parsed() {
    let mut e = engine_with(EngineConfig {
        dns: None,
        ..EngineConfig::default()
    });
    let mut r = client_socket(CLIENT, SERVER, 100, "curl");
    feed(
        &mut e,
        &mut r,
        &[fixtures::udp(
            at(0),
            2,
            CLIENT,
            SERVER,
            &fixtures::query(1, "a.example", RecordType::A),
        )],
    );
    assert!(e.dns().is_none());
    // The traffic itself still counts.
    assert_eq!(e.report().processes[0].name, "curl");
}

#[test]
fn non_dns_and_damaged_payloads_on_port_53_are_counted_not_logged() {
    let mut e = engine();
    let mut r = client_socket(CLIENT, SERVER, 100, "curl");
    let good = fixtures::response(
        9,
        "cut.example",
        RecordType::A,
        0,
        &[
            ("cut.example", 60, a("192.0.2.9")),
            ("cut.example", 60, a("192.0.2.10")),
        ],
    );
    let frames = vec![
        fixtures::udp(at(0), 2, CLIENT, SERVER, b"GET / HTTP/1.1\r\n"),
        fixtures::udp(at(1), 2, CLIENT, SERVER, &[]),
        fixtures::udp(
            at(2),
            2,
            CLIENT,
            SERVER,
            &fixtures::query(9, "cut.example", RecordType::A),
        ),
        // The answer cut in the middle of its second record.
        fixtures::udp(at(3), 2, SERVER, CLIENT, &good[..good.len() - 3]),
    ];
    feed(&mut e, &mut r, &frames);
    let dns = e.dns().expect("dns");
    assert_eq!(dns.stats().parse_errors, 2);
    let log: Vec<&QueryRecord> = dns.log().collect();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].response, "192.0.2.9");
}

#[test]
fn huge_counts_and_compression_loops_do_not_allocate_or_loop() {
    // A response header announcing 65,535 of everything, and nothing else.
    let mut header = vec![
        0x12, 0x34, 0x81, 0x80, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    ];
    let m = parse_message(&header).expect("header reads");
    assert!(m.incomplete);
    assert!(m.answers.is_empty());
    // A question whose name is a pointer to itself.
    header[4..6].copy_from_slice(&[0, 1]);
    header.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
    assert_eq!(parse_message(&header), Err(ParseError::Malformed));
    // Two pointers pointing at each other.
    let mut looped = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0];
    looped.extend_from_slice(&[0xc0, 14, 0xc0, 12, 0, 1, 0, 1]);
    assert!(parse_message(&looped).is_err());
    assert_eq!(parse_message(&[1, 2, 3]), Err(ParseError::Truncated));
}

#[test]
fn at_most_max_answers_records_are_read() {
    let answers: Vec<(&str, u32, Data)> = (0..100)
        .map(|i| ("many.example", 60, Data::Addr(ip(&format!("10.1.0.{i}")))))
        .collect();
    let bytes = fixtures::response(1, "many.example", RecordType::A, 0, &answers);
    let m = parse_message(&bytes).expect("reads");
    assert_eq!(m.answers.len(), message::MAX_ANSWERS);
}

#[test]
fn a_stub_upstream_query_from_a_socket_too_brief_to_find_belongs_to_the_stub() {
    let mut e = engine();
    let app = "127.0.0.1:50001";
    let stub = "127.0.0.53:53";
    // The stub's upstream socket is in no table: gone before any lookup.
    let mut r = StaticResolver::new(vec![
        socket(Protocol::Udp, app, stub, 100, "curl"),
        socket(Protocol::Udp, stub, app, 300, "dnsmasq"),
    ]);
    feed(
        &mut e,
        &mut r,
        &[
            fixtures::udp(
                at(0),
                1,
                app,
                stub,
                &fixtures::query(1, "brief.example", RecordType::A),
            ),
            fixtures::udp(
                at(1),
                2,
                "10.0.0.1:61000",
                SERVER,
                &fixtures::query(2, "brief.example", RecordType::A),
            ),
        ],
    );
    let log = log(&e);
    assert_eq!(log[1].downstream, Some(0));
    assert_eq!(
        (log[1].pid, log[1].process.as_str()),
        (Some(300), "dnsmasq")
    );
}

#[test]
fn a_monitor_forgets_the_resolvers_of_an_interface_gone() {
    // A container's veth (index 7), asked through while it exists, then
    // deleted (its restart makes another): the monitor's lifecycle drops
    // its resolver row once the interface is gone and idle.
    let mut e = engine_with(EngineConfig {
        forget_exited_after: Some(Duration::from_secs(60)),
        ..EngineConfig::default()
    });
    let mut listed = interfaces();
    listed.push(InterfaceInfo {
        index: 7,
        name: "veth-c".into(),
        up: true,
        ..Default::default()
    });
    e.set_interfaces(&listed);
    let mut r = client_socket(CLIENT, SERVER, 100, "curl");
    let question = fixtures::query(1, "example.com", RecordType::A);
    feed(
        &mut e,
        &mut r,
        &[fixtures::udp(at(0), 7, CLIENT, SERVER, &question)],
    );
    let on_veth = |e: &Engine| {
        e.dns()
            .expect("dns")
            .resolver_stats()
            .iter()
            .filter(|s| s.interface == "veth-c")
            .count()
    };
    assert_eq!(on_veth(&e), 1);
    e.set_interfaces(&interfaces());
    e.age_processes(at(10_000), &mut r);
    assert_eq!(on_veth(&e), 1, "idle for under a minute: kept");
    e.age_processes(at(120_000), &mut r);
    assert_eq!(on_veth(&e), 0, "gone and idle: forgotten");
}

//! The socket table's matching rule: exact tuple first, then a socket
//! bound to the flow's local address, then a wildcard bind; IPv4-mapped
//! addresses are IPv4; answers for the same socket replace each other.

use std::net::SocketAddr;

use super::*;
use crate::flow::Protocol;

fn entry(proto: Protocol, local: &str, remote: &str, pid: u32) -> SocketEntry {
    let parse = |s: &str| s.parse::<SocketAddr>().expect("socket address");
    SocketEntry {
        proto,
        local: parse(local),
        remote: parse(remote),
        state: TcpState::None,
        inode: u64::from(pid),
        uid: 0,
        rtt_us: None,
        retrans: None,
        owner: Some(std::sync::Arc::new(ProcessInfo {
            pid,
            ..ProcessInfo::default()
        })),
        fd: None,
    }
}

fn key(proto: Protocol, local: &str, remote: &str) -> FlowKey {
    FlowKey::new(
        proto,
        local.parse().expect("local"),
        remote.parse().expect("remote"),
    )
}

fn pid(table: &SocketTable, k: &FlowKey) -> Option<u32> {
    table.find(k).and_then(|e| e.owner.as_ref()).map(|o| o.pid)
}

#[test]
fn the_exact_tuple_wins_over_a_bound_socket() {
    let table = SocketTable::new(vec![
        entry(Protocol::Tcp, "0.0.0.0:80", "0.0.0.0:0", 1),
        entry(Protocol::Tcp, "10.0.0.1:80", "10.0.0.2:5000", 2),
    ]);
    assert_eq!(
        pid(&table, &key(Protocol::Tcp, "10.0.0.1:80", "10.0.0.2:5000")),
        Some(2)
    );
    assert_eq!(
        pid(&table, &key(Protocol::Tcp, "10.0.0.1:80", "10.0.0.3:5000")),
        Some(1)
    );
    assert_eq!(
        pid(&table, &key(Protocol::Udp, "10.0.0.1:80", "10.0.0.2:5000")),
        None
    );
}

#[test]
fn a_bind_to_the_local_address_wins_over_the_wildcard() {
    let table = SocketTable::new(vec![
        entry(Protocol::Udp, "0.0.0.0:53", "0.0.0.0:0", 1),
        entry(Protocol::Udp, "127.0.0.53:53", "0.0.0.0:0", 2),
    ]);
    assert_eq!(
        pid(
            &table,
            &key(Protocol::Udp, "127.0.0.53:53", "127.0.0.1:4000")
        ),
        Some(2)
    );
    assert_eq!(
        pid(&table, &key(Protocol::Udp, "10.0.0.1:53", "10.0.0.9:4000")),
        Some(1)
    );
}

#[test]
fn an_ipv4_wildcard_does_not_take_ipv6_flows_but_an_ipv6_one_takes_both() {
    let v4 = SocketTable::new(vec![entry(Protocol::Tcp, "0.0.0.0:22", "0.0.0.0:0", 1)]);
    assert_eq!(
        pid(
            &v4,
            &key(Protocol::Tcp, "[2001:db8::1]:22", "[2001:db8::2]:4000")
        ),
        None
    );
    let v6 = SocketTable::new(vec![entry(Protocol::Tcp, "[::]:22", "[::]:0", 2)]);
    assert_eq!(
        pid(
            &v6,
            &key(Protocol::Tcp, "[2001:db8::1]:22", "[2001:db8::2]:4000")
        ),
        Some(2)
    );
    assert_eq!(
        pid(&v6, &key(Protocol::Tcp, "10.0.0.1:22", "10.0.0.2:4000")),
        Some(2)
    );
}

#[test]
fn ipv4_mapped_sockets_match_ipv4_packets() {
    let table = SocketTable::new(vec![entry(
        Protocol::Tcp,
        "[::ffff:10.0.0.1]:8080",
        "[::ffff:10.0.0.2]:5000",
        3,
    )]);
    assert_eq!(
        pid(
            &table,
            &key(Protocol::Tcp, "10.0.0.1:8080", "10.0.0.2:5000")
        ),
        Some(3)
    );
}

#[test]
fn an_answer_for_a_known_socket_replaces_it() {
    let mut table = SocketTable::default();
    for owner in [1, 2, 3] {
        table.insert(entry(Protocol::Tcp, "10.0.0.1:40000", "10.0.0.2:80", owner));
    }
    for owner in [4, 5] {
        let mut bound = entry(Protocol::Udp, "0.0.0.0:5353", "0.0.0.0:0", owner);
        bound.inode = 77;
        table.insert(bound);
    }
    assert_eq!(table.len(), 2, "answers replace, they do not append");
    assert_eq!(
        pid(
            &table,
            &key(Protocol::Udp, "10.0.0.1:5353", "10.0.0.9:5353")
        ),
        Some(5)
    );
    assert_eq!(
        pid(&table, &key(Protocol::Tcp, "10.0.0.1:40000", "10.0.0.2:80")),
        Some(3)
    );
}

#[test]
fn sockets_sharing_a_port_stay_apart() {
    // SO_REUSEPORT: two workers' listeners on the same address and port.
    let table = SocketTable::new(vec![
        entry(Protocol::Tcp, "0.0.0.0:80", "0.0.0.0:0", 1),
        entry(Protocol::Tcp, "0.0.0.0:80", "0.0.0.0:0", 2),
    ]);
    assert_eq!(table.len(), 2);
}

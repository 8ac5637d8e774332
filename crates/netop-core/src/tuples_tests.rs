//! The matching rule on its own and through the index: exact beats a
//! bind to the flow's address beats a wildcard; IPv4-mapped is IPv4; an
//! IPv4 wildcard does not take IPv6 flows, an IPv6 one takes both.

use super::*;

fn a(s: &str) -> SocketAddr {
    s.parse().expect("socket address")
}

const UNCONNECTED: &str = "0.0.0.0:0";

#[test]
fn the_rule_names_how_a_socket_matches() {
    let (local, remote) = (a("10.0.0.1:80"), a("10.0.0.2:5000"));
    assert_eq!(matches(local, remote, local, remote), Some(Via::Exact));
    assert_eq!(
        matches(local, a(UNCONNECTED), local, remote),
        Some(Via::Local)
    );
    assert_eq!(
        matches(a("0.0.0.0:80"), a(UNCONNECTED), local, remote),
        Some(Via::Wildcard)
    );
    assert_eq!(
        matches(a("[::]:80"), a("[::]:0"), local, remote),
        Some(Via::Wildcard),
        "a dual-stack wildcard takes IPv4 flows"
    );
    assert_eq!(
        matches(
            a("0.0.0.0:80"),
            a(UNCONNECTED),
            a("[2001:db8::1]:80"),
            a("[2001:db8::2]:5000")
        ),
        None,
        "an IPv4 wildcard does not take IPv6 flows"
    );
    assert_eq!(
        matches(
            a("[::ffff:10.0.0.1]:80"),
            a("[::ffff:10.0.0.2]:5000"),
            local,
            remote
        ),
        Some(Via::Exact),
        "IPv4-mapped is IPv4"
    );
    assert_eq!(matches(local, a("10.0.0.3:5000"), local, remote), None);
    assert_eq!(
        matches(a("10.0.0.9:80"), a(UNCONNECTED), local, remote),
        None
    );
    assert_eq!(
        matches(a("10.0.0.1:81"), a(UNCONNECTED), local, remote),
        None
    );
}

#[test]
fn the_index_prefers_exact_then_local_then_wildcard() {
    let mut index = TupleIndex::default();
    index.insert(
        Protocol::Tcp,
        a("0.0.0.0:80"),
        a(UNCONNECTED),
        1,
        "wildcard",
    );
    index.insert(Protocol::Tcp, a("10.0.0.1:80"), a(UNCONNECTED), 2, "local");
    index.insert(
        Protocol::Tcp,
        a("10.0.0.1:80"),
        a("10.0.0.2:5000"),
        3,
        "exact",
    );
    let find = |local: &str, remote: &str| {
        index
            .find(Protocol::Tcp, a(local), a(remote), |_, _| true, |_| 0)
            .map(|f| (*f.value, f.via))
    };
    assert_eq!(
        find("10.0.0.1:80", "10.0.0.2:5000"),
        Some(("exact", Via::Exact))
    );
    assert_eq!(
        find("10.0.0.1:80", "10.0.0.3:5000"),
        Some(("local", Via::Local))
    );
    assert_eq!(
        find("10.0.0.7:80", "10.0.0.3:5000"),
        Some(("wildcard", Via::Wildcard))
    );
    assert_eq!(find("10.0.0.7:81", "10.0.0.3:5000"), None);
    // For UDP, nothing there.
    assert!(index
        .find(
            Protocol::Udp,
            a("10.0.0.1:80"),
            a("10.0.0.2:5000"),
            |_, _| true,
            |_| 0
        )
        .is_none());
}

#[test]
fn usable_and_rank_choose_among_candidates() {
    let mut index = TupleIndex::default();
    index.insert(
        Protocol::Udp,
        a("0.0.0.0:53"),
        a(UNCONNECTED),
        1,
        (1, "old"),
    );
    index.insert(
        Protocol::Udp,
        a("0.0.0.0:53"),
        a(UNCONNECTED),
        2,
        (5, "new"),
    );
    index.insert(
        Protocol::Udp,
        a("0.0.0.0:53"),
        a(UNCONNECTED),
        3,
        (9, "other ns"),
    );
    let flow = (a("10.0.0.1:53"), a("10.0.0.2:4000"));
    let found = index
        .find(
            Protocol::Udp,
            flow.0,
            flow.1,
            |v, _| v.1 != "other ns",
            |v| v.0,
        )
        .expect("found");
    assert_eq!(found.value.1, "new");
    assert_eq!(found.local, a("0.0.0.0:53"));
    assert_eq!(found.remote, a(UNCONNECTED));
}

#[test]
fn a_socket_inserted_again_replaces_and_tags_keep_binds_apart() {
    let mut index = TupleIndex::default();
    assert_eq!(
        index.insert(Protocol::Tcp, a("10.0.0.1:1"), a("10.0.0.2:2"), 0, 1),
        None
    );
    assert_eq!(
        index.insert(
            Protocol::Tcp,
            a("[::ffff:10.0.0.1]:1"),
            a("10.0.0.2:2"),
            0,
            2
        ),
        Some(1)
    );
    assert_eq!(
        index.insert(Protocol::Udp, a("0.0.0.0:9"), a(UNCONNECTED), 7, 3),
        None
    );
    assert_eq!(
        index.insert(Protocol::Udp, a("0.0.0.0:9"), a(UNCONNECTED), 8, 4),
        None
    );
    assert_eq!(
        index.insert(Protocol::Udp, a("0.0.0.0:9"), a(UNCONNECTED), 7, 5),
        Some(3)
    );
    assert_eq!(index.len(), 3);
    assert_eq!(index.bound_on(Protocol::Udp, 9), 2);
    index.evict_bound(Protocol::Udp, 9, |v| *v);
    assert_eq!(index.bound_on(Protocol::Udp, 9), 1);
    index.retain(|v| *v != 2);
    assert_eq!(index.len(), 1);
    let all: Vec<_> = index.iter().map(|(_, _, _, v)| *v).collect();
    assert_eq!(all, vec![5]);
}

#[test]
fn get_answers_exactly_this_socket() {
    let mut index = TupleIndex::default();
    index.insert(Protocol::Udp, a("0.0.0.0:9"), a(UNCONNECTED), 0, "wildcard");
    index.insert(Protocol::Udp, a("10.0.0.1:9"), a(UNCONNECTED), 0, "bound");
    let get = |local: &str| index.get(Protocol::Udp, a(local), a(UNCONNECTED), |_| true, |_| 0);
    assert_eq!(get("10.0.0.1:9"), Some(&"bound"));
    assert_eq!(get("0.0.0.0:9"), Some(&"wildcard"));
    assert_eq!(get("10.0.0.2:9"), None, "no wildcard fallback");
}

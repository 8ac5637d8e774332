//! The Linux resolver against real sockets of this test process: the dump
//! and the exact lookup must both find them and name us as the owner.
//! sock_diag and our own `/proc/self/fd` need no privileges, so these run
//! everywhere.
#![cfg(target_os = "linux")]

use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};

use netop_core::{FlowKey, Protocol, SocketEntry, SocketResolver, TcpState};
use netop_linux::LinuxResolver;

fn key(proto: Protocol, local: SocketAddr, remote: SocketAddr) -> FlowKey {
    FlowKey {
        proto,
        local_ip: local.ip(),
        local_port: local.port(),
        remote_ip: remote.ip(),
        remote_port: remote.port(),
    }
}

fn assert_ours(entry: &SocketEntry, what: &str) {
    let owner = entry
        .owner
        .as_ref()
        .unwrap_or_else(|| panic!("{what}: no owner in {entry:?}"));
    assert_eq!(owner.pid, std::process::id(), "{what}: owner pid");
    assert!(!owner.name.is_empty(), "{what}: owner name");
    assert!(!owner.user.is_empty(), "{what}: owner user");
    assert_ne!(entry.inode, 0, "{what}: inode");
}

fn tcp_pair(bind: &str) -> Option<(TcpListener, TcpStream, TcpStream)> {
    let listener = TcpListener::bind(bind).ok()?;
    let client = TcpStream::connect(listener.local_addr().ok()?).ok()?;
    let (server, _) = listener.accept().ok()?;
    Some((listener, client, server))
}

#[test]
fn dump_contains_both_ends_of_a_tcp_connection() {
    let (listener, client, server) = tcp_pair("127.0.0.1:0").expect("loopback tcp");
    let (c, s) = (
        client.local_addr().expect("addr"),
        server.local_addr().expect("addr"),
    );
    let mut resolver = LinuxResolver::new().expect("resolver");
    let table = resolver.sockets().expect("dump");

    let client_end = table
        .find(&key(Protocol::Tcp, c, s))
        .expect("client end in dump");
    assert_eq!(client_end.state, TcpState::Established);
    assert_eq!((client_end.local, client_end.remote), (c, s));
    assert!(client_end.rtt_us.is_some(), "tcp_info parsed");
    assert_ours(client_end, "client end");

    let server_end = table
        .find(&key(Protocol::Tcp, s, c))
        .expect("server end in dump");
    assert_eq!((server_end.local, server_end.remote), (s, c));
    assert_ours(server_end, "server end");

    let listen = table
        .entries()
        .iter()
        .find(|e| e.local == listener.local_addr().expect("addr") && e.state == TcpState::Listen)
        .expect("listener in dump");
    assert_ours(listen, "listener");
}

#[test]
fn exact_lookup_finds_tcp_connection() {
    let (_listener, client, server) = tcp_pair("127.0.0.1:0").expect("loopback tcp");
    let (c, s) = (
        client.local_addr().expect("addr"),
        server.local_addr().expect("addr"),
    );
    let mut resolver = LinuxResolver::new().expect("resolver");
    let found = resolver
        .lookup(&key(Protocol::Tcp, c, s))
        .expect("lookup")
        .expect("client socket found");
    assert_eq!((found.local, found.remote), (c, s));
    assert_eq!(found.state, TcpState::Established);
    assert_ours(&found, "client lookup");

    let found = resolver
        .lookup(&key(Protocol::Tcp, s, c))
        .expect("lookup")
        .expect("server socket found");
    assert_eq!((found.local, found.remote), (s, c));
    assert_ours(&found, "server lookup");
}

#[test]
fn exact_lookup_of_an_ipv6_tcp_connection() {
    let Some((_l, client, server)) = tcp_pair("[::1]:0") else {
        netop_core::testing::skip("no IPv6 loopback");
        return;
    };
    let (c, s) = (
        client.local_addr().expect("addr"),
        server.local_addr().expect("addr"),
    );
    let mut resolver = LinuxResolver::new().expect("resolver");
    let found = resolver
        .lookup(&key(Protocol::Tcp, c, s))
        .expect("lookup")
        .expect("found");
    assert_eq!((found.local, found.remote), (c, s));
    assert_ours(&found, "ipv6 lookup");
}

#[test]
fn exact_lookup_finds_connected_udp_socket() {
    let a = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let b = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let (a_addr, b_addr) = (a.local_addr().expect("addr"), b.local_addr().expect("addr"));
    a.connect(b_addr).expect("connect");
    a.send(b"hello").expect("send");

    let mut resolver = LinuxResolver::new().expect("resolver");
    let found = resolver
        .lookup(&key(Protocol::Udp, a_addr, b_addr))
        .expect("lookup")
        .expect("connected udp socket found");
    assert_eq!((found.local, found.remote), (a_addr, b_addr));
    assert_eq!(found.state, TcpState::None);
    assert_ours(&found, "connected udp");

    let table = resolver.sockets().expect("dump");
    let dumped = table
        .find(&key(Protocol::Udp, a_addr, b_addr))
        .expect("in dump");
    assert_eq!(dumped.inode, found.inode);
    assert_ours(dumped, "connected udp in dump");
}

#[test]
fn exact_lookup_finds_unconnected_udp_socket() {
    let a = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let peer = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let (a_addr, peer_addr) = (
        a.local_addr().expect("addr"),
        peer.local_addr().expect("addr"),
    );
    a.send_to(b"hello", peer_addr).expect("send");

    let mut resolver = LinuxResolver::new().expect("resolver");
    let found = resolver
        .lookup(&key(Protocol::Udp, a_addr, peer_addr))
        .expect("lookup")
        .expect("unconnected udp socket found");
    assert_eq!(found.local, a_addr, "our socket, not the peer's");
    assert!(found.is_unconnected());
    assert_ours(&found, "unconnected udp");

    // And the peer's view of the same datagram finds the peer's socket.
    let found = resolver
        .lookup(&key(Protocol::Udp, peer_addr, a_addr))
        .expect("lookup")
        .expect("peer socket found");
    assert_eq!(found.local, peer_addr);
}

#[test]
fn exact_lookup_of_a_wildcard_bound_udp_socket() {
    let a = UdpSocket::bind("0.0.0.0:0").expect("bind");
    let port = a.local_addr().expect("addr").port();
    let local: SocketAddr = ([127, 0, 0, 1], port).into();
    let remote: SocketAddr = "127.0.0.1:9".parse().expect("addr");
    let mut resolver = LinuxResolver::new().expect("resolver");
    let found = resolver
        .lookup(&key(Protocol::Udp, local, remote))
        .expect("lookup")
        .expect("wildcard udp socket found");
    assert_eq!(found.local.port(), port);
    assert!(found.local.ip().is_unspecified());
    assert_ours(&found, "wildcard udp");
}

#[test]
fn exact_lookup_of_an_unseen_inbound_tcp_flow_finds_the_listener() {
    // What the engine sees for a SYN before any connection socket exists.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let local = listener.local_addr().expect("addr");
    let remote: SocketAddr = "127.0.0.1:9".parse().expect("addr");
    let mut resolver = LinuxResolver::new().expect("resolver");
    let found = resolver
        .lookup(&key(Protocol::Tcp, local, remote))
        .expect("lookup")
        .expect("listener found");
    assert_eq!(found.state, TcpState::Listen);
    assert_eq!(found.local, local);
    assert!(found.is_unconnected());
    assert_eq!(found.rtt_us, None);
    assert_ours(&found, "listener lookup");
}

#[test]
fn exact_lookup_of_nothing_is_none() {
    let mut resolver = LinuxResolver::new().expect("resolver");
    // Port 1 on loopback with a peer nobody uses: no socket, no listener.
    let k = key(
        Protocol::Tcp,
        "127.0.0.1:1".parse().expect("addr"),
        "127.0.0.1:2".parse().expect("addr"),
    );
    assert_eq!(resolver.lookup(&k).expect("lookup"), None);
    let k = FlowKey {
        proto: Protocol::Udp,
        ..k
    };
    assert_eq!(resolver.lookup(&k).expect("lookup"), None);
    let k = FlowKey {
        proto: Protocol::Icmp,
        ..k
    };
    assert_eq!(resolver.lookup(&k).expect("lookup"), None);
}

//! The owner search on its own thread (`OwnerThread`) answers as the
//! resolver it wraps (tests/confine.rs: a Landlocked caller, as root).
//! sock_diag and our own `/proc/self/fd` need no privileges, so this runs
//! everywhere.
#![cfg(target_os = "linux")]

use std::net::{SocketAddr, TcpListener, TcpStream};

use netop_core::{FlowKey, Protocol, SocketResolver};
use netop_linux::{LinuxResolver, OwnerThread};

fn key(local: SocketAddr, remote: SocketAddr) -> FlowKey {
    FlowKey {
        proto: Protocol::Tcp,
        local_ip: local.ip(),
        local_port: local.port(),
        remote_ip: remote.ip(),
        remote_port: remote.port(),
    }
}

#[test]
fn the_owner_thread_answers_as_the_resolver_it_wraps() {
    let mut proxy = OwnerThread::spawn(LinuxResolver::new().expect("resolver")).expect("thread");
    // Opened after the thread started: its answers are fresh, not copies.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let client = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
    let (server, _) = listener.accept().expect("accept");
    let (c, s) = (
        client.local_addr().expect("addr"),
        server.local_addr().expect("addr"),
    );
    let table = proxy.sockets().expect("table");
    for (local, remote) in [(c, s), (s, c)] {
        let entry = table.find(&key(local, remote)).expect("both ends listed");
        let owner = entry.owner.as_ref().expect("owner");
        assert_eq!(owner.pid, std::process::id());
    }
    let found = proxy
        .lookup(&key(c, s))
        .expect("lookup")
        .expect("the client end");
    assert_eq!(found.owner.map(|o| o.pid), Some(std::process::id()));
    assert_eq!(proxy.exited(&[(std::process::id(), 0)]), Vec::new());
    assert_eq!(proxy.lost_events(), 0, "polling drops nothing");
    assert!(proxy.owner_changes().is_empty(), "polling changes no hands");
    // Dropping the proxy stops and joins its thread (the test would hang).
    drop(proxy);
}

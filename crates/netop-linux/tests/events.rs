//! The eBPF event source against real sockets: each tracepoint fires as
//! the design says (connect without data, first send, first receive,
//! unconnected UDP), each socket is told once, and the resolver names the
//! owner of a connection whose process has exited.
//!
//! Needs root (loading eBPF): skipped otherwise, a failure under `CI`. A
//! build without clang has no program: also a skip, a failure under `CI`.
#![cfg(target_os = "linux")]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};

use netop_core::OwnerMode;
use netop_core::{Protocol, SocketResolver};
use netop_linux::events::{own_netns, EventKind, EventSource, SocketEvent};
use netop_linux::LinuxResolver;

mod short_connection;

/// The event source, or `None` (skip) where it cannot run outside CI.
fn source() -> Option<EventSource> {
    match EventSource::open() {
        Ok(source) => Some(source),
        Err(why) => {
            netop_core::testing::skip(&format!("event source unavailable: {why}"));
            None
        }
    }
}

fn drain(source: &mut EventSource) -> Vec<SocketEvent> {
    let mut events = Vec::new();
    source.drain_with(&mut |e| events.push(e.clone()));
    events
}

fn about(events: &[SocketEvent], local: SocketAddr, remote: SocketAddr) -> Vec<SocketEvent> {
    events
        .iter()
        .filter(|e| e.local == local && e.remote == remote)
        .cloned()
        .collect()
}

#[test]
fn a_connect_that_sends_nothing_is_told_with_the_connecting_process() {
    let Some(mut source) = source() else { return };
    let listener = TcpListener::bind("127.0.0.1:0").expect("listen");
    let server = listener.local_addr().expect("addr");
    drain(&mut source);
    let client = TcpStream::connect(server).expect("connect");
    let local = client.local_addr().expect("addr");
    let events = drain(&mut source);
    let mine = about(&events, local, server);
    assert_eq!(mine.len(), 1, "one connect event for {local}: {events:?}");
    let e = &mine[0];
    assert_eq!(e.kind, EventKind::Connect);
    assert_eq!(e.proto, Protocol::Tcp);
    assert_eq!(e.pid, std::process::id());
    assert_eq!(e.uid, 0);
    assert!(!e.comm.is_empty());
    assert_eq!(Some(e.netns), own_netns());
}

#[test]
fn send_and_receive_tell_each_socket_once() {
    let Some(mut source) = source() else { return };
    let listener = TcpListener::bind("127.0.0.1:0").expect("listen");
    let server_addr = listener.local_addr().expect("addr");
    let mut client = TcpStream::connect(server_addr).expect("connect");
    let (mut server, client_addr) = listener.accept().expect("accept");
    drain(&mut source);

    let mut buf = [0u8; 100];
    client.write_all(&buf).expect("send");
    server.read_exact(&mut buf).expect("recv");
    let events = drain(&mut source);
    // The client was told at connect; the accepted socket on its first
    // receive, in this process's context.
    assert!(
        about(&events, client_addr, server_addr).is_empty(),
        "{events:?}"
    );
    let accepted = about(&events, server_addr, client_addr);
    assert_eq!(accepted.len(), 1, "{events:?}");
    assert_eq!(accepted[0].kind, EventKind::Recv);
    assert_eq!(accepted[0].pid, std::process::id());

    for _ in 0..10 {
        server.write_all(&buf).expect("send");
        client.read_exact(&mut buf).expect("recv");
    }
    let events = drain(&mut source);
    assert!(
        about(&events, client_addr, server_addr).is_empty(),
        "{events:?}"
    );
    assert!(
        about(&events, server_addr, client_addr).is_empty(),
        "{events:?}"
    );
}

#[test]
fn unconnected_udp_is_told_with_its_bound_port_and_no_remote() {
    let Some(mut source) = source() else { return };
    let a = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let b = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let (a_addr, b_addr) = (a.local_addr().expect("addr"), b.local_addr().expect("addr"));
    let none: SocketAddr = "0.0.0.0:0".parse().expect("addr");
    drain(&mut source);
    a.send_to(b"ping", b_addr).expect("send");
    let mut buf = [0u8; 16];
    b.recv_from(&mut buf).expect("recv");
    let events = drain(&mut source);
    let sent = about(&events, a_addr, none);
    let received = about(&events, b_addr, none);
    assert_eq!(sent.len(), 1, "{events:?}");
    assert_eq!(sent[0].kind, EventKind::Send);
    assert_eq!(sent[0].proto, Protocol::Udp);
    assert_eq!(received.len(), 1, "{events:?}");
    assert_eq!(received[0].kind, EventKind::Recv);
}

#[test]
fn an_autobound_udp_port_is_known_after_the_first_send() {
    let Some(mut source) = source() else { return };
    let b = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let a = UdpSocket::bind("0.0.0.0:0").expect("bind");
    a.connect(b.local_addr().expect("addr")).expect("connect");
    drain(&mut source);
    a.send(b"ping").expect("send");
    let local = a.local_addr().expect("addr");
    let events = drain(&mut source);
    let sent: Vec<_> = events
        .iter()
        .filter(|e| e.proto == Protocol::Udp && e.local.port() == local.port())
        .collect();
    assert_eq!(sent.len(), 1, "{events:?}");
    assert_eq!(sent[0].remote, b.local_addr().expect("addr"));
    assert_eq!(sent[0].local.ip().to_string(), "127.0.0.1");
}

#[test]
fn the_resolver_names_the_owner_of_a_connection_whose_process_exited() {
    if source().is_none() {
        return;
    }
    let mut resolver = LinuxResolver::with_events(true).expect("resolver");
    assert_eq!(resolver.event_mode(), OwnerMode::Events);
    // A process that connects, sends a line and exits at once.
    let (pid, key, entry) = short_connection::short_lived_client(&mut resolver);
    let owner = entry.owner.expect("owner");
    assert_eq!(owner.pid, pid);
    assert_eq!(owner.name, "bash");
    assert_eq!(owner.user, "root");
    // The table has it too, though the kernel's dump may not any more.
    let table = resolver.sockets().expect("table");
    let row = table.find(&key).expect("in the table");
    assert_eq!(row.owner.as_ref().map(|o| o.pid), Some(pid));
}

#[test]
fn turned_off_events_say_so() {
    let resolver = LinuxResolver::with_events(false).expect("resolver");
    match resolver.event_mode() {
        OwnerMode::Polling { reason } => assert!(reason.contains("--no-events"), "{reason}"),
        other => panic!("expected polling, got {other:?}"),
    }
}

/// The socket's cookie as userspace reads it (`SO_COOKIE`).
fn socket_cookie(socket: &impl std::os::fd::AsRawFd) -> u64 {
    let mut cookie = 0u64;
    let mut len = std::mem::size_of::<u64>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into `cookie`, which
    // lives for the call; the descriptor is open.
    let rc = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_COOKIE,
            (&mut cookie as *mut u64).cast(),
            &mut len,
        )
    };
    assert_eq!(rc, 0, "SO_COOKIE: {}", std::io::Error::last_os_error());
    cookie
}

#[test]
fn issue_17_a_record_carries_the_sockets_cookie_and_the_resolver_answers_by_it() {
    let Some(mut source) = source() else {
        return;
    };
    let receiver = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let sender = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let (from, to) = (
        sender.local_addr().expect("addr"),
        receiver.local_addr().expect("addr"),
    );
    sender.send_to(b"cookie", to).expect("send");
    let cookie = socket_cookie(&sender);
    assert_ne!(cookie, 0);
    let events = drain(&mut source);
    let sent: Vec<&SocketEvent> = events
        .iter()
        .filter(|e| e.local == from && e.kind == EventKind::Send)
        .collect();
    assert_eq!(sent.len(), 1, "{events:?}");
    assert_eq!(
        sent[0].cookie,
        Some(cookie),
        "the kernel's cookie of the socket"
    );
    drop(source);
    // Through the resolver: told by the ring, answered by cookie.
    let mut resolver = LinuxResolver::with_events(true).expect("resolver");
    let other = UdpSocket::bind("127.0.0.1:0").expect("bind");
    other.send_to(b"cookie", to).expect("send");
    let cookie = socket_cookie(&other);
    let answers = resolver.cookie_owners(&[cookie, cookie ^ 1]);
    let pids: Vec<(u64, u32)> = answers.iter().map(|(c, p)| (*c, p.pid)).collect();
    assert_eq!(pids, vec![(cookie, std::process::id())]);
}

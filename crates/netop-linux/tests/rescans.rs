//! The owner index is incremental: once every socket's owner is known,
//! further dumps rescan no process. Its own test binary, so that no other
//! test of this crate opens sockets meanwhile (libtest runs a binary's
//! tests in parallel threads; cargo runs binaries one at a time).
#![cfg(target_os = "linux")]

use std::net::{TcpListener, TcpStream};

use netop_core::SocketResolver;
use netop_linux::LinuxResolver;

#[test]
fn repeated_dumps_rescan_nothing_once_owners_are_known() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let _client = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
    let _server = listener.accept().expect("accept");
    let mut resolver = LinuxResolver::new().expect("resolver");
    resolver.sockets().expect("dump");
    let before = resolver.scan_stats();
    for _ in 0..5 {
        resolver.sockets().expect("dump");
    }
    let after = resolver.scan_stats();
    // One rescan of slack for a socket some other program on the machine
    // opens meanwhile; a rescan per dump (the old cost) would be 5.
    assert!(
        after.full_scans - before.full_scans <= 1,
        "{before:?} -> {after:?}"
    );
}

//! A process that connects, sends a line and exits at once, and what the
//! resolver then says of its closed socket: the case an owner source
//! exists for (shared by the event source's and the tracepoint's tests).

use std::io::Read;
use std::net::TcpListener;
use std::process::Command;

use netop_core::{FlowKey, Protocol, SocketEntry, SocketResolver};
use netop_linux::LinuxResolver;

/// Runs the short-lived `bash` client against a local listener; returns
/// its pid, the flow's key and the resolver's answer for it.
pub fn short_lived_client(resolver: &mut LinuxResolver) -> (u32, FlowKey, SocketEntry) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("listen");
    let server = listener.local_addr().expect("addr");
    let script = format!(
        "exec 3<>/dev/tcp/127.0.0.1/{}; echo hello >&3; exec 3>&-",
        server.port()
    );
    let mut child = Command::new("bash")
        .args(["-c", &script])
        .spawn()
        .expect("bash");
    let pid = child.id();
    let (mut conn, client) = listener.accept().expect("accept");
    let mut line = String::new();
    conn.read_to_string(&mut line).expect("read");
    assert!(child.wait().expect("wait").success());
    drop(conn);
    let key = FlowKey {
        proto: Protocol::Tcp,
        local_ip: client.ip(),
        local_port: client.port(),
        remote_ip: server.ip(),
        remote_port: server.port(),
    };
    let entry = resolver
        .lookup(&key)
        .expect("lookup")
        .expect("the cache knows the closed socket");
    (pid, key, entry)
}

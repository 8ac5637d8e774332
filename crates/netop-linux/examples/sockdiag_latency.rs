//! Measures what the resolver costs: full dumps (with owners) and exact
//! lookups, with N loopback TCP connections open (2N+1 sockets of ours);
//! and what the owner thread adds (`OwnerThread`, the proxy the capture
//! thread calls: the same lookups, each a round trip to that thread).
//!
//! ```text
//! ulimit -n 65536
//! cargo run --release -p netop-linux --example sockdiag_latency -- 500
//! ```

#[cfg(target_os = "linux")]
fn main() {
    use std::net::{TcpListener, TcpStream, UdpSocket};
    use std::time::Instant;

    use netop_core::{FlowKey, Protocol, SocketResolver};
    use netop_linux::sockdiag::{Family, SockDiag};
    use netop_linux::{LinuxResolver, OwnerThread};

    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(500);
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let mut conns = Vec::with_capacity(n);
    for _ in 0..n {
        let c = TcpStream::connect(addr).expect("connect (raise ulimit -n?)");
        let (s, _) = listener.accept().expect("accept");
        conns.push((c, s));
    }
    let udp = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let peer = UdpSocket::bind("127.0.0.1:0").expect("bind");
    udp.send_to(b"x", peer.local_addr().expect("addr"))
        .expect("send");

    let mut diag = SockDiag::open().expect("sock_diag");
    let mut total = 0;
    let t = Instant::now();
    const DUMPS: u32 = 20;
    for _ in 0..DUMPS {
        total = 0;
        for proto in [Protocol::Tcp, Protocol::Udp] {
            for family in [Family::V4, Family::V6] {
                total += diag.dump(proto, family).expect("dump").len();
            }
        }
    }
    let raw_dump = t.elapsed() / DUMPS;
    let mut per_table = Vec::new();
    for proto in [Protocol::Tcp, Protocol::Udp] {
        for family in [Family::V4, Family::V6] {
            let t = Instant::now();
            for _ in 0..DUMPS {
                std::hint::black_box(diag.dump(proto, family).expect("dump"));
            }
            per_table.push(format!("{proto}/{family:?} {:?}", t.elapsed() / DUMPS));
        }
    }

    let mut resolver = LinuxResolver::new().expect("resolver");
    let t = Instant::now();
    let table = resolver.sockets().expect("sockets");
    let cold = t.elapsed();
    let owned = table.entries().iter().filter(|e| e.owner.is_some()).count();
    let t = Instant::now();
    for _ in 0..DUMPS {
        resolver.sockets().expect("sockets");
    }
    let warm = t.elapsed() / DUMPS;

    let (c, s) = &conns[n / 2];
    let tcp_key = FlowKey {
        proto: Protocol::Tcp,
        local_ip: c.local_addr().expect("addr").ip(),
        local_port: c.local_addr().expect("addr").port(),
        remote_ip: s.local_addr().expect("addr").ip(),
        remote_port: s.local_addr().expect("addr").port(),
    };
    let udp_key = FlowKey {
        proto: Protocol::Udp,
        local_ip: udp.local_addr().expect("addr").ip(),
        local_port: udp.local_addr().expect("addr").port(),
        remote_ip: peer.local_addr().expect("addr").ip(),
        remote_port: peer.local_addr().expect("addr").port(),
    };
    let miss_key = FlowKey {
        local_port: 1,
        remote_port: 2,
        ..tcp_key
    };
    const LOOKUPS: u32 = 20_000;
    let mut time = |key: &FlowKey| {
        let t = Instant::now();
        for _ in 0..LOOKUPS {
            std::hint::black_box(diag.lookup_one(key).expect("lookup"));
        }
        t.elapsed() / LOOKUPS
    };
    let tcp_hit = time(&tcp_key);
    let udp_hit = time(&udp_key);
    let tcp_miss = time(&miss_key);
    let t = Instant::now();
    for _ in 0..LOOKUPS {
        std::hint::black_box(resolver.lookup(&tcp_key).expect("lookup"));
    }
    let resolver_hit = t.elapsed() / LOOKUPS;
    let t = Instant::now();
    for _ in 0..LOOKUPS {
        std::hint::black_box(resolver.lookup(&miss_key).expect("lookup"));
    }
    let resolver_miss = t.elapsed() / LOOKUPS;
    let stats = resolver.scan_stats();

    let mut proxy = OwnerThread::spawn(LinuxResolver::new().expect("resolver")).expect("thread");
    proxy.sockets().expect("sockets");
    let t = Instant::now();
    for _ in 0..LOOKUPS {
        std::hint::black_box(proxy.lookup(&tcp_key).expect("lookup"));
    }
    let proxy_hit = t.elapsed() / LOOKUPS;
    let t = Instant::now();
    for _ in 0..LOOKUPS {
        std::hint::black_box(proxy.lookup(&miss_key).expect("lookup"));
    }
    let proxy_miss = t.elapsed() / LOOKUPS;
    let t = Instant::now();
    for _ in 0..DUMPS {
        proxy.sockets().expect("sockets");
    }
    let proxy_warm = t.elapsed() / DUMPS;
    // A call without a system call (no process to check): the round
    // trip alone.
    let t = Instant::now();
    for _ in 0..LOOKUPS {
        std::hint::black_box(proxy.exited(&[]));
    }
    let round_trip = t.elapsed() / LOOKUPS;
    let per_second = |d: std::time::Duration| 1.0 / d.as_secs_f64();
    // Once a batch the engine asks for the sockets that changed hands: at
    // most about a thousand times a second under traffic (the capture
    // gathers for 1 ms). CPU of the whole process per call, calls 1 ms
    // apart, inline and through the owner thread.
    let cpu_per_call = |resolver: &mut dyn SocketResolver| {
        const CALLS: u32 = 2_000;
        let before = process_cpu();
        for _ in 0..CALLS {
            std::hint::black_box(resolver.owner_changes());
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        (process_cpu() - before) / CALLS
    };
    let inline_changes_cpu = cpu_per_call(&mut resolver);
    let proxy_changes_cpu = cpu_per_call(&mut proxy);

    println!("sockets in dump (tcp+udp, v4+v6): {total}; with owner: {owned}");
    println!("raw sock_diag dump, all 4 tables: {raw_dump:?}");
    println!("  per table: {}", per_table.join(", "));
    println!("LinuxResolver::sockets() cold (first /proc scan): {cold:?}");
    println!("LinuxResolver::sockets() warm: {warm:?}");
    println!("exact lookup_one TCP hit: {tcp_hit:?}");
    println!("exact lookup_one UDP hit (unconnected): {udp_hit:?}");
    println!("exact lookup_one TCP miss (ENOENT): {tcp_miss:?}");
    println!("LinuxResolver::lookup TCP hit (owner cached): {resolver_hit:?}");
    println!("LinuxResolver::lookup TCP miss: {resolver_miss:?}");
    println!("owner index work: {stats:?}");
    println!(
        "OwnerThread::lookup TCP hit: {proxy_hit:?} ({:.0}/s; inline {:.0}/s)",
        per_second(proxy_hit),
        per_second(resolver_hit)
    );
    println!(
        "OwnerThread::lookup TCP miss: {proxy_miss:?} ({:.0}/s; inline {:.0}/s)",
        per_second(proxy_miss),
        per_second(resolver_miss)
    );
    println!("OwnerThread::sockets() warm: {proxy_warm:?} (inline {warm:?})");
    println!("OwnerThread round trip alone (exited of none): {round_trip:?}");
    println!(
        "owner_changes every 1 ms, process CPU per call: inline {inline_changes_cpu:?}, owner thread {proxy_changes_cpu:?}"
    );
}

/// CPU time of the whole process (every thread) so far.
#[cfg(target_os = "linux")]
fn process_cpu() -> std::time::Duration {
    // SAFETY: getrusage fills the struct it is given and nothing else.
    let usage = unsafe {
        let mut usage = std::mem::zeroed::<libc::rusage>();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let micros = |t: libc::timeval| {
        u64::try_from(t.tv_sec).unwrap_or(0) * 1_000_000 + u64::try_from(t.tv_usec).unwrap_or(0)
    };
    std::time::Duration::from_micros(micros(usage.ru_utime) + micros(usage.ru_stime))
}

#[cfg(not(target_os = "linux"))]
fn main() {}

//! Writes seed inputs for the fuzz targets of `fuzz/` (run by `cargo
//! xtask fuzz` before fuzzing): well-formed frames, DNS messages over UDP
//! and TCP, and cgroup texts, so a few seconds of fuzzing start from
//! inputs that reach deep into each parser instead of from random bytes.
//!
//! `cargo run -p netop-core --features testing --example fuzz_seeds -- DIR`
//! writes `DIR/<target>/<name>`.

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use hickory_proto::rr::RecordType;
use netop_core::dns::fixtures::{self, Data, Flags};
use netop_core::testing::{OwnedFrame, PacketSpec};

fn write(dir: &Path, target: &str, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let d = dir.join(target);
    std::fs::create_dir_all(&d)?;
    std::fs::write(d.join(name), bytes)
}

/// Frames as the `engine_dns` target reads them: 2-byte little-endian
/// length, then the cooked-v2 frame.
fn sequence(frames: &[OwnedFrame]) -> Vec<u8> {
    let mut out = Vec::new();
    for f in frames {
        out.extend_from_slice(&(f.data.len() as u16).to_le_bytes());
        out.extend_from_slice(&f.data);
    }
    out
}

fn main() -> std::io::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "fuzz/seeds".to_string());
    let dir = Path::new(&dir);
    let ts = Duration::from_secs(1_700_000_000);
    let query = fixtures::query(0x1234, "example.com.", RecordType::A);
    let answer = fixtures::response(
        0x1234,
        "example.com.",
        RecordType::A,
        0,
        &[
            ("example.com.", 300, Data::Cname("www.example.net.")),
            (
                "www.example.net.",
                60,
                Data::Addr(IpAddr::from([192, 0, 2, 7])),
            ),
        ],
    );
    write(dir, "dns_message", "query", &query)?;
    write(dir, "dns_message", "answer", &answer)?;

    let (client, server) = ("192.0.2.10:40000", "198.51.100.53:53");
    let udp = [
        fixtures::udp(ts, 2, client, server, &query),
        fixtures::udp(ts, 2, server, client, &answer),
    ];
    write(dir, "engine_dns", "udp", &sequence(&udp))?;
    let mut stream = fixtures::framed(&query);
    stream.extend(fixtures::framed(&query));
    let (half, rest) = stream.split_at(stream.len() / 2);
    let syn = Flags {
        syn: true,
        ..Flags::default()
    };
    let tcp = [
        fixtures::tcp(ts, 2, client, server, 100, syn, &[]),
        fixtures::tcp(ts, 2, client, server, 101, Flags::default(), half),
        fixtures::tcp(
            ts,
            2,
            client,
            server,
            101 + half.len() as u32,
            Flags::default(),
            rest,
        ),
        fixtures::tcp(
            ts,
            2,
            server,
            client,
            500,
            Flags::default(),
            &fixtures::framed(&answer),
        ),
    ];
    write(dir, "engine_dns", "tcp", &sequence(&tcp))?;
    let v6 = [fixtures::udp(
        ts,
        3,
        "[2001:db8::1]:40001",
        "[2001:db8::53]:53",
        &query,
    )];
    write(dir, "engine_dns", "udp6", &sequence(&v6))?;

    // link_ip_decode: the first byte picks the link type (0 Ethernet,
    // 2 cooked v2, 7 PKTAP).
    let tcp_spec = PacketSpec::tcp("192.0.2.10:40000", "198.51.100.1:443", 100);
    let mut eth = vec![0u8];
    eth.extend(tcp_spec.ethernet(ts, 2, [2, 0, 0, 0, 0, 1]).data);
    write(dir, "link_ip_decode", "ethernet_tcp", &eth)?;
    let mut sll2 = vec![2u8];
    sll2.extend(
        PacketSpec::udp("192.0.2.10:1", "198.51.100.1:2", 20)
            .sll2(ts, 2, true, 256)
            .data,
    );
    write(dir, "link_ip_decode", "sll2_udp", &sll2)?;
    let tap = netop_core::pktap::build::Spec {
        dlt: 1,
        ifname: "en0".into(),
        flags: netop_core::pktap::FLAG_DIR_OUT | netop_core::pktap::FLAG_PROC_DELEGATED,
        pid: 310,
        comm: "nsurlsessiond".into(),
        epid: 4242,
        ecomm: "Safari".into(),
    };
    let mut pktap = vec![7u8];
    pktap.extend(tcp_spec.pktap(ts, &tap).data);
    write(dir, "link_ip_decode", "pktap_v1_tcp", &pktap)?;
    let mut pktap2 = vec![7u8];
    pktap2.extend(netop_core::pktap::build::v2(&tap, &eth[1..]));
    write(dir, "link_ip_decode", "pktap_v2_tcp", &pktap2)?;

    let id = "3f2a1b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7081";
    write(
        dir,
        "cgroup_text",
        "docker_v2",
        format!("0::/system.slice/docker-{id}.scope\n").as_bytes(),
    )?;
    write(
        dir,
        "cgroup_text",
        "docker_v1",
        format!("9:name=systemd:/\n4:memory:/docker/{id}\n0::/\n").as_bytes(),
    )?;
    Ok(())
}

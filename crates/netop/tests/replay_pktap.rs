//! The built binary on a PKTAP capture the test records itself (macOS's
//! `pktap` device, LINKTYPE_PKTAP 258 in a file): with no socket table,
//! every byte goes to the process its header names, delegated traffic to
//! the effective process with the real one listed as its delegate. This
//! runs the whole macOS attribution path on Linux (and, through the macOS
//! backend's replay, on a Mac).
#![cfg(any(target_os = "linux", target_os = "macos"))]

use std::time::Duration;

use netop_core::pktap::build::Spec;
use netop_core::pktap::{FLAG_DIR_IN, FLAG_DIR_OUT, FLAG_PROC_DELEGATED};
use netop_core::testing::{OwnedFrame, PacketSpec};

/// Writes frames to a pcap file with libpcap's own writer, on a dead
/// handle of the frames' link type (258 here).
fn write_pcap(path: &std::path::Path, frames: &[OwnedFrame]) {
    let dead = pcap::Capture::dead(pcap::Linktype(frames[0].link.to_linktype())).expect("dead");
    let mut file = dead.savefile(path).expect("savefile");
    for f in frames {
        let header = pcap::PacketHeader {
            ts: libc::timeval {
                tv_sec: f.ts.as_secs() as libc::time_t,
                tv_usec: f.ts.subsec_micros() as libc::suseconds_t,
            },
            caplen: f.data.len() as u32,
            len: f.orig_len,
        };
        file.write(&pcap::Packet::new(&header, &f.data));
    }
    file.flush().expect("flush");
}

fn tap(ifname: &str, out: bool, (pid, comm): (i32, &str), (epid, ecomm): (i32, &str)) -> Spec {
    let mut flags = if out { FLAG_DIR_OUT } else { FLAG_DIR_IN };
    if epid != pid {
        flags |= FLAG_PROC_DELEGATED;
    }
    Spec {
        dlt: 1,
        ifname: ifname.into(),
        flags,
        pid,
        comm: comm.into(),
        epid,
        ecomm: ecomm.into(),
    }
}

#[test]
fn pktap_replay_credits_every_byte_to_its_header_process() {
    let dir = tempfile::tempdir().expect("tempdir");
    let t = |ms: u64| Duration::from_millis(1_700_000_000_000 + ms);
    let curl = (501, "curl");
    let nsurl = (310, "nsurlsessiond");
    let safari = (4242, "Safari");
    let kernel = (-1, "");
    // curl downloads; nsurlsessiond fetches for Safari; a packet no
    // process sent (the header's pid is -1).
    let down = PacketSpec::tcp("93.184.216.34:443", "192.168.1.20:50000", 1400);
    let up = PacketSpec::tcp("192.168.1.20:50000", "93.184.216.34:443", 0);
    let fetch = PacketSpec::tcp("192.168.1.20:50001", "17.253.144.10:443", 300);
    let reply = PacketSpec::tcp("17.253.144.10:443", "192.168.1.20:50001", 1200);
    let stray = PacketSpec::udp("203.0.113.9:9999", "192.168.1.20:7777", 10);
    let mut frames = Vec::new();
    for i in 0..30 {
        frames.push(down.pktap(t(i), &tap("en0", false, curl, curl)));
        if i % 3 == 0 {
            frames.push(up.pktap(t(i), &tap("en0", true, curl, curl)));
        }
    }
    for i in 0..8 {
        frames.push(fetch.pktap(t(40 + i), &tap("en0", true, nsurl, safari)));
        frames.push(reply.pktap(t(40 + i), &tap("en0", false, nsurl, safari)));
    }
    frames.push(stray.pktap(t(60), &tap("en0", false, kernel, kernel)));
    let pcap = dir.path().join("pktap.pcap");
    write_pcap(&pcap, &frames);
    let wire = |p: &PacketSpec| p.ip_bytes().len() as u64 + 14;

    let mut cmd = assert_cmd::Command::cargo_bin("netop").expect("binary");
    cmd.env_remove("RUST_LOG")
        .args(["--duration", "1", "--format", "json", "--replay"])
        .arg(&pcap);
    let out = cmd.assert().success().get_output().stdout.clone();
    let json: serde_json::Value = serde_json::from_slice(&out).expect("json");
    let rows = json.as_array().expect("array");
    let row = |pid: Option<u32>| {
        rows.iter()
            .find(|r| r["pid"].as_u64().map(|p| p as u32) == pid)
            .unwrap_or_else(|| panic!("no row for {pid:?} in {json}"))
    };
    assert_eq!(rows.len(), 3, "{json}");

    let c = row(Some(501));
    assert_eq!(c["process"], "curl");
    assert_eq!(c["rx_bytes"], 30 * wire(&down));
    assert_eq!(c["tx_bytes"], 10 * wire(&up));
    assert_eq!(
        (c["rx_packets"].as_u64(), c["tx_packets"].as_u64()),
        (Some(30), Some(10))
    );
    assert!(c.get("delegates").is_none(), "{json}");

    let s = row(Some(4242));
    assert_eq!(s["process"], "Safari");
    assert_eq!(s["tx_bytes"], 8 * wire(&fetch));
    assert_eq!(s["rx_bytes"], 8 * wire(&reply));
    assert_eq!(
        s["delegates"],
        serde_json::json!([{"pid": 310, "process": "nsurlsessiond"}])
    );
    assert!(
        rows.iter().all(|r| r["pid"] != 310),
        "the delegate has no row of its own: {json}"
    );

    // No process, and a replay knows no host addresses: the packet is
    // placed by the rule for traffic of neither end (`direction.rs`), so
    // only its total is pinned here.
    let u = row(None);
    let total = u["rx_bytes"].as_u64().unwrap_or(0) + u["tx_bytes"].as_u64().unwrap_or(0);
    assert_eq!(total, wire(&stray), "{json}");
}

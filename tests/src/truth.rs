//! The truth: an independent capture of the test host's veth with tcpdump,
//! summed per local (root-namespace) port.
//!
//! tcpdump is started before the workload and stopped (SIGINT) after it has
//! gone quiet, so the file holds every packet of the workload. A packet counts
//! `IP total length + 14` bytes (the Ethernet header), which is what the
//! kernel's interface counters count; tx means the source address is the
//! root-side veth address. Only the ports a test names are compared, so stray
//! frames can't leak into a process's truth.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use etherparse::{EtherType, Ethernet2HeaderSlice, IpNumber, Ipv4HeaderSlice};
use nix::sys::signal::Signal;

use crate::child::Proc;
use crate::counters::Counts;
use crate::scratch::ScratchDir;

const ETHERNET_HEADER: u64 = 14;
/// Enough for Ethernet + IPv4 + TCP headers with options.
const SNAPLEN: &str = "128";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Transport {
    Tcp,
    Udp,
}

/// Per-port sums of one capture.
#[derive(Debug, Clone, Default)]
pub struct Truth {
    /// IPv4 TCP/UDP packets to or from the root-side address, by local port.
    per_port: BTreeMap<(Transport, u16), Counts>,
    /// Every frame in the file, by its length on the wire.
    pub frames: Counts,
    /// Packets tcpdump says the kernel dropped (the truth is incomplete if > 0).
    pub dropped: u64,
}

impl Truth {
    /// Sums a pcap file (Ethernet, or raw IP as on tun devices).
    /// `local_ip`/`local_mac` identify the root-side veth, whose outgoing
    /// packets are tx (on raw IP: packets from `local_ip`).
    pub fn from_pcap(path: &Path, local_ip: Ipv4Addr, local_mac: [u8; 6]) -> anyhow::Result<Self> {
        let mut cap = pcap::Capture::from_file(path)
            .with_context(|| format!("opening {}", path.display()))?;
        let link = cap.get_datalink();
        let ethernet = match link {
            pcap::Linktype::ETHERNET => true,
            // DLT_RAW is 12 in libpcap's headers, LINKTYPE_RAW 101 in files.
            pcap::Linktype(12) | pcap::Linktype::RAW | pcap::Linktype::IPV4 => false,
            _ => bail!(
                "{}: link type {link:?}, expected Ethernet or raw IP",
                path.display()
            ),
        };
        let mut truth = Truth::default();
        loop {
            let packet = match cap.next_packet() {
                Ok(packet) => packet,
                Err(pcap::Error::NoMorePackets) => break,
                Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
            };
            let wire_len = u64::from(packet.header.len);
            if ethernet {
                truth.add_frame(packet.data, wire_len, local_ip, local_mac);
            } else {
                truth.add_raw(packet.data, wire_len, local_ip);
            }
        }
        Ok(truth)
    }

    fn add_frame(&mut self, data: &[u8], wire_len: u64, local_ip: Ipv4Addr, local_mac: [u8; 6]) {
        let Ok(eth) = Ethernet2HeaderSlice::from_slice(data) else {
            return;
        };
        if eth.source() == local_mac {
            self.frames.add_tx(wire_len);
        } else {
            self.frames.add_rx(wire_len);
        }
        if eth.ether_type() != EtherType::IPV4 {
            return;
        }
        self.add_ip(
            &data[eth.slice().len()..],
            ETHERNET_HEADER,
            wire_len,
            local_ip,
        );
    }

    /// A frame of a raw-IP capture (a tun device): no link header, and
    /// tx when it comes from `local_ip`.
    fn add_raw(&mut self, data: &[u8], wire_len: u64, local_ip: Ipv4Addr) {
        let from_local =
            Ipv4HeaderSlice::from_slice(data).is_ok_and(|ip| ip.source_addr() == local_ip);
        if from_local {
            self.frames.add_tx(wire_len);
        } else {
            self.frames.add_rx(wire_len);
        }
        self.add_ip(data, 0, wire_len, local_ip);
    }

    /// The per-port sums of one IPv4 packet; `link_header` is what the
    /// interface counts beyond the IP packet.
    fn add_ip(&mut self, ip_bytes: &[u8], link_header: u64, wire_len: u64, local_ip: Ipv4Addr) {
        let Ok(ip) = Ipv4HeaderSlice::from_slice(ip_bytes) else {
            return;
        };
        let transport = match ip.protocol() {
            IpNumber::TCP => Transport::Tcp,
            IpNumber::UDP => Transport::Udp,
            _ => return,
        };
        // Both TCP and UDP start with source and destination port.
        let Some(ports) = ip_bytes.get(ip.slice().len()..ip.slice().len() + 4) else {
            return;
        };
        let src_port = u16::from_be_bytes([ports[0], ports[1]]);
        let dst_port = u16::from_be_bytes([ports[2], ports[3]]);
        // A BIG TCP super-packet (> 64 KiB) carries total length 0.
        let bytes = match ip.total_len() {
            0 => wire_len,
            len => u64::from(len) + link_header,
        };
        if ip.source_addr() == local_ip {
            self.per_port
                .entry((transport, src_port))
                .or_default()
                .add_tx(bytes);
        } else if ip.destination_addr() == local_ip {
            self.per_port
                .entry((transport, dst_port))
                .or_default()
                .add_rx(bytes);
        }
    }

    /// The sum over the given local ports.
    pub fn ports(&self, transport: Transport, ports: impl IntoIterator<Item = u16>) -> Counts {
        let mut sum = Counts::default();
        for port in ports {
            if let Some(counts) = self.per_port.get(&(transport, port)) {
                sum.merge(counts);
            }
        }
        sum
    }

    /// The sum over every local port.
    pub fn all_ports(&self) -> Counts {
        let mut sum = Counts::default();
        self.per_port.values().for_each(|c| sum.merge(c));
        sum
    }
}

/// A running tcpdump writing the truth file; killed on Drop if not stopped.
#[derive(Debug)]
pub struct TruthCapture {
    proc: Proc,
    file: PathBuf,
    local_ip: Ipv4Addr,
    local_mac: [u8; 6],
    _dir: ScratchDir,
}

impl TruthCapture {
    /// Starts tcpdump on `iface` and waits until it is capturing.
    pub fn start(iface: &str, local_ip: Ipv4Addr, local_mac: &str) -> anyhow::Result<Self> {
        Self::start_with(Command::new("tcpdump"), iface, local_ip, local_mac)
    }

    /// [`TruthCapture::start`] inside a test host's namespace (a
    /// container's own view of its traffic).
    pub fn start_in(
        ns: &crate::Netns,
        iface: &str,
        local_ip: Ipv4Addr,
        local_mac: &str,
    ) -> anyhow::Result<Self> {
        Self::start_with(ns.command("tcpdump"), iface, local_ip, local_mac)
    }

    fn start_with(
        mut cmd: Command,
        iface: &str,
        local_ip: Ipv4Addr,
        local_mac: &str,
    ) -> anyhow::Result<Self> {
        let local_mac = parse_mac(local_mac)?;
        let dir = ScratchDir::new(iface.trim_start_matches(crate::netns::PREFIX))?;
        let file = dir.path().join("truth.pcap");
        cmd.args(["-i", iface, "-w"])
            .arg(&file)
            .args(["-s", SNAPLEN, "-U", "--immediate-mode", "-n", "-p"])
            // Keep root: tcpdump would otherwise write the file as `tcpdump`.
            .args(["-Z", "root", "-B", "16384"]);
        let mut proc = Proc::spawn(format!("tcpdump -i {iface}"), cmd)?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while !proc.stderr().contains("listening on") {
            if let Some(status) = proc.try_exit()? {
                bail!(
                    "tcpdump exited ({status}) before capturing:\n{}",
                    proc.describe()
                );
            }
            if Instant::now() >= deadline {
                bail!(
                    "tcpdump did not start capturing within 10s:\n{}",
                    proc.describe()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(Self {
            proc,
            file,
            local_ip,
            local_mac,
            _dir: dir,
        })
    }

    /// Stops tcpdump and sums its file.
    pub fn stop(mut self) -> anyhow::Result<Truth> {
        self.proc.signal(Signal::SIGINT)?;
        let status = self.proc.wait_exit(Duration::from_secs(10))?;
        let stderr = self.proc.stderr();
        if !status.success() {
            bail!("tcpdump failed ({status}):\n{}", self.proc.describe());
        }
        let captured = stat(&stderr, "packets captured")?;
        let mut truth = Truth::from_pcap(&self.file, self.local_ip, self.local_mac)?;
        truth.dropped = stat(&stderr, "packets dropped by kernel")?;
        if truth.frames.total_packets() != captured {
            bail!(
                "tcpdump says it captured {captured} packets but its file holds {}",
                truth.frames.total_packets()
            );
        }
        Ok(truth)
    }
}

/// Reads a statistic such as "12 packets captured" from tcpdump's stderr.
fn stat(stderr: &str, what: &str) -> anyhow::Result<u64> {
    stderr
        .lines()
        .find_map(|line| line.trim().strip_suffix(what))
        .and_then(|n| n.trim().parse().ok())
        .with_context(|| format!("no `N {what}` in tcpdump's output:\n{stderr}"))
}

fn parse_mac(mac: &str) -> anyhow::Result<[u8; 6]> {
    let mut out = [0u8; 6];
    let mut parts = mac.split(':');
    for byte in &mut out {
        let part = parts.next().with_context(|| format!("short MAC {mac:?}"))?;
        *byte = u8::from_str_radix(part, 16).with_context(|| format!("bad MAC {mac:?}"))?;
    }
    if parts.next().is_some() {
        bail!("long MAC {mac:?}");
    }
    Ok(out)
}

#[cfg(test)]
#[path = "truth_tests.rs"]
mod tests;

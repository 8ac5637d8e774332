//! Byte and packet counts per direction, and the kernel's interface counters
//! (`/sys/class/net/<if>/statistics`), the second, coarser source of truth.
//!
//! The kernel counts a veth frame as `skb->len`: the Ethernet header plus the
//! IP packet, with GSO/GRO super-packets counted once at their full length.
//! That is exactly what a capture on the same device sees, so the two must
//! agree to the byte, up to packets outside the capture's window.

use std::fmt;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

/// Counts seen from the root namespace: tx leaves the root-side veth.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_packets: u64,
    pub tx_packets: u64,
}

impl Counts {
    pub fn add_rx(&mut self, bytes: u64) {
        self.rx_bytes += bytes;
        self.rx_packets += 1;
    }

    pub fn add_tx(&mut self, bytes: u64) {
        self.tx_bytes += bytes;
        self.tx_packets += 1;
    }

    pub fn merge(&mut self, other: &Counts) {
        self.rx_bytes += other.rx_bytes;
        self.tx_bytes += other.tx_bytes;
        self.rx_packets += other.rx_packets;
        self.tx_packets += other.tx_packets;
    }

    pub fn total_bytes(&self) -> u64 {
        self.rx_bytes + self.tx_bytes
    }

    pub fn total_packets(&self) -> u64 {
        self.rx_packets + self.tx_packets
    }

    /// Reads the kernel's counters of `iface`.
    pub fn of_interface(iface: &str) -> anyhow::Result<Self> {
        let read = |name: &str| -> anyhow::Result<u64> {
            let path = format!("/sys/class/net/{iface}/statistics/{name}");
            let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
            text.trim()
                .parse()
                .with_context(|| format!("parsing {path}: {text:?}"))
        };
        Ok(Self {
            rx_bytes: read("rx_bytes")?,
            tx_bytes: read("tx_bytes")?,
            rx_packets: read("rx_packets")?,
            tx_packets: read("tx_packets")?,
        })
    }

    /// `self - earlier`, field by field.
    pub fn since(&self, earlier: &Counts) -> Counts {
        Counts {
            rx_bytes: self.rx_bytes.saturating_sub(earlier.rx_bytes),
            tx_bytes: self.tx_bytes.saturating_sub(earlier.tx_bytes),
            rx_packets: self.rx_packets.saturating_sub(earlier.rx_packets),
            tx_packets: self.tx_packets.saturating_sub(earlier.tx_packets),
        }
    }
}

impl fmt::Display for Counts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "rx {} B / {} pkt, tx {} B / {} pkt",
            self.rx_bytes, self.rx_packets, self.tx_bytes, self.tx_packets
        )
    }
}

/// Waits until `iface`'s counters stay unchanged for `quiet` (the last ACKs
/// and FINs of a workload have crossed the wire), at most `limit`.
pub fn wait_quiet(iface: &str, quiet: Duration, limit: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + limit;
    let mut last = Counts::of_interface(iface)?;
    let mut since = Instant::now();
    loop {
        std::thread::sleep(quiet / 5);
        let now = Counts::of_interface(iface)?;
        if now != last {
            last = now;
            since = Instant::now();
        } else if since.elapsed() >= quiet {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!("{iface} still carried traffic {limit:?} after the workload ended");
        }
    }
}

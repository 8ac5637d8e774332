//! DNS packets from the counting program's ring buffer, as frames.
//!
//! With the DNS observatory on, the traffic-control programs copy the
//! first bytes of each port-53 packet into a BPF ring buffer
//! (`netop_tc.bpf.c`, `struct dns_record`) instead of counting it, so no
//! packet socket has to see (and the kernel clone, on egress) every other
//! packet just to filter them out. Each record becomes a Linux cooked v2
//! (`LINKTYPE_LINUX_SLL2`) frame, the framing of libpcap's `any` device:
//! the decoder then reads its interface, its direction (the kernel's word,
//! as on the pcap path) and its wire length (the interface's link header
//! plus the network layer) the way it reads a captured one, and the engine
//! counts it and parses its DNS message.

use std::time::Duration;

use aya::maps::{MapData, RingBuf};
use netop_core::{Frame, LinkType};

/// Bytes copied of each DNS packet (`DNS_SNAP` in the program): the pcap
/// path's snap length.
pub const SNAP: usize = crate::capture::dns_snap::DNS_SNAPLEN as usize;
/// `struct dns_record` before its data.
pub const HEADER: usize = 24;
const EGRESS: u8 = 1;
const ETHERNET: u8 = 2;
const ETHERNET_HEADER: usize = 14;
const SLL2_HEADER: usize = 20;
const ARPHRD_ETHER: u16 = 1;
/// Bare IP devices (tun, WireGuard): no link header.
const ARPHRD_NONE: u16 = 65534;
const PACKET_HOST: u8 = 0;
const PACKET_OUTGOING: u8 = 4;

/// One record as the program wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// `bpf_ktime_get_ns` (CLOCK_MONOTONIC).
    pub ktime_ns: u64,
    pub ifindex: u32,
    /// `skb->len`: the whole packet, link header included on Ethernet.
    pub len: u32,
    /// `skb->protocol` (the ethertype).
    pub protocol: u16,
    pub egress: bool,
    /// From an Ethernet (or loopback) program: `data` starts with a
    /// 14-byte Ethernet header; else with the IP header.
    pub ethernet: bool,
    /// The bytes copied.
    pub data: &'a [u8],
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Reads one record; `None` when it is shorter than its header says.
pub fn parse(raw: &[u8]) -> Option<Record<'_>> {
    if raw.len() < HEADER {
        return None;
    }
    let mut ktime = [0u8; 8];
    ktime.copy_from_slice(&raw[0..8]);
    let cap = u32_at(raw, 16) as usize;
    let data = raw.get(HEADER..HEADER.checked_add(cap)?)?;
    Some(Record {
        ktime_ns: u64::from_ne_bytes(ktime),
        ifindex: u32_at(raw, 8),
        len: u32_at(raw, 12),
        protocol: u16::from_ne_bytes([raw[20], raw[21]]),
        egress: raw[22] & EGRESS != 0,
        ethernet: raw[22] & ETHERNET != 0,
        data,
    })
}

/// Writes `rec` into `buf` as a cooked v2 frame (header, then the network
/// layer); returns its original length, or `None` for a record too short
/// to hold its link header.
pub fn cooked(rec: &Record<'_>, buf: &mut Vec<u8>) -> Option<u32> {
    let (link, hatype) = if rec.ethernet {
        (ETHERNET_HEADER, ARPHRD_ETHER)
    } else {
        (0, ARPHRD_NONE)
    };
    let network = rec.data.get(link..)?;
    let len = usize::try_from(rec.len).ok()?.checked_sub(link)?;
    buf.clear();
    buf.extend_from_slice(&rec.protocol.to_be_bytes());
    buf.extend_from_slice(&[0, 0]);
    buf.extend_from_slice(&rec.ifindex.to_be_bytes());
    buf.extend_from_slice(&hatype.to_be_bytes());
    buf.push(if rec.egress {
        PACKET_OUTGOING
    } else {
        PACKET_HOST
    });
    // No link-layer address.
    buf.extend_from_slice(&[0; 9]);
    buf.extend_from_slice(network);
    u32::try_from(SLL2_HEADER + len).ok()
}

/// The frame of record `raw`, built in `buf`; `boot` moves the kernel's
/// clock to the Unix epoch.
pub fn frame<'b>(raw: &[u8], boot: Duration, buf: &'b mut Vec<u8>) -> Option<Frame<'b>> {
    let rec = parse(raw)?;
    let orig_len = cooked(&rec, buf)?;
    Some(Frame {
        ts: boot + Duration::from_nanos(rec.ktime_ns),
        ifindex: Some(rec.ifindex),
        link: LinkType::LinuxSll2,
        orig_len,
        data: buf,
    })
}

/// The ring, the count of records that found it full, and a buffer to
/// build frames in.
pub struct DnsRing {
    ring: RingBuf<MapData>,
    full: MapData,
    buf: Vec<u8>,
    /// Records read, and records that could not be decoded.
    pub read: u64,
    pub malformed: u64,
}

impl std::fmt::Debug for DnsRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DnsRing")
            .field("read", &self.read)
            .field("malformed", &self.malformed)
            .finish_non_exhaustive()
    }
}

impl DnsRing {
    pub fn new(ring: RingBuf<MapData>, full: MapData) -> DnsRing {
        DnsRing {
            ring,
            full,
            buf: Vec::with_capacity(SLL2_HEADER + SNAP),
            read: 0,
            malformed: 0,
        }
    }

    /// The descriptor to wait on: readable when records wait.
    pub fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        use std::os::fd::AsFd;
        self.ring.as_fd()
    }

    /// Hands every waiting record to `each` as a frame; returns how many.
    /// Never blocks.
    pub fn drain(&mut self, boot: Duration, each: &mut dyn FnMut(&Frame<'_>)) -> usize {
        let mut n = 0;
        while let Some(item) = self.ring.next() {
            self.read += 1;
            match frame(&item, boot, &mut self.buf) {
                Some(f) => {
                    each(&f);
                    n += 1;
                }
                None => self.malformed += 1,
            }
        }
        n
    }

    /// The next waiting record as a frame, if any.
    pub fn next(&mut self, boot: Duration) -> Option<Frame<'_>> {
        loop {
            let ok = {
                let item = self.ring.next()?;
                self.read += 1;
                parse(&item)
                    .and_then(|rec| cooked(&rec, &mut self.buf).map(|l| (rec, l)))
                    .map(|(rec, l)| (rec.ktime_ns, rec.ifindex, l))
            };
            match ok {
                Some((ktime, ifindex, orig_len)) => {
                    return Some(Frame {
                        ts: boot + Duration::from_nanos(ktime),
                        ifindex: Some(ifindex),
                        link: LinkType::LinuxSll2,
                        orig_len,
                        data: &self.buf,
                    })
                }
                None => self.malformed += 1,
            }
        }
    }

    /// Records the ring had no room for (summed over `cpus`).
    pub fn full(&self, cpus: usize) -> u64 {
        super::capture::sum_percpu(&self.full, cpus)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netop_core::decode::decode;

    /// A record as the program lays it out (native byte order).
    fn record(ifindex: u32, len: u32, protocol: u16, flags: u8, data: &[u8]) -> Vec<u8> {
        let mut r = Vec::new();
        r.extend_from_slice(&5_000_000_000u64.to_ne_bytes());
        r.extend_from_slice(&ifindex.to_ne_bytes());
        r.extend_from_slice(&len.to_ne_bytes());
        r.extend_from_slice(&(data.len() as u32).to_ne_bytes());
        r.extend_from_slice(&protocol.to_ne_bytes());
        r.push(flags);
        r.push(0);
        r.extend_from_slice(data);
        // The ring hands out the whole fixed-size record.
        r.resize(HEADER + SNAP, 0xee);
        r
    }

    /// IPv4 UDP 10.0.0.1:40000 -> 10.0.0.2:53 with `payload`.
    fn udp4(payload: &[u8]) -> Vec<u8> {
        let total = (20 + 8 + payload.len()) as u16;
        let mut p = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0];
        p[2..4].copy_from_slice(&total.to_be_bytes());
        p.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2]);
        p.extend_from_slice(&40000u16.to_be_bytes());
        p.extend_from_slice(&53u16.to_be_bytes());
        p.extend_from_slice(&(8 + payload.len() as u16).to_be_bytes());
        p.extend_from_slice(&[0, 0]);
        p.extend_from_slice(payload);
        p
    }

    #[test]
    fn the_header_matches_the_programs_struct() {
        let src = include_str!("netop_tc.bpf.c");
        assert!(src.contains(&format!("#define DNS_SNAP {SNAP}")));
        let r = record(7, 100, 0x0800, EGRESS | ETHERNET, &[1, 2, 3]);
        let rec = parse(&r).expect("parses");
        assert_eq!(
            (rec.ktime_ns, rec.ifindex, rec.len, rec.protocol),
            (5_000_000_000, 7, 100, 0x0800)
        );
        assert!(rec.egress && rec.ethernet);
        assert_eq!(rec.data, &[1, 2, 3]);
    }

    #[test]
    fn an_outgoing_ethernet_query_decodes_like_a_captured_one() {
        let ip = udp4(b"query");
        let mut eth = vec![0u8; 12];
        eth.extend_from_slice(&[0x08, 0x00]);
        eth.extend_from_slice(&ip);
        let r = record(3, eth.len() as u32, 0x0800, EGRESS | ETHERNET, &eth);
        let mut buf = Vec::new();
        let boot = Duration::from_secs(1_000);
        let f = frame(&r, boot, &mut buf).expect("a frame");
        assert_eq!(f.ts, Duration::from_secs(1_005));
        let p = decode(&f).expect("decodes");
        assert_eq!(p.ifindex, Some(3));
        assert_eq!(p.outgoing, Some(true));
        // What the interface counts: the Ethernet header and the packet.
        assert_eq!(p.wire_len, eth.len() as u32);
        let ip_part = p.ip.expect("IP");
        assert_eq!(ip_part.src.to_string(), "10.0.0.1");
        assert_eq!(ip_part.dst.to_string(), "10.0.0.2");
        assert_eq!((ip_part.src_port, ip_part.dst_port), (40000, 53));
        assert_eq!(ip_part.payload, b"query");
    }

    #[test]
    fn an_incoming_bare_ip_answer_keeps_its_length_and_direction() {
        let ip = udp4(b"answer");
        let r = record(9, ip.len() as u32, 0x0800, 0, &ip);
        let mut buf = Vec::new();
        let f = frame(&r, Duration::ZERO, &mut buf).expect("a frame");
        let p = decode(&f).expect("decodes");
        assert_eq!((p.ifindex, p.outgoing), (Some(9), Some(false)));
        assert_eq!(p.wire_len, ip.len() as u32);
        assert_eq!(p.ip.expect("IP").payload, b"answer");
    }

    #[test]
    fn a_cut_packet_keeps_its_whole_length() {
        let ip = udp4(&[7u8; 3000]);
        let r = record(2, ip.len() as u32, 0x0800, 0, &ip[..SNAP]);
        let mut buf = Vec::new();
        let f = frame(&r, Duration::ZERO, &mut buf).expect("a frame");
        assert_eq!(f.data.len(), SLL2_HEADER + SNAP);
        assert_eq!(decode(&f).expect("decodes").wire_len, ip.len() as u32);
    }

    #[test]
    fn short_or_inconsistent_records_are_refused() {
        let mut buf = Vec::new();
        assert!(parse(&[0u8; HEADER - 1]).is_none());
        // `cap` beyond the record.
        let mut r = record(1, 10, 0x0800, 0, &[0; 4]);
        r[16..20].copy_from_slice(&(SNAP as u32 + 1).to_ne_bytes());
        assert!(parse(&r).is_none());
        // An Ethernet record without a whole Ethernet header.
        let r = record(1, 10, 0x0800, ETHERNET, &[0; 10]);
        assert!(frame(&r, Duration::ZERO, &mut buf).is_none());
        // A length shorter than the link header.
        let r = record(1, 4, 0x0800, ETHERNET, &[0; 14]);
        assert!(frame(&r, Duration::ZERO, &mut buf).is_none());
    }
}

//! The kernel counting program's table: its key and value layouts
//! (`netop_tc.bpf.c`'s `struct flow_key` and `struct flow_val`), decoded
//! into the core's [`FlowDelta`]s, and the batched read-and-delete
//! (`BPF_MAP_LOOKUP_AND_DELETE_BATCH`, Linux 5.6+) that empties it.
//!
//! Decoding is plain Rust over bytes (tested with byte fixtures); the one
//! system call is [`read_and_delete`]. aya 0.14 has no batch operations,
//! so the call is made here on the map's descriptor.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, BorrowedFd};
use std::time::Duration;

use netop_core::{DeltaTuple, FlowDelta, Protocol, SeenFlags};

/// `sizeof(struct flow_key)`.
pub const KEY_LEN: usize = 44;
/// `sizeof(struct flow_val)` (a multiple of 8, as per-CPU values are laid
/// out in a batch).
pub const VALUE_LEN: usize = 48;
const FLAG_SYN: u32 = 1;
const FLAG_FIN: u32 = 2;
const FLAG_RST: u32 = 4;
/// `BPF_MAP_LOOKUP_AND_DELETE_BATCH` in `enum bpf_cmd`.
const BPF_MAP_LOOKUP_AND_DELETE_BATCH: libc::c_long = 25;
/// Entries asked for per call.
const BATCH: usize = 1024;

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_ne_bytes(x)
}

fn addr(family: u8, raw: &[u8]) -> Option<IpAddr> {
    match family {
        4 => Some(IpAddr::V4(Ipv4Addr::new(raw[0], raw[1], raw[2], raw[3]))),
        6 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(&raw[..16]);
            Some(IpAddr::V6(Ipv6Addr::from(a)))
        }
        _ => None,
    }
}

/// One entry: its key and its per-CPU values (`cpus` of them, each
/// [`VALUE_LEN`] bytes). Times are the kernel's monotonic nanoseconds,
/// moved to the Unix epoch by `boot`: wall time minus monotonic time.
/// `None` when no CPU counted a packet (or the bytes are short).
pub fn decode(key: &[u8], values: &[u8], cpus: usize, boot: Duration) -> Option<FlowDelta> {
    if key.len() < KEY_LEN || values.len() < cpus * VALUE_LEN {
        return None;
    }
    let ifindex = u32_at(key, 0);
    let (family, proto, egress) = (key[4], key[5], key[6]);
    let sport = u16::from_be_bytes([key[8], key[9]]);
    let dport = u16::from_be_bytes([key[10], key[11]]);
    let tuple = match (addr(family, &key[12..28]), addr(family, &key[28..44])) {
        (Some(src), Some(dst)) => Some(DeltaTuple {
            proto: Protocol::from_ip_number(proto),
            src,
            src_port: sport,
            dst,
            dst_port: dport,
        }),
        _ => None,
    };
    let (mut bytes, mut packets, mut first, mut last, mut cookie, mut flags) =
        (0u64, 0u64, u64::MAX, 0u64, 0u64, 0u32);
    for cpu in values.chunks_exact(VALUE_LEN).take(cpus) {
        let n = u64_at(cpu, 8);
        if n == 0 {
            continue;
        }
        bytes += u64_at(cpu, 0);
        packets += n;
        // A CPU's value without a first time (a program of an older netop
        // that set it only where the entry was made) starts at its last:
        // time zero would spread the bytes over the whole uptime.
        let cpu_last = u64_at(cpu, 24);
        let cpu_first = match u64_at(cpu, 16) {
            0 => cpu_last,
            t => t,
        };
        first = first.min(cpu_first);
        last = last.max(cpu_last);
        if cookie == 0 {
            cookie = u64_at(cpu, 32);
        }
        flags |= u32_at(cpu, 40);
    }
    if packets == 0 {
        return None;
    }
    Some(FlowDelta {
        ifindex,
        outgoing: egress != 0,
        tuple,
        bytes,
        packets,
        first_seen: boot + Duration::from_nanos(first),
        last_seen: boot + Duration::from_nanos(last.max(first)),
        tcp: SeenFlags {
            syn: flags & FLAG_SYN != 0,
            fin: flags & FLAG_FIN != 0,
            rst: flags & FLAG_RST != 0,
        },
        cookie: (cookie != 0).then_some(cookie),
    })
}

/// The `batch` member of `union bpf_attr`.
#[repr(C)]
#[derive(Default)]
struct BatchAttr {
    in_batch: u64,
    out_batch: u64,
    keys: u64,
    values: u64,
    count: u32,
    map_fd: u32,
    elem_flags: u64,
    flags: u64,
}

/// Reads and deletes every entry of the per-CPU hash `map` (`cpus`
/// possible CPUs), handing each (key, values) to `f`; returns how many.
pub fn read_and_delete(
    map: BorrowedFd<'_>,
    cpus: usize,
    f: &mut dyn FnMut(&[u8], &[u8]),
) -> std::io::Result<usize> {
    let mut keys = vec![0u8; BATCH * KEY_LEN];
    let mut values = vec![0u8; BATCH * VALUE_LEN * cpus];
    // The kernel's batch token for hash maps is a bucket number; room for
    // a key is more than enough.
    let mut token = [0u8; 64];
    let mut first = true;
    let mut total = 0;
    loop {
        let mut attr = BatchAttr {
            in_batch: if first { 0 } else { token.as_ptr() as u64 },
            out_batch: token.as_mut_ptr() as u64,
            keys: keys.as_mut_ptr() as u64,
            values: values.as_mut_ptr() as u64,
            count: BATCH as u32,
            map_fd: map.as_raw_fd() as u32,
            ..BatchAttr::default()
        };
        // SAFETY: `attr` is the kernel's `batch` layout; the buffers it
        // points at hold `count` keys and `count` × `cpus` values and
        // outlive the call; the token buffer is larger than a bucket
        // number.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_bpf,
                BPF_MAP_LOOKUP_AND_DELETE_BATCH,
                std::ptr::addr_of_mut!(attr),
                std::mem::size_of::<BatchAttr>(),
            )
        };
        let err = (rc < 0).then(std::io::Error::last_os_error);
        let n = (attr.count as usize).min(BATCH);
        for i in 0..n {
            let key = &keys[i * KEY_LEN..(i + 1) * KEY_LEN];
            let value = &values[i * VALUE_LEN * cpus..(i + 1) * VALUE_LEN * cpus];
            f(key, value);
        }
        total += n;
        first = false;
        match err {
            None => continue,
            Some(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(total),
            Some(e) => return Err(e),
        }
    }
}

/// The `elem` member of `union bpf_attr`.
#[repr(C)]
#[derive(Default)]
struct ElemAttr {
    map_fd: u32,
    pad: u32,
    key: u64,
    value: u64,
    flags: u64,
}
/// `BPF_MAP_LOOKUP_ELEM`.
const BPF_MAP_LOOKUP_ELEM: libc::c_long = 1;

/// Reads entry `index` of a per-CPU array into `out`: each possible CPU's
/// value, rounded up to 8 bytes (the caller sizes `out`).
pub fn lookup_percpu(map: BorrowedFd<'_>, index: u32, out: &mut [u8]) -> std::io::Result<()> {
    let mut attr = ElemAttr {
        map_fd: map.as_raw_fd() as u32,
        key: std::ptr::addr_of!(index) as u64,
        value: out.as_mut_ptr() as u64,
        ..ElemAttr::default()
    };
    // SAFETY: `attr` is the kernel's `elem` layout; the key is a u32 and
    // `out` holds a value for each possible CPU (the caller sizes it).
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_MAP_LOOKUP_ELEM,
            std::ptr::addr_of_mut!(attr),
            std::mem::size_of::<ElemAttr>(),
        )
    };
    if rc < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(ifindex: u32, family: u8, proto: u8, egress: u8) -> Vec<u8> {
        let mut k = vec![0u8; KEY_LEN];
        k[0..4].copy_from_slice(&ifindex.to_ne_bytes());
        (k[4], k[5], k[6]) = (family, proto, egress);
        k[8..10].copy_from_slice(&40000u16.to_be_bytes());
        k[10..12].copy_from_slice(&443u16.to_be_bytes());
        k[12..16].copy_from_slice(&[192, 0, 2, 10]);
        k[28..32].copy_from_slice(&[198, 51, 100, 1]);
        k
    }

    fn value(bytes: u64, packets: u64, first: u64, last: u64, flags: u32) -> Vec<u8> {
        let mut v = vec![0u8; VALUE_LEN];
        for (at, x) in [(0, bytes), (8, packets), (16, first), (24, last)] {
            v[at..at + 8].copy_from_slice(&x.to_ne_bytes());
        }
        v[40..44].copy_from_slice(&flags.to_ne_bytes());
        v
    }

    #[test]
    fn per_cpu_values_are_summed_and_times_moved_to_the_epoch() {
        let boot = Duration::from_secs(1_700_000_000);
        let mut values = value(1000, 2, 5_000, 9_000, FLAG_SYN);
        values.extend(value(0, 0, 0, 0, 0));
        values.extend(value(500, 1, 3_000, 4_000, FLAG_FIN));
        let d = decode(&key(7, 4, 6, 1), &values, 3, boot).expect("a delta");
        assert_eq!(
            (d.ifindex, d.outgoing, d.bytes, d.packets),
            (7, true, 1500, 3)
        );
        assert_eq!(d.first_seen, boot + Duration::from_nanos(3_000));
        assert_eq!(d.last_seen, boot + Duration::from_nanos(9_000));
        assert!(d.tcp.syn && d.tcp.fin && !d.tcp.rst);
        let t = d.tuple.expect("IP");
        assert_eq!(t.proto, Protocol::Tcp);
        assert_eq!(
            (t.src.to_string(), t.src_port, t.dst.to_string(), t.dst_port),
            ("192.0.2.10".into(), 40000, "198.51.100.1".into(), 443)
        );
        assert_eq!(d.cookie, None);
    }

    #[test]
    fn a_cpu_value_without_a_first_time_starts_at_its_last() {
        // The entry was made on CPU 0; CPU 1 counted into its zeroed value.
        let boot = Duration::from_secs(1_700_000_000);
        let mut values = value(1000, 2, 7_000_000_000, 7_050_000_000, 0);
        values.extend(value(500, 1, 0, 7_020_000_000, 0));
        let d = decode(&key(1, 4, 6, 1), &values, 2, boot).expect("a delta");
        assert_eq!(d.first_seen, boot + Duration::from_millis(7_000));
        assert_eq!(d.last_seen, boot + Duration::from_millis(7_050));
        let mut values = value(500, 1, 0, 7_020_000_000, 0);
        values.extend(value(1000, 2, 7_030_000_000, 7_050_000_000, 0));
        let d = decode(&key(1, 4, 6, 1), &values, 2, boot).expect("a delta");
        assert_eq!(d.first_seen, boot + Duration::from_millis(7_020));
    }

    #[test]
    fn non_ip_entries_have_no_tuple_and_empty_ones_are_skipped() {
        let d =
            decode(&key(3, 0, 0, 0), &value(60, 1, 1, 1, 0), 1, Duration::ZERO).expect("a delta");
        assert_eq!((d.tuple, d.outgoing), (None, false));
        assert_eq!(
            decode(&key(3, 4, 17, 0), &value(0, 0, 0, 0, 0), 1, Duration::ZERO),
            None
        );
        assert_eq!(
            decode(
                &key(3, 4, 17, 0)[..10],
                &value(1, 1, 1, 1, 0),
                1,
                Duration::ZERO
            ),
            None,
            "short key"
        );
        assert_eq!(
            decode(&key(3, 4, 17, 0), &[0u8; 8], 1, Duration::ZERO),
            None,
            "short values"
        );
    }

    #[test]
    fn ipv6_addresses_are_read_whole() {
        let mut k = key(2, 6, 17, 0);
        k[12..28].copy_from_slice(&"2001:db8::1".parse::<Ipv6Addr>().expect("ip").octets());
        k[28..44].copy_from_slice(&"2001:db8::2".parse::<Ipv6Addr>().expect("ip").octets());
        let d = decode(&k, &value(100, 1, 1, 1, 0), 1, Duration::ZERO).expect("a delta");
        let t = d.tuple.expect("IP");
        assert_eq!(
            (t.src.to_string(), t.dst.to_string()),
            ("2001:db8::1".into(), "2001:db8::2".into())
        );
        assert_eq!(t.proto, Protocol::Udp);
    }
}

//! Interface counters: `struct if_data` (xnu `bsd/net/if_var.h`), what
//! getifaddrs(3) gives as `ifa_data` of an AF_LINK entry, with 32-bit
//! counters (they wrap at 4 GiB); and `struct if_data64`, the same
//! counters at 64 bits (the `NET_RT_IFLIST2` sysctl's `if_msghdr2`).
//! Both are `#pragma pack(4)`; the timestamp is a `struct timeval32`.

use netop_core::interfaces::KernelCounters;

use crate::bytes::{Fields, LayoutError, Writer};

/// `sizeof(struct if_data)`: 8 `u_char`, 3 + 13 `u_int32_t` (mtu,
/// metric, baudrate; the statistics), a timeval32 (8), 4 `u_int32_t`.
pub const IF_DATA_LEN: usize = 96;
/// `sizeof(struct if_data64)`: 8 `u_char`, mtu and metric (u_int32), 12
/// `u_int64_t` (baudrate and the statistics), 2 `u_int32_t` timings, a
/// timeval32.
pub const IF_DATA64_LEN: usize = 128;

/// Counter offsets in one layout: ipackets, ierrors, opackets, oerrors,
/// ibytes, obytes, iqdrops, and the counters' width.
struct Layout {
    ipackets: usize,
    ierrors: usize,
    opackets: usize,
    oerrors: usize,
    ibytes: usize,
    obytes: usize,
    iqdrops: usize,
    wide: bool,
}

/// `struct if_data`: ifi_type..ifi_unused1 0..8, ifi_mtu 8, ifi_metric
/// 12, ifi_baudrate 16, then u_int32 ipackets 20, ierrors 24, opackets
/// 28, oerrors 32, collisions 36, ibytes 40, obytes 44, imcasts 48,
/// omcasts 52, iqdrops 56, noproto 60, recvtiming 64, xmittiming 68,
/// ifi_lastchange 72, unused2 80, hwassist 84, reserved1 88, reserved2 92.
const IF_DATA: Layout = Layout {
    ipackets: 20,
    ierrors: 24,
    opackets: 28,
    oerrors: 32,
    ibytes: 40,
    obytes: 44,
    iqdrops: 56,
    wide: false,
};

/// `struct if_data64`: ifi_mtu 8, ifi_metric 12, then u_int64 baudrate
/// 16, ipackets 24, ierrors 32, opackets 40, oerrors 48, collisions 56,
/// ibytes 64, obytes 72, imcasts 80, omcasts 88, iqdrops 96, noproto 104;
/// recvtiming 112, xmittiming 116, ifi_lastchange 120.
const IF_DATA64: Layout = Layout {
    ipackets: 24,
    ierrors: 32,
    opackets: 40,
    oerrors: 48,
    ibytes: 64,
    obytes: 72,
    iqdrops: 96,
    wide: true,
};

fn read(f: &Fields<'_>, l: &Layout) -> Result<KernelCounters, LayoutError> {
    let n = |at: usize| -> Result<u64, LayoutError> {
        if l.wide {
            f.u64(at)
        } else {
            f.u32(at).map(u64::from)
        }
    };
    Ok(KernelCounters {
        rx_bytes: n(l.ibytes)?,
        tx_bytes: n(l.obytes)?,
        rx_packets: n(l.ipackets)?,
        tx_packets: n(l.opackets)?,
        rx_errors: n(l.ierrors)?,
        tx_errors: n(l.oerrors)?,
        rx_dropped: n(l.iqdrops)?,
        tx_dropped: 0,
    })
}

/// Decodes `struct if_data` (32-bit counters).
pub fn if_data(data: &[u8]) -> Result<KernelCounters, LayoutError> {
    read(&Fields::new("if_data", data, IF_DATA_LEN)?, &IF_DATA)
}

/// Decodes `struct if_data64`.
pub fn if_data64(data: &[u8]) -> Result<KernelCounters, LayoutError> {
    read(&Fields::new("if_data64", data, IF_DATA64_LEN)?, &IF_DATA64)
}

fn write(c: &KernelCounters, l: &Layout, size: usize) -> Vec<u8> {
    let mut w = Writer::new(size);
    for (at, v) in [
        (l.ipackets, c.rx_packets),
        (l.ierrors, c.rx_errors),
        (l.opackets, c.tx_packets),
        (l.oerrors, c.tx_errors),
        (l.ibytes, c.rx_bytes),
        (l.obytes, c.tx_bytes),
        (l.iqdrops, c.rx_dropped),
    ] {
        if l.wide {
            w.u64(at, v);
        } else {
            w.u32(at, v as u32);
        }
    }
    w.0
}

/// `struct if_data` bytes (fixtures; counters truncated to 32 bits as
/// the kernel's are).
pub fn build(c: &KernelCounters) -> Vec<u8> {
    write(c, &IF_DATA, IF_DATA_LEN)
}

/// `struct if_data64` bytes (fixtures).
pub fn build64(c: &KernelCounters) -> Vec<u8> {
    write(c, &IF_DATA64, IF_DATA64_LEN)
}

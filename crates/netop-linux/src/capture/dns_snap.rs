//! Whole DNS messages under a short snap length.
//!
//! netop keeps 256 bytes of each frame (headers are all traffic counting
//! needs, and copying less keeps the ring from filling under load), but a
//! DNS answer is often longer. A classic BPF program attached to the
//! capture socket returns, per packet, how many bytes the kernel keeps:
//! the short snap length for everything, except UDP or TCP with port 53
//! on either side (unfragmented IPv4, or IPv6 without extension headers),
//! which is kept whole. It uses the kernel's ancillary loads (protocol,
//! and offsets from the network header), so the same program works on
//! `any` (cooked), Ethernet and loopback devices. libpcap's own snap
//! length is set to [`DNS_SNAPLEN`] so it does not cut what the kernel
//! kept.

use std::os::fd::AsRawFd;

/// libpcap's snap length with DNS on: room for an EDNS answer of 4,096
/// bytes plus link, IP and transport headers.
pub const DNS_SNAPLEN: i32 = 4_096 + 256;

const BPF_LD: u16 = 0x00;
const BPF_ALU: u16 = 0x04;
const BPF_JMP: u16 = 0x05;
const BPF_RET: u16 = 0x06;
const BPF_MISC: u16 = 0x07;
const BPF_H: u16 = 0x08;
const BPF_B: u16 = 0x10;
const BPF_ABS: u16 = 0x20;
const BPF_IND: u16 = 0x40;
const BPF_JEQ: u16 = 0x10;
const BPF_JSET: u16 = 0x40;
const BPF_AND: u16 = 0x50;
const BPF_LSH: u16 = 0x60;
const BPF_TAX: u16 = 0x00;
/// Ancillary load of the packet's ethertype (`skb->protocol`).
const SKF_AD_PROTOCOL: u32 = (-0x1000i32) as u32;
/// Loads relative to the network header.
const SKF_NET_OFF: u32 = (-0x100000i32) as u32;

fn op(code: u16, jt: u8, jf: u8, k: u32) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

/// The program: keep `short` bytes, or 65,535 for port-53 packets.
pub fn program(short: u32) -> Vec<libc::sock_filter> {
    let ld_h_abs = BPF_LD | BPF_H | BPF_ABS;
    let ld_b_abs = BPF_LD | BPF_B | BPF_ABS;
    let jeq = BPF_JMP | BPF_JEQ;
    vec![
        /* 0 */ op(ld_h_abs, 0, 0, SKF_AD_PROTOCOL),
        /* 1 */ op(jeq, 0, 13, 0x0800), // IPv4, else 15
        /* 2 */ op(ld_b_abs, 0, 0, SKF_NET_OFF + 9), // protocol
        /* 3 */ op(jeq, 1, 0, 17),
        /* 4 */ op(jeq, 0, 18, 6),
        /* 5 */ op(ld_h_abs, 0, 0, SKF_NET_OFF + 6), // fragment offset
        /* 6 */ op(BPF_JMP | BPF_JSET, 16, 0, 0x1fff),
        /* 7 */ op(ld_b_abs, 0, 0, SKF_NET_OFF), // version + IHL
        /* 8 */ op(BPF_ALU | BPF_AND, 0, 0, 0x0f),
        /* 9 */ op(BPF_ALU | BPF_LSH, 0, 0, 2),
        /* 10 */ op(BPF_MISC | BPF_TAX, 0, 0, 0),
        /* 11 */ op(BPF_LD | BPF_H | BPF_IND, 0, 0, SKF_NET_OFF), // source port
        /* 12 */ op(jeq, 11, 0, 53),
        /* 13 */
        op(BPF_LD | BPF_H | BPF_IND, 0, 0, SKF_NET_OFF + 2), // destination port
        /* 14 */ op(jeq, 9, 8, 53),
        /* 15 */ op(jeq, 0, 7, 0x86dd), // IPv6
        /* 16 */ op(ld_b_abs, 0, 0, SKF_NET_OFF + 6), // next header
        /* 17 */ op(jeq, 1, 0, 17),
        /* 18 */ op(jeq, 0, 4, 6),
        /* 19 */ op(ld_h_abs, 0, 0, SKF_NET_OFF + 40),
        /* 20 */ op(jeq, 3, 0, 53),
        /* 21 */ op(ld_h_abs, 0, 0, SKF_NET_OFF + 42),
        /* 22 */ op(jeq, 1, 0, 53),
        /* 23 */ op(BPF_RET, 0, 0, short),
        /* 24 */ op(BPF_RET, 0, 0, 65_535),
    ]
}

/// Attaches [`program`] to the capture's socket.
pub fn attach(fd: &impl AsRawFd, short: u32) -> std::io::Result<()> {
    let mut filter = program(short);
    let prog = libc::sock_fprog {
        len: u16::try_from(filter.len()).unwrap_or(u16::MAX),
        filter: filter.as_mut_ptr(),
    };
    // SAFETY: `prog` points at `filter`, which outlives the call; the
    // kernel copies the program, and checks it before attaching.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ATTACH_FILTER,
            std::ptr::addr_of!(prog).cast(),
            std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every jump lands inside the program, and both exits are returns.
    #[test]
    fn jumps_land_inside_the_program() {
        let p = program(256);
        for (pc, ins) in p.iter().enumerate() {
            if ins.code & 0x07 == BPF_JMP {
                assert!(pc + 1 + usize::from(ins.jt) < p.len(), "jt of {pc}");
                assert!(pc + 1 + usize::from(ins.jf) < p.len(), "jf of {pc}");
            }
        }
        assert_eq!((p[23].code, p[23].k), (BPF_RET, 256));
        assert_eq!((p[24].code, p[24].k), (BPF_RET, 65_535));
        // Port comparisons jump to the long return.
        for pc in [12usize, 14, 20, 22] {
            assert_eq!(pc + 1 + usize::from(p[pc].jt), 24, "match at {pc}");
        }
        for (pc, jf) in [
            (4usize, p[4].jf),
            (14, p[14].jf),
            (15, p[15].jf),
            (18, p[18].jf),
            (22, p[22].jf),
        ] {
            assert_eq!(pc + 1 + usize::from(jf), 23, "miss at {pc}");
        }
    }
}

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

/// libpcap's snap length with DNS on: DNS messages up to about 1,890
/// bytes stay whole (the 1,232-byte EDNS size resolvers use since DNS Flag
/// Day 2020 fits; a longer one is parsed as far as it was kept).
///
/// Why not more: in immediate mode libpcap maps a TPACKET_V2 ring of
/// fixed frames, each sized for the snap length and rounded up to a
/// power-of-two share of a page. At 1,960 a frame takes 2,048 bytes, so
/// an 8 MiB buffer maps 8 MiB and holds 4,096 frames; at 1,961
/// (or the 4,352 this once was) a frame takes a whole 8 KiB block, and the
/// same buffer maps 15-16 MiB and holds under 2,000 frames. Measured on
/// `any` (cooked v2, the largest link header); Ethernet fits up to 1,980.
/// Kernel counting copies as many bytes of each DNS packet into its DNS
/// ring (`counting/dns_ring.rs`), so both paths keep the same messages.
pub const DNS_SNAPLEN: i32 = 1_960;

use libc::{
    BPF_ABS, BPF_ALU, BPF_AND, BPF_B, BPF_H, BPF_IND, BPF_JEQ, BPF_JMP, BPF_JSET, BPF_LD, BPF_LSH,
    BPF_MISC, BPF_RET, BPF_TAX, ETH_P_IP, ETH_P_IPV6, IPPROTO_TCP, IPPROTO_UDP, SKF_AD_OFF,
    SKF_AD_PROTOCOL, SKF_NET_OFF,
};

/// Ancillary load of the packet's ethertype (`skb->protocol`).
const AD_PROTOCOL: u32 = (SKF_AD_OFF + SKF_AD_PROTOCOL) as u32;
/// Loads relative to the network header start here.
const NET: u32 = SKF_NET_OFF as u32;
/// The operations of the program (libc's constants are `u32`; an
/// instruction's code is 16 bits).
const LD_H_ABS: u16 = (BPF_LD | BPF_H | BPF_ABS) as u16;
const LD_B_ABS: u16 = (BPF_LD | BPF_B | BPF_ABS) as u16;
const LD_H_IND: u16 = (BPF_LD | BPF_H | BPF_IND) as u16;
const JEQ: u16 = (BPF_JMP | BPF_JEQ) as u16;
const JSET: u16 = (BPF_JMP | BPF_JSET) as u16;
const AND: u16 = (BPF_ALU | BPF_AND) as u16;
const LSH: u16 = (BPF_ALU | BPF_LSH) as u16;
const TAX: u16 = (BPF_MISC | BPF_TAX) as u16;
const RET: u16 = BPF_RET as u16;
const IPV4: u32 = ETH_P_IP as u32;
const IPV6: u32 = ETH_P_IPV6 as u32;
const UDP: u32 = IPPROTO_UDP as u32;
const TCP: u32 = IPPROTO_TCP as u32;

fn op(code: u16, jt: u8, jf: u8, k: u32) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

/// The program: keep `short` bytes, or 65,535 for port-53 packets.
pub fn program(short: u32) -> Vec<libc::sock_filter> {
    vec![
        /* 0 */ op(LD_H_ABS, 0, 0, AD_PROTOCOL),
        /* 1 */ op(JEQ, 0, 13, IPV4), // else 15
        /* 2 */ op(LD_B_ABS, 0, 0, NET + 9), // protocol
        /* 3 */ op(JEQ, 1, 0, UDP),
        /* 4 */ op(JEQ, 0, 18, TCP),
        /* 5 */ op(LD_H_ABS, 0, 0, NET + 6), // fragment offset
        /* 6 */ op(JSET, 16, 0, 0x1fff),
        /* 7 */ op(LD_B_ABS, 0, 0, NET), // version + IHL
        /* 8 */ op(AND, 0, 0, 0x0f),
        /* 9 */ op(LSH, 0, 0, 2),
        /* 10 */ op(TAX, 0, 0, 0),
        /* 11 */ op(LD_H_IND, 0, 0, NET), // source port
        /* 12 */ op(JEQ, 11, 0, 53),
        /* 13 */ op(LD_H_IND, 0, 0, NET + 2), // destination port
        /* 14 */ op(JEQ, 9, 8, 53),
        /* 15 */ op(JEQ, 0, 7, IPV6),
        /* 16 */ op(LD_B_ABS, 0, 0, NET + 6), // next header
        /* 17 */ op(JEQ, 1, 0, UDP),
        /* 18 */ op(JEQ, 0, 4, TCP),
        /* 19 */ op(LD_H_ABS, 0, 0, NET + 40),
        /* 20 */ op(JEQ, 3, 0, 53),
        /* 21 */ op(LD_H_ABS, 0, 0, NET + 42),
        /* 22 */ op(JEQ, 1, 0, 53),
        /* 23 */ op(RET, 0, 0, short),
        /* 24 */ op(RET, 0, 0, 65_535),
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

    /// The program as the kernel reads it: the instruction codes and the
    /// ancillary offsets of linux/filter.h, written out once by hand.
    #[test]
    fn encodes_as_the_kernel_expects() {
        let p = program(256);
        let codes: Vec<u16> = p.iter().map(|i| i.code).collect();
        assert_eq!(
            codes,
            [
                0x28, 0x15, 0x30, 0x15, 0x15, 0x28, 0x45, 0x30, 0x54, 0x64, 0x07, 0x48, 0x15, 0x48,
                0x15, 0x15, 0x30, 0x15, 0x15, 0x28, 0x15, 0x28, 0x15, 0x06, 0x06
            ]
        );
        assert_eq!(p[0].k, 0xffff_f000, "SKF_AD_OFF + SKF_AD_PROTOCOL");
        assert_eq!(p[2].k, 0xfff0_0009, "SKF_NET_OFF + 9");
        assert_eq!((p[1].k, p[15].k, p[3].k, p[4].k), (0x0800, 0x86dd, 17, 6));
    }

    /// Every jump lands inside the program, and both exits are returns.
    #[test]
    fn jumps_land_inside_the_program() {
        let p = program(256);
        for (pc, ins) in p.iter().enumerate() {
            if u32::from(ins.code) & 0x07 == BPF_JMP {
                assert!(pc + 1 + usize::from(ins.jt) < p.len(), "jt of {pc}");
                assert!(pc + 1 + usize::from(ins.jf) < p.len(), "jf of {pc}");
            }
        }
        assert_eq!((p[23].code, p[23].k), (RET, 256));
        assert_eq!((p[24].code, p[24].k), (RET, 65_535));
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

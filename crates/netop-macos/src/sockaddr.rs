//! The `struct sockaddr` bytes of a getifaddrs(3) entry (BSD layout: a
//! length byte, then the family): `sockaddr_in` (port at 2, address at
//! 4), `sockaddr_in6` (flow info at 4, address at 8), and the link
//! layer's `sockaddr_dl` (`net/if_dl.h`: index at 2, type at 4, name,
//! address and selector lengths at 5, 6, 7, then the name followed by
//! the address in `sdl_data` at 8).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// AF_INET, AF_INET6 and AF_LINK on macOS.
pub const AF_INET: u8 = 2;
pub const AF_INET6: u8 = 30;
pub const AF_LINK: u8 = 18;

/// What a sockaddr holds, as far as interfaces go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sockaddr {
    Ip(IpAddr),
    /// `sdl_index` and a 6-byte link address when it has one.
    Link {
        index: u32,
        mac: Option<[u8; 6]>,
    },
    Other,
}

/// Decodes a sockaddr; `None` when it is shorter than its family needs.
pub fn parse(b: &[u8]) -> Option<Sockaddr> {
    let family = *b.get(1)?;
    Some(match family {
        AF_INET => {
            let a: [u8; 4] = b.get(4..8)?.try_into().ok()?;
            Sockaddr::Ip(IpAddr::V4(Ipv4Addr::from(a)))
        }
        AF_INET6 => {
            let a: [u8; 16] = b.get(8..24)?.try_into().ok()?;
            Sockaddr::Ip(IpAddr::V6(Ipv6Addr::from(a)))
        }
        AF_LINK => {
            let index = u32::from(u16::from_le_bytes(b.get(2..4)?.try_into().ok()?));
            let nlen = usize::from(*b.get(5)?);
            let alen = usize::from(*b.get(6)?);
            let mac = if alen == 6 {
                b.get(8 + nlen..8 + nlen + 6)
                    .and_then(|m| m.try_into().ok())
            } else {
                None
            };
            Sockaddr::Link { index, mac }
        }
        _ => Sockaddr::Other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inet_inet6_and_link_addresses() {
        let v4 = [16, AF_INET, 0, 0, 192, 168, 1, 20, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(
            parse(&v4),
            Some(Sockaddr::Ip("192.168.1.20".parse().expect("ip")))
        );
        let mut v6 = vec![28, AF_INET6, 0, 0, 0, 0, 0, 0];
        v6.extend_from_slice(&"fe80::1".parse::<Ipv6Addr>().expect("ip").octets());
        v6.extend_from_slice(&[0; 4]);
        assert_eq!(
            parse(&v6),
            Some(Sockaddr::Ip("fe80::1".parse().expect("ip")))
        );
        // sockaddr_dl of en0: index 4, IFT_ETHER (6), "en0", a MAC.
        let mut dl = vec![20, AF_LINK, 4, 0, 6, 3, 6, 0];
        dl.extend_from_slice(b"en0");
        dl.extend_from_slice(&[0xa4, 0x83, 0xe7, 1, 2, 3]);
        assert_eq!(
            parse(&dl),
            Some(Sockaddr::Link {
                index: 4,
                mac: Some([0xa4, 0x83, 0xe7, 1, 2, 3])
            })
        );
        // lo0 has no link address.
        let lo = [20, AF_LINK, 1, 0, 24, 3, 0, 0, b'l', b'o', b'0'];
        assert_eq!(
            parse(&lo),
            Some(Sockaddr::Link {
                index: 1,
                mac: None
            })
        );
        for cut in 0..v6.len() - 4 {
            assert_eq!(parse(&v6[..cut]).filter(|s| *s != Sockaddr::Other), None);
        }
        assert_eq!(parse(&[16, 99]), Some(Sockaddr::Other));
    }
}

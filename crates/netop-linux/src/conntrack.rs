//! The host's NAT translations, from conntrack (netlink, `NETLINK_NETFILTER`).
//!
//! When the host masquerades a container's connection, the packets on the
//! uplink carry the host's address and maybe another port: no socket has
//! that tuple. Conntrack knows both sides of the translation, so a flow
//! seen with the translated tuple is mapped back to the tuple of the
//! container's socket, which [`crate::netns`] then finds. One exact `GET`
//! per question (two at most), no table dumps.

use std::io;
use std::net::{IpAddr, SocketAddr};

use netlink_packet_core::{NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_REQUEST};
use netlink_packet_netfilter::conntrack::{
    ConntrackAttribute, ConntrackMessage, IPTuple, ProtoTuple, Tuple,
};
use netlink_packet_netfilter::{
    NetfilterHeader, NetfilterMessage, NetfilterMessageInner, NetfilterProtoFamily,
};
use netlink_sys::{protocols::NETLINK_NETFILTER, Socket, SocketAddr as NlAddr};
use netop_core::{FlowKey, Protocol};

/// How long a reply may take.
const RECV_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(500);

/// Which tuple of a conntrack entry a question names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Orig,
    Reply,
}

/// One direction of a connection: source and destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CtTuple {
    pub src: SocketAddr,
    pub dst: SocketAddr,
}

/// A conntrack netlink socket.
pub struct Conntrack {
    socket: Socket,
    seq: u32,
    buf: Vec<u8>,
}

impl std::fmt::Debug for Conntrack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conntrack").field("seq", &self.seq).finish()
    }
}

impl Conntrack {
    /// Opens the socket. Queries need CAP_NET_ADMIN.
    pub fn open() -> io::Result<Self> {
        let mut socket = Socket::new(NETLINK_NETFILTER)?;
        socket.bind_auto()?;
        socket.connect(&NlAddr::new(0, 0))?;
        let timeout = nix::sys::time::TimeVal::new(
            RECV_TIMEOUT.as_secs() as nix::libc::time_t,
            RECV_TIMEOUT.subsec_micros() as nix::libc::suseconds_t,
        );
        nix::sys::socket::setsockopt(&socket, nix::sys::socket::sockopt::ReceiveTimeout, &timeout)
            .map_err(io::Error::from)?;
        Ok(Conntrack {
            socket,
            seq: 0,
            buf: vec![0; 8192],
        })
    }

    /// The tuple (as a flow key of the inner socket) behind a flow the host
    /// sees translated; `None` when conntrack has no translation for it.
    pub fn inner(&mut self, key: &FlowKey) -> Option<FlowKey> {
        if !key.proto.has_ports() {
            return None;
        }
        let local = key.local();
        let remote = key.remote();
        let asked = CtTuple {
            src: remote,
            dst: local,
        };
        // Source NAT (masquerade): what the host sees is the reply
        // direction. Destination NAT (published port): the original.
        for side in [Side::Reply, Side::Orig] {
            if let Some((orig, reply)) = self.get(key.proto, side, asked) {
                if let Some(inner) = inner_of(key, side, asked, orig, reply) {
                    return Some(inner);
                }
            }
        }
        None
    }

    /// The entry whose `side` tuple is `tuple`: (original, reply).
    fn get(&mut self, proto: Protocol, side: Side, tuple: CtTuple) -> Option<(CtTuple, CtTuple)> {
        let family = match tuple.src.ip() {
            IpAddr::V4(_) => NetfilterProtoFamily::IPv4,
            IpAddr::V6(_) => NetfilterProtoFamily::IPv6,
        };
        let attr = match side {
            Side::Orig => ConntrackAttribute::CtaTupleOrig(tuple_attrs(proto, tuple)),
            Side::Reply => ConntrackAttribute::CtaTupleReply(tuple_attrs(proto, tuple)),
        };
        self.seq = self.seq.wrapping_add(1);
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST;
        header.sequence_number = self.seq;
        let mut packet = NetlinkMessage::new(
            header,
            NetlinkPayload::from(NetfilterMessage::new(
                NetfilterHeader::new(family, 0, 0),
                ConntrackMessage::Get(vec![attr]),
            )),
        );
        packet.finalize();
        let mut out = vec![0; packet.buffer_len()];
        packet.serialize(&mut out);
        if let Err(err) = self.socket.send(&out, 0) {
            tracing::debug!(%err, "conntrack request failed");
            return None;
        }
        loop {
            let n = match self.socket.recv(&mut &mut self.buf[..], 0) {
                Ok(n) => n,
                Err(err) => {
                    tracing::debug!(%err, "conntrack reply failed");
                    return None;
                }
            };
            let mut offset = 0;
            while offset < n {
                let msg =
                    match NetlinkMessage::<NetfilterMessage>::deserialize(&self.buf[offset..n]) {
                        Ok(m) => m,
                        Err(err) => {
                            tracing::debug!(%err, "malformed conntrack reply");
                            return None;
                        }
                    };
                let len = msg.header.length as usize;
                if msg.header.sequence_number == self.seq {
                    match msg.payload {
                        NetlinkPayload::InnerMessage(NetfilterMessage {
                            inner: NetfilterMessageInner::Conntrack(ConntrackMessage::New(attrs)),
                            ..
                        }) => return entry_tuples(&attrs),
                        // ENOENT (no such connection), EPERM, ...: no answer.
                        NetlinkPayload::Error(_) | NetlinkPayload::Done(_) => return None,
                        _ => {}
                    }
                }
                if len == 0 {
                    break;
                }
                offset += len;
            }
        }
    }
}

/// The socket's own flow behind an entry found by asking for `asked` as
/// its `side` tuple. The kernel finds an entry by either of its tuples
/// whichever the question names, so the answer must have come by the side
/// asked: masquerade is found by its reply (the socket sent the original),
/// a published port by its original (the socket answers in the reply).
/// `None` when that is not so or nothing is translated.
fn inner_of(
    key: &FlowKey,
    side: Side,
    asked: CtTuple,
    orig: CtTuple,
    reply: CtTuple,
) -> Option<FlowKey> {
    let inner = match side {
        Side::Reply if reply == asked => FlowKey::new(key.proto, orig.src, orig.dst),
        Side::Orig if orig == asked => FlowKey::new(key.proto, reply.src, reply.dst),
        _ => return None,
    };
    (inner != *key).then_some(inner)
}

fn tuple_attrs(proto: Protocol, t: CtTuple) -> Vec<Tuple> {
    use netlink_packet_netfilter::conntrack::Protocol as Ct;
    let number = match proto {
        Protocol::Tcp => Ct::Tcp,
        Protocol::Udp => Ct::Udp,
        Protocol::Icmp => Ct::Icmp,
        Protocol::Icmpv6 => Ct::Ipv6Icmp,
        Protocol::Other(n) => Ct::Other(n),
    };
    vec![
        Tuple::Ip(vec![
            IPTuple::SourceAddress(t.src.ip()),
            IPTuple::DestinationAddress(t.dst.ip()),
        ]),
        Tuple::Proto(vec![
            ProtoTuple::Protocol(number),
            ProtoTuple::SourcePort(t.src.port()),
            ProtoTuple::DestinationPort(t.dst.port()),
        ]),
    ]
}

/// The original and reply tuples of one entry's attributes.
fn entry_tuples(attrs: &[ConntrackAttribute]) -> Option<(CtTuple, CtTuple)> {
    let mut orig = None;
    let mut reply = None;
    for attr in attrs {
        match attr {
            ConntrackAttribute::CtaTupleOrig(t) => orig = parse_tuple(t),
            ConntrackAttribute::CtaTupleReply(t) => reply = parse_tuple(t),
            _ => {}
        }
    }
    Some((orig?, reply?))
}

fn parse_tuple(parts: &[Tuple]) -> Option<CtTuple> {
    let (mut src_ip, mut dst_ip, mut src_port, mut dst_port) = (None, None, None, None);
    for part in parts {
        match part {
            Tuple::Ip(ips) => {
                for ip in ips {
                    match ip {
                        IPTuple::SourceAddress(a) => src_ip = Some(*a),
                        IPTuple::DestinationAddress(a) => dst_ip = Some(*a),
                        _ => {}
                    }
                }
            }
            Tuple::Proto(protos) => {
                for p in protos {
                    match p {
                        ProtoTuple::SourcePort(port) => src_port = Some(*port),
                        ProtoTuple::DestinationPort(port) => dst_port = Some(*port),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    Some(CtTuple {
        src: SocketAddr::new(src_ip?, src_port?),
        dst: SocketAddr::new(dst_ip?, dst_port?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tuples_round_trip_through_attributes() {
        let t = CtTuple {
            src: "10.0.3.2:40000".parse().expect("addr"),
            dst: "198.51.100.7:80".parse().expect("addr"),
        };
        let r = CtTuple {
            src: "198.51.100.7:80".parse().expect("addr"),
            dst: "192.0.2.10:40001".parse().expect("addr"),
        };
        let attrs = vec![
            ConntrackAttribute::CtaTupleOrig(tuple_attrs(Protocol::Tcp, t)),
            ConntrackAttribute::CtaTupleReply(tuple_attrs(Protocol::Tcp, r)),
        ];
        assert_eq!(entry_tuples(&attrs), Some((t, r)));
        assert_eq!(entry_tuples(&attrs[..1]), None, "both tuples are needed");
    }

    fn addr(s: &str) -> SocketAddr {
        s.parse().expect("addr")
    }

    #[test]
    fn masquerade_and_published_ports_map_back_by_the_side_asked() {
        let host = addr("192.0.2.1:40001");
        let container = addr("10.0.3.2:40000");
        let world = addr("198.51.100.7:80");
        // Masquerade: container -> world, seen as host -> world.
        let orig = CtTuple {
            src: container,
            dst: world,
        };
        let reply = CtTuple {
            src: world,
            dst: host,
        };
        let key = FlowKey::new(Protocol::Tcp, host, world);
        let asked = CtTuple {
            src: world,
            dst: host,
        };
        assert_eq!(
            inner_of(&key, Side::Reply, asked, orig, reply),
            Some(FlowKey::new(Protocol::Tcp, container, world))
        );
        // Published port: world -> host:8080, forwarded to container:80.
        let published = addr("192.0.2.1:8080");
        let server = addr("10.0.3.2:80");
        let client = addr("198.51.100.7:5555");
        let orig = CtTuple {
            src: client,
            dst: published,
        };
        let reply = CtTuple {
            src: server,
            dst: client,
        };
        let key = FlowKey::new(Protocol::Tcp, published, client);
        let asked = CtTuple {
            src: client,
            dst: published,
        };
        assert_eq!(
            inner_of(&key, Side::Orig, asked, orig, reply),
            Some(FlowKey::new(Protocol::Tcp, server, client))
        );
        // The same entry found by its original when asked for a reply
        // tuple is not a masquerade: the client's own socket is not the
        // published port's.
        assert_eq!(inner_of(&key, Side::Reply, asked, orig, reply), None);
    }

    #[test]
    fn an_untranslated_entry_maps_to_nothing() {
        let a = addr("192.0.2.1:1000");
        let b = addr("192.0.2.2:80");
        let key = FlowKey::new(Protocol::Udp, a, b);
        let asked = CtTuple { src: b, dst: a };
        let orig = CtTuple { src: a, dst: b };
        assert_eq!(inner_of(&key, Side::Reply, asked, orig, asked), None);
    }

    #[test]
    fn a_lookup_without_translation_answers_nothing() {
        // Opening NETLINK_NETFILTER needs root (as in CI).
        let mut ct = match Conntrack::open() {
            Ok(ct) => ct,
            Err(e) => {
                netop_core::testing::skip(&format!("cannot open conntrack: {e}"));
                return;
            }
        };
        let key = FlowKey::new(
            Protocol::Tcp,
            "192.0.2.1:1".parse().expect("addr"),
            "192.0.2.2:2".parse().expect("addr"),
        );
        assert_eq!(ct.inner(&key), None);
    }
}

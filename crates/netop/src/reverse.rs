//! `--resolve`: reverse DNS (PTR) for the remote addresses the DNS
//! observatory has not named. Off by default: it sends queries.
//!
//! One thread asks the system's first configured resolver
//! (`/etc/resolv.conf`), one query at a time over UDP, each waited for at
//! most 2 s, and keeps every answer for its TTL (30 s to a day; 60 s for
//! "no name"), so the screen never waits and an address is asked again
//! only when its answer expires. The queries leave from netop's own
//! socket, so the DNS view shows them as netop's. Messages are built and
//! read with hickory-proto.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};

/// Longest wait for one answer.
const TIMEOUT: Duration = Duration::from_secs(2);
/// How long "no name" (NXDOMAIN, no PTR, no answer) is kept.
const NEGATIVE_TTL: Duration = Duration::from_secs(60);
const MIN_TTL: u32 = 30;
const MAX_TTL: u32 = 86_400;

/// The screen's end: addresses in, names out.
#[derive(Debug)]
pub struct Reverse {
    pub requests: Sender<IpAddr>,
    pub answers: Receiver<(IpAddr, String)>,
}

/// The first `nameserver` of a resolv.conf text (port 53).
pub fn nameserver(resolv_conf: &str) -> Option<SocketAddr> {
    resolv_conf.lines().find_map(|line| {
        let mut f = line.split_whitespace();
        (f.next() == Some("nameserver"))
            .then(|| f.next()?.split('%').next()?.parse::<IpAddr>().ok())
            .flatten()
            .map(|ip| SocketAddr::new(ip, 53))
    })
}

/// Starts the thread, asking `server`.
pub fn spawn(server: SocketAddr) -> std::io::Result<Reverse> {
    let (requests, rx) = mpsc::channel::<IpAddr>();
    let (tx, answers) = mpsc::channel::<(IpAddr, String)>();
    thread::Builder::new()
        .name("netop-resolve".into())
        .spawn(move || serve(server, &rx, &tx))?;
    Ok(Reverse { requests, answers })
}

fn serve(server: SocketAddr, requests: &Receiver<IpAddr>, answers: &Sender<(IpAddr, String)>) {
    let mut cache: HashMap<IpAddr, (Option<String>, Instant)> = HashMap::new();
    let mut id: u16 = std::process::id() as u16;
    loop {
        let ip = match requests.recv_timeout(Duration::from_secs(60)) {
            Ok(ip) => ip,
            Err(RecvTimeoutError::Timeout) => {
                let now = Instant::now();
                cache.retain(|_, (_, until)| *until > now);
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => return,
        };
        let now = Instant::now();
        let name = match cache.get(&ip) {
            Some((name, until)) if *until > now => name.clone(),
            _ => {
                id = id.wrapping_add(1);
                let (name, ttl) = match ask(server, ip, id) {
                    Ok(Some((name, ttl))) => (Some(name), Duration::from_secs(u64::from(ttl))),
                    Ok(None) => (None, NEGATIVE_TTL),
                    Err(e) => {
                        tracing::debug!(%ip, error = %e, "PTR query failed");
                        (None, NEGATIVE_TTL)
                    }
                };
                cache.insert(ip, (name.clone(), now + ttl));
                name
            }
        };
        if let Some(name) = name {
            if answers.send((ip, name)).is_err() {
                return;
            }
        }
    }
}

/// The PTR query for `ip`.
pub fn query(ip: IpAddr, id: u16) -> Vec<u8> {
    let mut message = Message::new(id, MessageType::Query, OpCode::Query);
    message.metadata.recursion_desired = true;
    message.add_query(Query::query(Name::from(ip), RecordType::PTR));
    message.to_vec().unwrap_or_default()
}

/// The name and TTL of an answer to query `id`; `None` for no name.
pub fn answer(bytes: &[u8], id: u16) -> Result<Option<(String, u32)>, String> {
    let message = Message::from_vec(bytes).map_err(|e| e.to_string())?;
    if message.metadata.id != id || message.metadata.message_type != MessageType::Response {
        return Err("not the answer to our query".to_string());
    }
    if message.metadata.response_code != ResponseCode::NoError {
        return Ok(None);
    }
    Ok(message.answers.iter().find_map(|r| match &r.data {
        RData::PTR(ptr) => {
            let name = ptr.to_string();
            let name = name.trim_end_matches('.').to_string();
            (!name.is_empty()).then_some((name, r.ttl.clamp(MIN_TTL, MAX_TTL)))
        }
        _ => None,
    }))
}

fn ask(server: SocketAddr, ip: IpAddr, id: u16) -> std::io::Result<Option<(String, u32)>> {
    let local: SocketAddr = match server {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = UdpSocket::bind(local)?;
    socket.connect(server)?;
    socket.set_read_timeout(Some(TIMEOUT))?;
    socket.send(&query(ip, id))?;
    let deadline = Instant::now() + TIMEOUT;
    let mut buf = [0u8; 1500];
    while Instant::now() < deadline {
        let n = socket.recv(&mut buf)?;
        if let Ok(found) = answer(&buf[..n], id) {
            return Ok(found);
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::{rdata::PTR, Record};

    #[test]
    fn the_first_nameserver() {
        let conf = "# comment\nsearch lan\nnameserver fe80::1%eth0\nnameserver 10.0.0.1\n";
        assert_eq!(
            nameserver(conf),
            Some("[fe80::1]:53".parse().expect("addr"))
        );
        assert_eq!(nameserver("search x\n"), None);
    }

    /// A fake resolver on loopback: answers PTR queries for 192.0.2.7.
    fn fake_server() -> SocketAddr {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let addr = socket.local_addr().expect("addr");
        thread::spawn(move || {
            let mut buf = [0u8; 1500];
            while let Ok((n, from)) = socket.recv_from(&mut buf) {
                let Ok(q) = Message::from_vec(&buf[..n]) else {
                    continue;
                };
                let mut r = Message::new(q.metadata.id, MessageType::Response, OpCode::Query);
                let asked = q.queries[0].name().clone();
                r.add_query(q.queries[0].clone());
                if asked == Name::from(IpAddr::from([192, 0, 2, 7])) {
                    let name = Name::from_ascii("host7.example.").expect("name");
                    r.answers
                        .push(Record::from_rdata(asked, 300, RData::PTR(PTR(name))));
                } else {
                    r.metadata.response_code = ResponseCode::NXDomain;
                }
                let _ = socket.send_to(&r.to_vec().expect("encode"), from);
            }
        });
        addr
    }

    #[test]
    fn names_come_back_and_unknown_addresses_do_not() {
        let server = fake_server();
        assert_eq!(
            ask(server, IpAddr::from([192, 0, 2, 7]), 7).expect("asked"),
            Some(("host7.example".to_string(), 300))
        );
        assert_eq!(
            ask(server, IpAddr::from([192, 0, 2, 8]), 8).expect("asked"),
            None
        );
        let reverse = spawn(server).expect("thread");
        reverse
            .requests
            .send(IpAddr::from([192, 0, 2, 8]))
            .expect("send");
        reverse
            .requests
            .send(IpAddr::from([192, 0, 2, 7]))
            .expect("send");
        let got = reverse
            .answers
            .recv_timeout(Duration::from_secs(10))
            .expect("an answer");
        assert_eq!(
            got,
            (IpAddr::from([192, 0, 2, 7]), "host7.example".to_string())
        );
    }

    #[test]
    fn an_answer_to_another_query_is_refused() {
        let q = query(IpAddr::from([192, 0, 2, 7]), 1);
        assert!(answer(&q, 1).is_err(), "a query is not an answer");
    }
}

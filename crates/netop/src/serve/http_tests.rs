//! The server's limits with bad requests: over-long heads, too many
//! headers, other methods, bodies, absolute targets, slow and silent
//! clients, too many connections; on parsed bytes and on real sockets.

use std::io::{Cursor, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;

fn parse_bytes(bytes: &[u8]) -> Result<Request, Refusal> {
    read_request(
        &mut Cursor::new(bytes.to_vec()),
        &Limits::default(),
        Instant::now(),
    )
}

#[test]
fn a_plain_get_is_parsed() {
    let r = parse_bytes(
        b"GET /api/series?range=5m&x=1 HTTP/1.1\r\nHost: a\r\nAccept: text/plain\r\n\r\n",
    )
    .expect("parsed");
    assert_eq!(r.method, "GET");
    assert_eq!(r.path, "/api/series");
    assert_eq!(r.param("range").as_deref(), Some("5m"));
    let t =
        parse_bytes(b"GET /?token=a%2Bb%2F%3D&bad=%zz&cut=%4 HTTP/1.1\r\n\r\n").expect("parsed");
    assert_eq!(t.param("token").as_deref(), Some("a+b/="));
    assert_eq!(t.param("bad"), None);
    assert_eq!(t.param("cut"), None);
    assert_eq!(t.param("none"), None);
    assert_eq!(r.header("ACCEPT"), Some("text/plain"));
}

#[test]
fn bad_requests_get_plain_status_codes() {
    let many: String = (0..40).map(|i| format!("X-{i}: y\r\n")).collect();
    let long = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(10_000));
    let cases: Vec<(Vec<u8>, Refusal)> = vec![
        (
            format!("GET / HTTP/1.1\r\n{many}\r\n").into_bytes(),
            Refusal::Status(431),
        ),
        (long.into_bytes(), Refusal::Status(431)),
        (
            b"POST /metrics HTTP/1.1\r\n\r\n".to_vec(),
            Refusal::Status(405),
        ),
        (b"DELETE / HTTP/1.1\r\n\r\n".to_vec(), Refusal::Status(405)),
        (
            b"GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello".to_vec(),
            Refusal::Status(413),
        ),
        (
            b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec(),
            Refusal::Status(413),
        ),
        (
            b"GET http://evil/ HTTP/1.1\r\n\r\n".to_vec(),
            Refusal::Status(400),
        ),
        (
            b"GET ../../etc/passwd HTTP/1.1\r\n\r\n".to_vec(),
            Refusal::Status(400),
        ),
        (b"GET / HTTP/9.9\r\n\r\n".to_vec(), Refusal::Status(505)),
        (
            b"\x00\x01\x02garbage\r\n\r\n".to_vec(),
            Refusal::Status(400),
        ),
        (
            b"GET / HTTP/1.1\r\nX: \xff\xfe\r\n\r\n".to_vec(),
            Refusal::Status(400),
        ),
        // Closed before the head ended.
        (b"GET / HTTP/1.1\r\nHost".to_vec(), Refusal::Status(400)),
        (Vec::new(), Refusal::Gone),
    ];
    for (bytes, expected) in cases {
        assert_eq!(
            parse_bytes(&bytes).map(|r| r.path),
            Err(expected),
            "{:?}",
            String::from_utf8_lossy(&bytes[..bytes.len().min(60)])
        );
    }
}

#[test]
fn responses_are_well_formed_and_head_has_no_body() {
    let mut out = Vec::new();
    write_response(&mut out, Response::ok("text/plain", "hi"), false).expect("write");
    let text = String::from_utf8(out).expect("utf-8");
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"));
    assert!(text.contains("Content-Length: 2\r\n"));
    assert!(text.ends_with("\r\n\r\nhi"));
    let mut out = Vec::new();
    write_response(&mut out, Response::ok("text/plain", "hi"), true).expect("write");
    assert!(String::from_utf8(out).expect("utf-8").ends_with("\r\n\r\n"));
    let mut out = Vec::new();
    let evil = Response::ok("text/plain", "").with_header("X-Test", "a\r\nSet-Cookie: x");
    write_response(&mut out, evil, false).expect("write");
    assert!(!String::from_utf8(out)
        .expect("utf-8")
        .contains("\r\nSet-Cookie"));
}

/// A server on a free loopback port with `limits`; answers "ok".
fn server(limits: Limits) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let handler: Arc<Handler> = Arc::new(|r: &Request| {
        if r.path == "/" {
            Response::ok("text/plain", "ok")
        } else {
            Response::error(404)
        }
    });
    std::thread::spawn(move || serve(listener, handler, limits));
    addr
}

fn exchange(addr: std::net::SocketAddr, bytes: &[u8]) -> String {
    let mut conn = TcpStream::connect(addr).expect("connect");
    conn.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let _ = conn.write_all(bytes);
    let mut answer = String::new();
    let _ = conn.read_to_string(&mut answer);
    answer
}

#[test]
fn real_sockets_get_answers_and_errors() {
    let addr = server(Limits::default());
    assert!(exchange(addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").ends_with("\r\n\r\nok"));
    assert!(exchange(addr, b"GET /nope HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404 "));
    assert!(exchange(addr, b"POST / HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 405 "));
    // Exactly the limit and no blank line (more would be left unread, and
    // closing over unread bytes resets the connection before the answer).
    let huge = vec![b'a'; Limits::default().max_head];
    assert!(exchange(addr, &huge).starts_with("HTTP/1.1 431 "));
}

#[test]
fn a_client_that_dribbles_its_head_is_cut_off() {
    let addr = server(Limits {
        head_deadline: Duration::from_millis(300),
        ..Limits::default()
    });
    let mut conn = TcpStream::connect(addr).expect("connect");
    conn.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    // A byte at a time, never finishing: the deadline answers 408 and closes.
    let mut answer = String::new();
    for b in b"GET / HTTP/1.1\r\nX-Slow: " {
        if conn.write_all(&[*b]).is_err() {
            break;
        }
        std::thread::sleep(Duration::from_millis(40));
    }
    let _ = conn.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer:?}");
}

#[test]
fn connections_over_the_limit_get_503() {
    let addr = server(Limits {
        max_connections: 2,
        ..Limits::default()
    });
    // Two silent connections hold both places.
    let held: Vec<TcpStream> = (0..2)
        .map(|_| TcpStream::connect(addr).expect("connect"))
        .collect();
    // The accept loop counts them before it takes the third.
    let mut answer = String::new();
    for _ in 0..100 {
        answer = exchange(addr, b"GET / HTTP/1.1\r\n\r\n");
        if answer.starts_with("HTTP/1.1 503 ") {
            break;
        }
    }
    assert!(answer.starts_with("HTTP/1.1 503 "), "{answer:?}");
    drop(held);
}

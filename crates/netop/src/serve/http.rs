//! A small HTTP/1.1 server for `/metrics`, the dashboard and its API, on
//! std's blocking sockets: one thread per connection, one request per
//! connection (`Connection: close`), GET and HEAD only.
//!
//! Every request is untrusted input, so the limits come first: the request
//! head is at most [`Limits::max_head`] bytes with at most
//! [`Limits::max_headers`] headers (httparse parses into a fixed array),
//! it must arrive within [`Limits::head_deadline`] (a client sending a
//! byte every few seconds is cut off), writes time out, requests with a
//! body are refused, and at most [`Limits::max_connections`] connections
//! are served at once (the others get a 503 at once). Paths are matched
//! against a fixed table by the router; nothing here touches the file
//! system. Every error is a plain status code with a one-line body.
//!
//! A hand-written loop over `httparse` rather than a framework: the server
//! needs exactly these limits, no async runtime, and no TLS (put a reverse
//! proxy in front for that); hyper or axum would bring tokio for three
//! routes.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Bounds on what a client may send and hold.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_head: usize,
    pub max_headers: usize,
    pub head_deadline: Duration,
    pub write_timeout: Duration,
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_head: 8 * 1024,
            max_headers: 32,
            head_deadline: Duration::from_secs(10),
            write_timeout: Duration::from_secs(10),
            max_connections: 64,
        }
    }
}

/// A parsed request: what the router needs, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The query string, without `?`; empty when none.
    pub query: String,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The value of `key` in the query string, percent-decoded (`None`
    /// when absent or not valid UTF-8 once decoded).
    pub fn param(&self, key: &str) -> Option<String> {
        self.query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == key)
            .and_then(|(_, v)| percent_decode(v))
    }
}

/// A streamed body: called with the connection until it returns an error
/// or `Ok(false)` (done).
pub type Stream = Box<dyn FnMut(&mut dyn Write) -> io::Result<bool> + Send>;

/// What a handler answers.
pub enum Body {
    Bytes(Vec<u8>),
    Stream(Stream),
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Body::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            Body::Stream(_) => f.write_str("Stream"),
        }
    }
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub headers: Vec<(&'static str, String)>,
    pub body: Body,
}

impl Response {
    pub fn ok(content_type: &'static str, body: impl Into<Vec<u8>>) -> Self {
        Response {
            status: 200,
            content_type,
            headers: Vec::new(),
            body: Body::Bytes(body.into()),
        }
    }

    /// A plain error: the status and its reason as the body.
    pub fn error(status: u16) -> Self {
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            headers: Vec::new(),
            body: Body::Bytes(format!("{status} {}\n", reason(status)).into_bytes()),
        }
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

/// The reason phrase of the statuses this server sends.
pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Content Too Large",
        414 => "URI Too Long",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Error",
    }
}

/// `%XX` escapes decoded (as `encodeURIComponent` writes them); a broken
/// escape or bytes that are not UTF-8 give `None`.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Why a request head was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The status to answer with.
    Status(u16),
    /// The client went away or sent nothing: no answer.
    Gone,
}

/// Reads and parses one request head from `conn` within the limits.
pub fn read_request(
    conn: &mut dyn Read,
    limits: &Limits,
    started: Instant,
) -> Result<Request, Refusal> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(end) = find_head_end(&buf) {
            return parse(&buf[..end], limits);
        }
        if buf.len() >= limits.max_head {
            return Err(Refusal::Status(431));
        }
        if started.elapsed() >= limits.head_deadline {
            return Err(Refusal::Status(408));
        }
        let room = (limits.max_head - buf.len()).min(chunk.len());
        match conn.read(&mut chunk[..room]) {
            Ok(0) => {
                return Err(if buf.is_empty() {
                    Refusal::Gone
                } else {
                    Refusal::Status(400)
                })
            }
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(if buf.is_empty() {
                    Refusal::Gone
                } else {
                    Refusal::Status(408)
                })
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Err(Refusal::Gone),
        }
    }
}

/// The end of the head (after its blank line), if it has arrived.
fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

fn parse(head: &[u8], limits: &Limits) -> Result<Request, Refusal> {
    let mut headers = vec![httparse::EMPTY_HEADER; limits.max_headers];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(Refusal::Status(400)),
        Err(httparse::Error::TooManyHeaders) => return Err(Refusal::Status(431)),
        Err(httparse::Error::Version) => return Err(Refusal::Status(505)),
        Err(_) => return Err(Refusal::Status(400)),
    }
    let method = req.method.unwrap_or_default().to_string();
    let target = req.path.unwrap_or_default();
    // Origin form only: "/path?query". No absolute URLs, no "*".
    if !target.starts_with('/') {
        return Err(Refusal::Status(400));
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut parsed = Vec::with_capacity(req.headers.len());
    for h in req.headers.iter() {
        let value = std::str::from_utf8(h.value).map_err(|_| Refusal::Status(400))?;
        parsed.push((h.name.to_ascii_lowercase(), value.trim().to_string()));
    }
    let request = Request {
        method,
        path: path.to_string(),
        query: query.to_string(),
        headers: parsed,
    };
    // A body is never expected: refuse one rather than leave it unread.
    let has_body = request
        .header("content-length")
        .is_some_and(|v| v.trim() != "0")
        || request.header("transfer-encoding").is_some();
    if has_body {
        return Err(Refusal::Status(413));
    }
    if request.method != "GET" && request.method != "HEAD" {
        return Err(Refusal::Status(405));
    }
    Ok(request)
}

/// Writes `response` (no body for HEAD).
pub fn write_response(out: &mut dyn Write, response: Response, head_only: bool) -> io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nConnection: close\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n",
        response.status,
        reason(response.status),
        response.content_type
    );
    for (name, value) in &response.headers {
        // Handlers set fixed names; values never carry line breaks.
        let value: String = value.chars().filter(|c| !c.is_control()).collect();
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    match response.body {
        Body::Bytes(body) => {
            head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
            out.write_all(head.as_bytes())?;
            if !head_only {
                out.write_all(&body)?;
            }
            out.flush()
        }
        Body::Stream(mut stream) => {
            head.push_str("\r\n");
            out.write_all(head.as_bytes())?;
            out.flush()?;
            if head_only {
                return Ok(());
            }
            while stream(out)? {
                out.flush()?;
            }
            out.flush()
        }
    }
}

/// The handler the server calls for each parsed request.
pub type Handler = dyn Fn(&Request) -> Response + Send + Sync;

/// Serves connections from `listener` until the process ends.
pub fn serve(listener: TcpListener, handler: Arc<Handler>, limits: Limits) {
    let active = Arc::new(AtomicUsize::new(0));
    for conn in listener.incoming() {
        let Ok(mut conn) = conn else {
            // Out of descriptors, a connection reset before accept: go on.
            std::thread::sleep(Duration::from_millis(10));
            continue;
        };
        if active.fetch_add(1, Ordering::AcqRel) >= limits.max_connections {
            active.fetch_sub(1, Ordering::AcqRel);
            let _ = conn.set_write_timeout(Some(Duration::from_secs(1)));
            let _ = write_response(&mut conn, Response::error(503), false);
            continue;
        }
        let handler = Arc::clone(&handler);
        let guard = Active(Arc::clone(&active));
        let spawned = std::thread::Builder::new()
            .name("netop-http".into())
            .spawn(move || {
                let _guard = guard;
                connection(&mut conn, &*handler, &limits);
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "cannot start an HTTP connection thread");
        }
    }
}

/// Counts a connection as active while alive.
struct Active(Arc<AtomicUsize>);

impl Drop for Active {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

fn connection(conn: &mut TcpStream, handler: &Handler, limits: &Limits) {
    let started = Instant::now();
    // Each read waits at most what is left of the head's deadline.
    let _ = conn.set_read_timeout(Some(limits.head_deadline));
    let _ = conn.set_write_timeout(Some(limits.write_timeout));
    let response = match read_request(
        &mut TimedReader {
            conn,
            limits,
            started,
        },
        limits,
        started,
    ) {
        Ok(request) => {
            let head_only = request.method == "HEAD";
            let response = handler(&request);
            let _ = write_response(conn, response, head_only);
            return;
        }
        Err(Refusal::Gone) => return,
        Err(Refusal::Status(status)) => Response::error(status),
    };
    let _ = write_response(conn, response, false);
}

/// A reader that shortens each read's timeout to the head's deadline.
struct TimedReader<'a> {
    conn: &'a mut TcpStream,
    limits: &'a Limits,
    started: Instant,
}

impl Read for TimedReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self
            .limits
            .head_deadline
            .saturating_sub(self.started.elapsed())
            .max(Duration::from_millis(1));
        self.conn.set_read_timeout(Some(left))?;
        self.conn.read(buf)
    }
}

#[cfg(test)]
#[path = "http_tests.rs"]
mod tests;

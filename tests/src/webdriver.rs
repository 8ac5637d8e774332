//! A small W3C WebDriver client for the dashboard's test: Debian's
//! `chromedriver` (package chromium-driver) drives headless `chromium`,
//! so the test clicks, hovers and scrolls as a user does (the browser
//! gets real input events) instead of loading URL states.
//!
//! Only what the test needs: a session with a window size, navigation,
//! finding elements by CSS selector, clicking, pointer and wheel actions,
//! running a script, screenshots. HTTP/1.1 over std's TcpStream, one
//! connection a request, the answer read by its `Content-Length`
//! (chromedriver keeps connections open); it listens on loopback only.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::{json, Value};

use crate::child::Proc;
use crate::scratch::ScratchDir;
use crate::service::{free_port, which};

/// The W3C name of an element reference in JSON.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// chromedriver with one Chromium session; both end on drop.
#[derive(Debug)]
pub struct Browser {
    /// Kept for its drop, which ends chromedriver.
    _driver: Proc,
    addr: SocketAddr,
    session: String,
    _profile: ScratchDir,
}

/// An element of the page.
#[derive(Debug, Clone)]
pub struct Element(String);

impl Browser {
    /// Starts chromedriver and a headless Chromium of `width`x`height`.
    pub fn start(width: u32, height: u32) -> anyhow::Result<Self> {
        let driver_bin = which("chromedriver").context(
            "chromedriver is missing: `cargo xtask deps` installs Debian's chromium-driver package",
        )?;
        let chromium = which("chromium").context(
            "chromium is missing: `cargo xtask deps` installs Debian's chromium package",
        )?;
        let port = free_port()?;
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
        let mut cmd = Command::new(driver_bin);
        cmd.arg(format!("--port={port}"));
        let driver = Proc::spawn("chromedriver", cmd)?;
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok((200, v)) = request(addr, "GET", "/status", None) {
                if v["value"]["ready"] == true {
                    break;
                }
            }
            if Instant::now() > deadline {
                bail!("chromedriver never became ready:\n{}", driver.describe());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let profile = ScratchDir::new("chromium")?;
        let caps = json!({
            "capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": chromium,
                    "args": [
                        "--headless=new",
                        "--no-sandbox",
                        "--disable-gpu",
                        "--disable-dev-shm-usage",
                        "--disable-quic",
                        "--no-first-run",
                        "--disable-background-networking",
                        "--disable-component-update",
                        "--disable-sync",
                        format!("--window-size={width},{height}"),
                        format!("--user-data-dir={}", profile.path().display()),
                    ],
                },
            }},
        });
        let (status, v) = request(addr, "POST", "/session", Some(&caps))?;
        let session = v["value"]["sessionId"]
            .as_str()
            .filter(|_| status == 200)
            .with_context(|| format!("no session ({status}): {v}\n{}", driver.describe()))?
            .to_string();
        let browser = Browser {
            _driver: driver,
            addr,
            session,
            _profile: profile,
        };
        browser.set_viewport(width, height)?;
        Ok(browser)
    }

    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> anyhow::Result<Value> {
        let full = format!("/session/{}{path}", self.session);
        let (status, v) = request(self.addr, method, &full, body)?;
        if status != 200 {
            bail!("WebDriver {method} {path}: {status} {}", v["value"]);
        }
        Ok(v["value"].clone())
    }

    /// Makes the page's viewport `width`x`height` CSS pixels: the window
    /// is set, then grown by whatever the browser's frame takes.
    pub fn set_viewport(&self, width: u32, height: u32) -> anyhow::Result<()> {
        let (want_w, want_h) = (i64::from(width), i64::from(height));
        let mut window = (want_w, want_h);
        for _ in 0..2 {
            self.call(
                "POST",
                "/window/rect",
                Some(&json!({"width": window.0, "height": window.1})),
            )?;
            let inner = self.script("return [window.innerWidth, window.innerHeight];", &[])?;
            let (w, h) = (
                inner[0].as_i64().unwrap_or(0),
                inner[1].as_i64().unwrap_or(0),
            );
            if (w, h) == (want_w, want_h) {
                return Ok(());
            }
            window = (window.0 + want_w - w, window.1 + want_h - h);
        }
        bail!("cannot make the viewport {width}x{height}")
    }

    pub fn goto(&self, url: &str) -> anyhow::Result<()> {
        self.call("POST", "/url", Some(&json!({ "url": url })))
            .map(|_| ())
    }

    /// The first element matching `css`.
    pub fn find(&self, css: &str) -> anyhow::Result<Element> {
        let v = self.call(
            "POST",
            "/element",
            Some(&json!({"using": "css selector", "value": css})),
        )?;
        v[ELEMENT]
            .as_str()
            .map(|id| Element(id.to_string()))
            .with_context(|| format!("no element {css}: {v}"))
    }

    /// The element a script returns (`return document.querySelector(...)`).
    pub fn element_by_script(&self, body: &str, args: &[Value]) -> anyhow::Result<Element> {
        let v = self.script(body, args)?;
        v[ELEMENT]
            .as_str()
            .map(|id| Element(id.to_string()))
            .with_context(|| format!("the script returned no element: {v}"))
    }

    /// Clicks `element` at its centre (WebDriver scrolls it into view
    /// first and fails when something else would take the click).
    pub fn click(&self, element: &Element) -> anyhow::Result<()> {
        self.call(
            "POST",
            &format!("/element/{}/click", element.0),
            Some(&json!({})),
        )
        .map(|_| ())
    }

    /// Moves the mouse to `(x, y)` CSS pixels from `element`'s centre.
    pub fn hover(&self, element: &Element, x: i64, y: i64) -> anyhow::Result<()> {
        let origin = json!({ ELEMENT: element.0 });
        self.actions(json!([{
            "type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"},
            "actions": [{"type": "pointerMove", "duration": 100, "origin": origin, "x": x, "y": y}],
        }]))
    }

    /// Turns the mouse wheel by `dy` over `element`'s centre.
    pub fn wheel(&self, element: &Element, dy: i64) -> anyhow::Result<()> {
        let origin = json!({ ELEMENT: element.0 });
        self.actions(json!([{
            "type": "wheel", "id": "wheel",
            "actions": [{"type": "scroll", "x": 0, "y": 0, "deltaX": 0, "deltaY": dy, "duration": 100, "origin": origin}],
        }]))
    }

    fn actions(&self, list: Value) -> anyhow::Result<()> {
        self.call("POST", "/actions", Some(&json!({ "actions": list })))?;
        self.call("DELETE", "/actions", None).map(|_| ())
    }

    /// Runs `body` (a function body: `return ...;`) with `args`.
    pub fn script(&self, body: &str, args: &[Value]) -> anyhow::Result<Value> {
        self.call(
            "POST",
            "/execute/sync",
            Some(&json!({"script": body, "args": args})),
        )
    }

    /// Polls `body` until it returns something truthy; that value.
    pub fn wait_for(&self, what: &str, limit: Duration, body: &str) -> anyhow::Result<Value> {
        let deadline = Instant::now() + limit;
        loop {
            let v = self.script(body, &[])?;
            let truthy = !matches!(&v, Value::Null | Value::Bool(false))
                && v.as_str() != Some("")
                && v.as_u64() != Some(0);
            if truthy {
                return Ok(v);
            }
            if Instant::now() > deadline {
                bail!("{what}: not within {limit:?} (last {v})");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A screenshot of the viewport, written to `png`.
    pub fn screenshot(&self, png: &Path) -> anyhow::Result<()> {
        let v = self.call("GET", "/screenshot", None)?;
        let b64 = v.as_str().context("screenshot is not a string")?;
        let bytes = base64(b64)?;
        if !bytes.starts_with(b"\x89PNG") {
            bail!("the screenshot is not a PNG");
        }
        std::fs::write(png, bytes).with_context(|| format!("writing {}", png.display()))
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let path = format!("/session/{}", self.session);
        let _ = request(self.addr, "DELETE", &path, None);
    }
}

/// One request to chromedriver: its status and JSON body.
fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> anyhow::Result<(u16, Value)> {
    let mut conn = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .with_context(|| format!("connecting to chromedriver at {addr}"))?;
    conn.set_read_timeout(Some(Duration::from_secs(60)))?;
    let payload = body.map(Value::to_string).unwrap_or_default();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if body.is_some() {
        head.push_str("Content-Type: application/json; charset=utf-8\r\n");
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", payload.len()));
    conn.write_all(head.as_bytes())?;
    conn.write_all(payload.as_bytes())?;
    // chromedriver keeps the connection open whatever the request says:
    // read the head, then exactly the body it announces.
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let head_end = loop {
        if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = conn.read(&mut buf)?;
        if n == 0 {
            bail!("chromedriver closed the connection before its answer's head");
        }
        raw.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("no status in {head:?}"))?;
    let header = |name: &str| {
        head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    };
    let chunked = header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
    let length: Option<usize> = header("content-length").and_then(|v| v.parse().ok());
    let mut body = raw.split_off(head_end);
    loop {
        let complete = match (length, chunked) {
            (Some(len), _) => body.len() >= len,
            (None, true) => body.ends_with(b"0\r\n\r\n"),
            (None, false) => false,
        };
        if complete {
            break;
        }
        let n = conn.read(&mut buf)?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&buf[..n]);
    }
    if let Some(len) = length {
        body.truncate(len);
    }
    let body = String::from_utf8_lossy(&body).into_owned();
    let body = if chunked { dechunk(&body)? } else { body };
    let value = if body.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&body).with_context(|| format!("chromedriver's answer {body:.200}"))?
    };
    Ok((status, value))
}

/// A chunked body, joined.
fn dechunk(mut rest: &str) -> anyhow::Result<String> {
    let mut out = String::new();
    loop {
        let (size, after) = rest.split_once("\r\n").context("truncated chunk")?;
        let size = usize::from_str_radix(size.trim(), 16).context("bad chunk size")?;
        if size == 0 {
            return Ok(out);
        }
        out.push_str(after.get(..size).context("short chunk")?);
        rest = after[size..].trim_start_matches("\r\n");
    }
}

/// Standard base64 (screenshots), padding optional.
fn base64(text: &str) -> anyhow::Result<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for c in text
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
    {
        acc = (acc << 6) | value(c).with_context(|| format!("bad base64 byte {c}"))?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::{base64, dechunk};

    #[test]
    fn base64_and_chunks_decode() {
        assert_eq!(base64("aGVsbG8=").expect("b64"), b"hello");
        assert_eq!(base64("iVBORw0K").expect("b64"), b"\x89PNG\r\n");
        assert!(base64("a$").is_err());
        assert_eq!(
            dechunk("5\r\nhello\r\n1\r\n!\r\n0\r\n\r\n").expect("chunks"),
            "hello!"
        );
    }
}

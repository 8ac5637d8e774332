//! `dnsquery`: a DNS client with a known PID for the end-to-end tests.
//!
//! `dnsquery SERVER:PORT NAME:TYPE...` opens one connected UDP socket,
//! prints `ready` and waits for a line on stdin, then asks each question in
//! turn (a fresh id each time, waiting up to 2 s for the answer), prints
//! `answer NAME TYPE RCODE ANCOUNT BYTES` per question, and exits. Messages
//! are written by hand: a header and one question, no dependencies.
//!
//! `--rate N` (first argument) paces the questions at N per second on an
//! absolute schedule (the DNS load measurement in docs/PERFORMANCE.md) and
//! prints one `done COUNT SECONDS` line instead of the answers.

use std::io::{BufRead, Write};
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use anyhow::{bail, Context};

fn qtype(name: &str) -> anyhow::Result<u16> {
    Ok(match name {
        "A" => 1,
        "CNAME" => 5,
        "PTR" => 12,
        "MX" => 15,
        "TXT" => 16,
        "AAAA" => 28,
        "SRV" => 33,
        "HTTPS" => 65,
        other => bail!("unknown type {other}"),
    })
}

fn query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut m = Vec::with_capacity(64);
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]); // RD; one question
    for label in name.trim_end_matches('.').split('.') {
        m.push(label.len() as u8);
        m.extend_from_slice(label.as_bytes());
    }
    m.push(0);
    m.extend_from_slice(&qtype.to_be_bytes());
    m.extend_from_slice(&1u16.to_be_bytes()); // IN
    m
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1).peekable();
    let mut rate: Option<f64> = None;
    if args.peek().map(String::as_str) == Some("--rate") {
        args.next();
        rate = Some(
            args.next()
                .context("--rate N")?
                .parse()
                .context("--rate N")?,
        );
    }
    let server: SocketAddr = args
        .next()
        .context("usage: dnsquery SERVER:PORT NAME:TYPE...")?
        .parse()
        .context("server address")?;
    let questions: Vec<(String, String)> = args
        .map(|a| {
            let (n, t) = a.rsplit_once(':').unwrap_or((a.as_str(), "A"));
            (n.to_string(), t.to_string())
        })
        .collect();
    let bind = if server.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    };
    let socket = UdpSocket::bind(bind).context("bind")?;
    socket.connect(server).context("connect")?;
    socket.set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut stdout = std::io::stdout();
    writeln!(stdout, "ready")?;
    stdout.flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let mut buf = [0u8; 65_535];
    let start = std::time::Instant::now();
    for (i, (name, tname)) in questions.iter().enumerate() {
        if let Some(rate) = rate {
            let due = start + Duration::from_secs_f64(i as f64 / rate);
            std::thread::sleep(due.saturating_duration_since(std::time::Instant::now()));
        }
        let id = 0x4e00u16.wrapping_add(i as u16);
        socket.send(&query(id, name, qtype(tname)?))?;
        let answer = loop {
            let n = socket
                .recv(&mut buf)
                .with_context(|| format!("no answer for {name}"))?;
            if n >= 12 && u16::from_be_bytes([buf[0], buf[1]]) == id {
                break &buf[..n];
            }
        };
        if rate.is_some() {
            continue;
        }
        let rcode = answer[3] & 0x0f;
        let ancount = u16::from_be_bytes([answer[6], answer[7]]);
        writeln!(
            stdout,
            "answer {name} {tname} {rcode} {ancount} {}",
            answer.len()
        )?;
        stdout.flush()?;
    }
    if rate.is_some() {
        let seconds = start.elapsed().as_secs_f64();
        writeln!(stdout, "done {} {seconds:.3}", questions.len())?;
    }
    Ok(())
}

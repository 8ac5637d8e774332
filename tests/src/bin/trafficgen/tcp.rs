//! TCP workloads.
//!
//! Upload framing: the client sends an 8-byte big-endian payload length, then
//! the payload; the server reads exactly that much, answers `ok\n` and closes
//! first. Download: the server sends its bytes and closes first. Either way the
//! client closes passively and leaves no TIME_WAIT socket on its fixed port.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use nix::sys::socket::{self, sockopt, AddressFamily, SockFlag, SockType, SockaddrStorage};

use crate::args::{Args, MAX_BYTES, MAX_COUNT, MAX_SECONDS, MAX_SERVE_CONNS, MAX_SERVE_SECONDS};
use crate::control::{arm_watchdog, ready_then_wait_for_go, say};

const REPLY: &[u8] = b"ok\n";
const CHUNK: usize = 16 * 1024;
/// Read timeout on every socket: a stuck peer fails the run instead of hanging it.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// Time a client gets beyond its nominal duration before the watchdog fires.
const GRACE: Duration = Duration::from_secs(10);

/// Connects to `to` from local port `port`. SO_REUSEADDR lets a rerun bind a
/// port whose last socket is still closing.
pub(crate) fn connect_from(port: u16, to: SocketAddr) -> anyhow::Result<TcpStream> {
    let family = match to {
        SocketAddr::V4(_) => AddressFamily::Inet,
        SocketAddr::V6(_) => AddressFamily::Inet6,
    };
    let fd =
        socket::socket(family, SockType::Stream, SockFlag::SOCK_CLOEXEC, None).context("socket")?;
    socket::setsockopt(&fd, sockopt::ReuseAddr, &true).context("SO_REUSEADDR")?;
    let local = match to {
        SocketAddr::V4(_) => SocketAddr::from(([0, 0, 0, 0], port)),
        SocketAddr::V6(_) => SocketAddr::from(([0u16; 8], port)),
    };
    socket::bind(fd.as_raw_fd(), &SockaddrStorage::from(local))
        .with_context(|| format!("bind local port {port}"))?;
    socket::connect(fd.as_raw_fd(), &SockaddrStorage::from(to))
        .with_context(|| format!("connect {to} from port {port}"))?;
    let stream = TcpStream::from(fd);
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    Ok(stream)
}

/// Spreads writes over time at `rate` bytes per second (unpaced without one),
/// in quanta of about 10 ms of traffic so the stream is made of full-sized
/// writes rather than a spin of tiny ones.
struct Pacer {
    start: Instant,
    rate: Option<u64>,
}

/// Pacing period: one quantum of bytes is released per period.
const PACE_PERIOD: Duration = Duration::from_millis(10);

impl Pacer {
    fn new(rate: Option<u64>) -> Self {
        Self {
            start: Instant::now(),
            rate,
        }
    }

    /// How many bytes to write next, having written `sent` with `remaining`
    /// to go; sleeps until the rate allows a full quantum.
    fn allowance(&self, sent: u64, remaining: u64) -> usize {
        let want = remaining.min(CHUNK as u64);
        let Some(rate) = self.rate else {
            return want as usize;
        };
        let quantum = (rate * PACE_PERIOD.as_millis() as u64 / 1000).clamp(1, want);
        // The time at which `sent + quantum` bytes are due.
        let due = self.start + Duration::from_secs_f64((sent + quantum) as f64 / rate as f64);
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
        quantum as usize
    }
}

/// Writes `total` zero bytes, paced, and returns how many were written.
pub(crate) fn send_paced(
    stream: &mut TcpStream,
    total: u64,
    rate: Option<u64>,
) -> anyhow::Result<u64> {
    let buf = [0u8; CHUNK];
    let pacer = Pacer::new(rate);
    let mut sent = 0u64;
    while sent < total {
        let n = pacer.allowance(sent, total - sent);
        stream.write_all(&buf[..n]).context("write")?;
        sent += n as u64;
    }
    Ok(sent)
}

/// Reads until EOF and returns the byte count.
pub(crate) fn drain(stream: &mut TcpStream) -> anyhow::Result<u64> {
    let mut buf = [0u8; CHUNK];
    let mut total = 0u64;
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => total += n as u64,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e).context("read"),
        }
    }
}

/// One upload as a client: header, payload, then the reply until EOF.
/// Returns (bytes sent, bytes received).
fn upload(stream: &mut TcpStream, payload: u64, rate: Option<u64>) -> anyhow::Result<(u64, u64)> {
    stream
        .write_all(&payload.to_be_bytes())
        .context("write header")?;
    let sent = 8 + send_paced(stream, payload, rate)?;
    let recv = drain(stream)?;
    Ok((sent, recv))
}

/// One upload as the server. Returns (bytes sent, bytes received).
fn serve_upload(mut stream: TcpStream) -> anyhow::Result<(u64, u64)> {
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut header = [0u8; 8];
    stream.read_exact(&mut header).context("read header")?;
    let payload = u64::from_be_bytes(header);
    if payload > MAX_BYTES {
        bail!("announced payload {payload} is over {MAX_BYTES}");
    }
    let got = std::io::copy(&mut (&mut stream).take(payload), &mut std::io::sink())?;
    if got != payload {
        bail!("peer closed after {got} of {payload} bytes");
    }
    stream.write_all(REPLY).context("write reply")?;
    stream.shutdown(Shutdown::Write)?;
    let trailing = drain(&mut stream)?;
    Ok((REPLY.len() as u64, 8 + payload + trailing))
}

/// Sends `bytes` (paced) to one download client, closing first.
fn serve_one_download(
    mut stream: TcpStream,
    bytes: u64,
    rate: Option<u64>,
) -> anyhow::Result<(u64, u64)> {
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let sent = send_paced(&mut stream, bytes, rate)?;
    stream.shutdown(Shutdown::Write)?;
    let recv = drain(&mut stream)?;
    Ok((sent, recv))
}

/// Accepts connections on `listener`, runs `handle` on each in its own thread
/// and prints `done` once `conns` have finished or `seconds` have passed.
fn serve<F>(listener: TcpListener, conns: u64, seconds: u64, handle: F) -> anyhow::Result<()>
where
    F: Fn(TcpStream) -> anyhow::Result<(u64, u64)> + Send + Sync + Copy + 'static,
{
    let deadline = Instant::now() + Duration::from_secs(seconds);
    arm_watchdog(Duration::from_secs(seconds) + GRACE);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(conns as usize) {
            let tx = tx.clone();
            match stream {
                Ok(stream) => {
                    std::thread::spawn(move || {
                        let _ = tx.send(handle(stream));
                    });
                }
                Err(e) => {
                    let _ = tx.send(Err(e.into()));
                }
            }
        }
    });
    say("ready");
    let (mut sent, mut recv, mut done, mut failed) = (0u64, 0u64, 0u64, 0u64);
    while done + failed < conns {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(Ok((s, r))) => {
                sent += s;
                recv += r;
                done += 1;
            }
            Ok(Err(e)) => {
                eprintln!("connection failed: {e:#}");
                failed += 1;
            }
            Err(_) => break,
        }
    }
    say(&format!(
        "done sent={sent} recv={recv} conns={done} failed={failed}"
    ));
    if failed > 0 {
        bail!("{failed} connection(s) failed");
    }
    Ok(())
}

pub fn sink(args: &Args) -> anyhow::Result<()> {
    let listen = args.addr("listen")?;
    let seconds = args.bounded("seconds", MAX_SERVE_SECONDS, None)?;
    let conns = args.bounded("conns", MAX_SERVE_CONNS, Some(MAX_COUNT))?;
    let listener = TcpListener::bind(listen).with_context(|| format!("listen on {listen}"))?;
    serve(listener, conns, seconds, serve_upload)
}

pub fn serve_download(args: &Args) -> anyhow::Result<()> {
    let listen = args.addr("listen")?;
    let bytes = args.bounded("bytes", MAX_BYTES, None)?;
    let rate = args.optional("rate", MAX_BYTES)?;
    let conns = args.bounded("conns", MAX_COUNT, Some(1))?;
    let seconds = args.bounded("seconds", MAX_SECONDS, Some(30))?;
    let listener = TcpListener::bind(listen).with_context(|| format!("listen on {listen}"))?;
    serve(listener, conns, seconds, move |s| {
        serve_one_download(s, bytes, rate)
    })
}

pub fn stream(args: &Args) -> anyhow::Result<()> {
    let to = args.addr("to")?;
    let port = args.port("bind-port")?;
    let rate = args.bounded("rate", MAX_BYTES, None)?;
    let seconds = args.bounded("seconds", MAX_SECONDS, None)?;
    let payload = rate * seconds;
    if payload > MAX_BYTES {
        bail!("rate x seconds = {payload} bytes is over {MAX_BYTES}");
    }
    ready_then_wait_for_go()?;
    arm_watchdog(Duration::from_secs(seconds) + GRACE);
    let start = Instant::now();
    let mut stream = connect_from(port, to)?;
    let (sent, recv) = upload(&mut stream, payload, Some(rate))?;
    drop(stream);
    say(&format!(
        "done sent={sent} recv={recv} elapsed_ms={}",
        start.elapsed().as_millis()
    ));
    Ok(())
}

pub fn short_conns(args: &Args) -> anyhow::Result<()> {
    let to = args.addr("to")?;
    let count = args.bounded("count", MAX_COUNT, None)?;
    let base = args.port("bind-port-base")?;
    let bytes = args.bounded("bytes", 1 << 20, None)?;
    let hold = Duration::from_millis(args.bounded("hold-ms", 1000, Some(2))?);
    if u64::from(base) + count > u64::from(u16::MAX) {
        bail!("ports {base}+{count} run past 65535");
    }
    ready_then_wait_for_go()?;
    // Generous: each connection should take a few milliseconds.
    arm_watchdog(GRACE + (hold + Duration::from_millis(50)) * count as u32);
    let start = Instant::now();
    let (mut sent, mut recv) = (0u64, 0u64);
    for i in 0..count as u16 {
        let mut stream = connect_from(base + i, to)?;
        // Keep the socket alive a moment, as a real short request would be.
        std::thread::sleep(hold);
        let (s, r) = upload(&mut stream, bytes, None)?;
        sent += s;
        recv += r;
    }
    say(&format!(
        "done sent={sent} recv={recv} conns={count} elapsed_ms={}",
        start.elapsed().as_millis()
    ));
    Ok(())
}

/// One upload from `--bind-port` and exit: the child of `short-procs`.
pub fn one_upload(args: &Args) -> anyhow::Result<()> {
    let to = args.addr("to")?;
    let port = args.port("bind-port")?;
    let bytes = args.bounded("bytes", 1 << 20, None)?;
    arm_watchdog(GRACE);
    let mut stream = connect_from(port, to)?;
    upload(&mut stream, bytes, None)?;
    Ok(())
}

pub fn download(args: &Args) -> anyhow::Result<()> {
    let from = args.addr("from")?;
    let port = args.port("bind-port")?;
    let seconds = args.bounded("seconds", MAX_SECONDS, Some(30))?;
    ready_then_wait_for_go()?;
    arm_watchdog(Duration::from_secs(seconds));
    let start = Instant::now();
    let mut stream = connect_from(port, from)?;
    let recv = drain(&mut stream)?;
    drop(stream);
    say(&format!(
        "done sent=0 recv={recv} elapsed_ms={}",
        start.elapsed().as_millis()
    ));
    Ok(())
}

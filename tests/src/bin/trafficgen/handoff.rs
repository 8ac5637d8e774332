//! A TCP upload whose socket changes hands after it is connected, so the
//! process that moves the bytes is not the one that opened the socket.
//!
//! - `--how fork`: the process connects and sends the upload header, then
//!   forks and exits; the child waits until its parent is gone and
//!   streams the payload (a daemon that forks after connecting).
//! - `--how pass`: the process starts a helper (`take-socket`, this same
//!   binary) on one end of a UNIX socket pair, connects, sends the header,
//!   passes the descriptor with SCM_RIGHTS, closes its own, and waits for
//!   the helper; the helper streams (socket activation, inetd).
//!
//! Either way the streaming process says `done ... pid=PID`, so the test
//! knows whose bytes they are.

use std::io::Write;
use std::net::TcpStream;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};

use crate::args::{Args, MAX_BYTES, MAX_SECONDS};
use crate::control::{arm_watchdog, ready_then_wait_for_go, say};
use crate::tcp::{connect_from, drain, send_paced};

/// Time beyond the nominal duration before a watchdog fires.
const GRACE: Duration = Duration::from_secs(10);
/// How long a forked child waits for its parent to exit.
const PARENT_EXIT_LIMIT: Duration = Duration::from_secs(5);

/// `handoff --to A:P --bind-port P --rate R --seconds S --how fork|pass`
pub fn handoff(args: &Args) -> anyhow::Result<()> {
    let to = args.addr("to")?;
    let port = args.port("bind-port")?;
    let rate = args.bounded("rate", MAX_BYTES, None)?;
    let seconds = args.bounded("seconds", MAX_SECONDS, None)?;
    let how = args.text("how")?.to_owned();
    let payload = rate * seconds;
    if payload > MAX_BYTES {
        bail!("rate x seconds = {payload} bytes is over {MAX_BYTES}");
    }
    if !matches!(how.as_str(), "fork" | "pass") {
        bail!("--how {how:?}: use fork or pass");
    }
    // The helper exists before the TCP socket, so it can only get it by
    // being passed it.
    let helper = if how == "pass" {
        Some(start_taker(rate, seconds)?)
    } else {
        None
    };
    ready_then_wait_for_go()?;
    arm_watchdog(Duration::from_secs(seconds) + GRACE);
    let mut stream = connect_from(port, to)?;
    stream
        .write_all(&payload.to_be_bytes())
        .context("write header")?;
    match helper {
        Some((mut child, ours)) => {
            pass_fd(&ours, stream.as_raw_fd())?;
            drop(stream);
            let status = child.wait().context("waiting for take-socket")?;
            if !status.success() {
                bail!("take-socket failed ({status})");
            }
            Ok(())
        }
        None => fork_and_exit(stream, payload, rate),
    }
}

/// Forks; the parent exits at once, the child streams once it is gone.
fn fork_and_exit(mut stream: TcpStream, payload: u64, rate: u64) -> anyhow::Result<()> {
    let parent = std::process::id();
    // SAFETY: the child only sleeps, writes to a socket and to stdout, and
    // exits; the other threads of this process (stdin reader, watchdog)
    // hold no lock the child takes: the stdin reader has finished, and the
    // child arms its own watchdog.
    match unsafe { nix::unistd::fork() }.context("fork")? {
        nix::unistd::ForkResult::Parent { .. } => std::process::exit(0),
        nix::unistd::ForkResult::Child => {
            let seconds = payload / rate;
            arm_watchdog(Duration::from_secs(seconds) + GRACE);
            let started = Instant::now();
            while nix::unistd::getppid().as_raw() as u32 == parent {
                if started.elapsed() > PARENT_EXIT_LIMIT {
                    bail!("the parent did not exit");
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            let result = stream_rest(&mut stream, payload, rate);
            // Exit here: returning would run the parent's code path again.
            match result {
                Ok(()) => std::process::exit(0),
                Err(e) => {
                    eprintln!("trafficgen handoff (child): error: {e:#}");
                    std::process::exit(1)
                }
            }
        }
    }
}

/// Streams the payload, reads the reply and says `done` with this pid.
fn stream_rest(stream: &mut TcpStream, payload: u64, rate: u64) -> anyhow::Result<()> {
    let started = Instant::now();
    let sent = 8 + send_paced(stream, payload, Some(rate))?;
    let recv = drain(stream)?;
    say(&format!(
        "done sent={sent} recv={recv} pid={} elapsed_ms={}",
        std::process::id(),
        started.elapsed().as_millis()
    ));
    Ok(())
}

/// Starts `take-socket` with one end of a socket pair as its stdin.
fn start_taker(rate: u64, seconds: u64) -> anyhow::Result<(std::process::Child, UnixStream)> {
    let (ours, theirs) = UnixStream::pair().context("socketpair")?;
    let exe = std::env::current_exe().context("finding this executable")?;
    let child = Command::new(exe)
        .args(["take-socket", "--rate", &rate.to_string()])
        .args(["--seconds", &seconds.to_string()])
        .stdin(Stdio::from(OwnedFd::from(theirs)))
        .spawn()
        .context("spawning take-socket")?;
    Ok((child, ours))
}

fn pass_fd(over: &UnixStream, fd: RawFd) -> anyhow::Result<()> {
    let fds = [fd];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    let iov = [std::io::IoSlice::new(b"s")];
    sendmsg::<()>(over.as_raw_fd(), &iov, &cmsg, MsgFlags::empty(), None)
        .context("sendmsg SCM_RIGHTS")?;
    Ok(())
}

/// `take-socket --rate R --seconds S`: receives a connected TCP socket on
/// stdin (SCM_RIGHTS) and streams `R x S` bytes over it.
pub fn take_socket(args: &Args) -> anyhow::Result<()> {
    let rate = args.bounded("rate", MAX_BYTES, None)?;
    let seconds = args.bounded("seconds", MAX_SECONDS, None)?;
    // Waiting for `go` and the parent's connect takes up to a minute.
    arm_watchdog(Duration::from_secs(60 + seconds) + GRACE);
    let mut byte = [0u8; 1];
    let mut iov = [std::io::IoSliceMut::new(&mut byte)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<()>(0, &mut iov, Some(&mut space), MsgFlags::empty())
        .context("recvmsg on stdin")?;
    let mut received = None;
    for cmsg in msg.cmsgs().context("reading control messages")? {
        if let ControlMessageOwned::ScmRights(fds) = cmsg {
            received = fds.first().copied();
        }
    }
    let fd = received.context("no descriptor was passed")?;
    // SAFETY: the kernel just installed `fd` in this process for us; nothing
    // else owns it.
    let mut stream = TcpStream::from(unsafe { OwnedFd::from_raw_fd(fd) });
    stream.set_write_timeout(Some(Duration::from_secs(10)))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream_rest(&mut stream, rate * seconds, rate)
}

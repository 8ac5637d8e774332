//! `held-procs`: many live processes at once, each with its own name and
//! socket, for livebench's serve phase (issue 12: `/metrics` and a
//! minute of history with 1,000 live processes).
//!
//! After `go`, the parent forks `--count` children (no exec: a child is a
//! copy of this small process, so a thousand of them cost little memory).
//! Each names itself `held-NNNN` (its `comm`, which netop reports), binds
//! a UDP socket and sends one 64-byte datagram to `--to` every
//! `--interval-ms` until `--seconds` have passed, then exits. The parent
//! says `running N` once every child is started and `done` after reaping
//! them all.

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::args::Args;
use crate::control::{arm_watchdog, ready_then_wait_for_go, say};

/// Children at most.
const MAX_PROCS: u64 = 5_000;

/// `held-procs --to A:P --count N --seconds S [--interval-ms I]`
pub fn held_procs(args: &Args) -> anyhow::Result<()> {
    let to = args.addr("to")?;
    let count = args.bounded("count", MAX_PROCS, None)?;
    let seconds = args.bounded("seconds", crate::args::MAX_SECONDS * 30, None)?;
    let interval = Duration::from_millis(args.bounded("interval-ms", 60_000, Some(1000))?);
    ready_then_wait_for_go()?;
    let until = Instant::now() + Duration::from_secs(seconds);
    let mut children = Vec::with_capacity(count as usize);
    for i in 0..count {
        // SAFETY: the child only renames itself, uses a socket, sleeps and
        // leaves with _exit; nothing in it needs another thread's lock.
        match unsafe { libc::fork() } {
            -1 => bail!("fork: {}", std::io::Error::last_os_error()),
            0 => {
                let code = match tick(i, to, until, interval) {
                    Ok(()) => 0,
                    Err(_) => 1,
                };
                // SAFETY: ends the child at once, without running the
                // parent's exit handlers a second time.
                unsafe { libc::_exit(code) }
            }
            pid => children.push(pid),
        }
    }
    say(&format!("running {count}"));
    arm_watchdog(Duration::from_secs(seconds + 30));
    let mut failed = 0;
    for pid in children {
        let mut status = 0;
        // SAFETY: waits for a child of this process.
        if unsafe { libc::waitpid(pid, &mut status, 0) } != pid
            || !libc::WIFEXITED(status)
            || libc::WEXITSTATUS(status) != 0
        {
            failed += 1;
        }
    }
    say(&format!("done children={count} failed={failed}"));
    Ok(())
}

/// One child's life: its name, its socket, a datagram per interval.
fn tick(
    i: u64,
    to: std::net::SocketAddr,
    until: Instant,
    interval: Duration,
) -> anyhow::Result<()> {
    let name = std::ffi::CString::new(format!("held-{i:04}")).context("name")?;
    // SAFETY: PR_SET_NAME reads a NUL-terminated string of at most 16 bytes.
    unsafe { libc::prctl(libc::PR_SET_NAME, name.as_ptr(), 0, 0, 0) };
    let bind = if to.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" };
    let socket = UdpSocket::bind(bind).context("bind")?;
    let payload = [0x5au8; 64];
    while Instant::now() < until {
        socket.send_to(&payload, to).context("send")?;
        std::thread::sleep(interval);
    }
    Ok(())
}

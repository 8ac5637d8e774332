//! `proc-wave`: a bounded wave of short-lived processes, for livebench's
//! processes scenario (issue 10): the monitor must forget them once they
//! have exited and aged out, so its memory after the wave is where it
//! started.
//!
//! Unlike `short-procs` (which names every child for the e2e truth and
//! runs them one at a time), the wave runs up to `--parallel` children at
//! once and only counts them: a hundred thousand `pidI=` fields would make
//! a useless `done` line. Each child is this binary's `one-upload` from a
//! kernel-chosen port (the server closes first, so no TIME_WAIT is left
//! on this side and ports never run out).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::args::Args;
use crate::control::{arm_watchdog, ready_then_wait_for_go, say};

/// Children a wave runs at most.
const MAX_PROCS: u64 = 200_000;
/// Children running at once at most.
const MAX_PARALLEL: u64 = 64;
/// How long one child may run before it is killed and counted as failed.
const CHILD_LIMIT: Duration = Duration::from_secs(10);
/// Watchdog allowance per child (they usually take a few milliseconds).
const PER_CHILD: Duration = Duration::from_millis(20);

/// `proc-wave --to A:P --count N [--parallel P] [--bytes B]`
pub fn proc_wave(args: &Args) -> anyhow::Result<()> {
    let to = args.addr("to")?;
    let count = args.bounded("count", MAX_PROCS, None)?;
    let parallel = args.bounded("parallel", MAX_PARALLEL, Some(4))? as usize;
    let bytes = args.bounded("bytes", 1 << 20, Some(2000))?;
    let exe = std::env::current_exe().context("finding this executable")?;
    let child = |exe: &std::path::Path| {
        let mut cmd = Command::new(exe);
        cmd.args(["one-upload", "--bind-port", "0", "--bytes"])
            .arg(bytes.to_string())
            .args(["--to", &to.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        cmd.spawn().context("spawning a child")
    };
    arm_watchdog(Duration::from_secs(60) + PER_CHILD * count as u32);
    ready_then_wait_for_go()?;
    let start = Instant::now();
    let mut running: Vec<(Child, Instant)> = Vec::with_capacity(parallel);
    let (mut started, mut failed) = (0u64, 0u64);
    while started < count || !running.is_empty() {
        while started < count && running.len() < parallel {
            running.push((child(&exe)?, Instant::now()));
            started += 1;
        }
        let before = running.len();
        let mut i = 0;
        while i < running.len() {
            let (proc, since) = &mut running[i];
            let ended = match proc.try_wait()? {
                Some(status) => Some(status.success()),
                None if since.elapsed() > CHILD_LIMIT => {
                    let _ = proc.kill();
                    let _ = proc.wait();
                    Some(false)
                }
                None => None,
            };
            match ended {
                Some(ok) => {
                    failed += u64::from(!ok);
                    running.swap_remove(i);
                }
                None => i += 1,
            }
        }
        if running.len() == before {
            std::thread::sleep(Duration::from_micros(200));
        }
    }
    say(&format!(
        "done procs={count} failed={failed} elapsed_ms={}",
        start.elapsed().as_millis()
    ));
    Ok(())
}

//! `livebench`: the live-capture benchmark behind docs/PERFORMANCE.md
//! (`cargo xtask bench-live` builds and runs it as root).
//!
//! 1. Max rate: a test host (namespace + veth), an unpaced but bounded UDP
//!    blaster from the root namespace into it, and the packet rate it
//!    reaches with nobody capturing, with netop, nethogs and bandwhich each
//!    alone on the root-side veth, and with all three side by side in the
//!    same run. For each monitor: CPU over the window, CPU per packet, what
//!    it saw and the kernel's drops. netop's buffer is raised (2, 8, 16 MiB)
//!    until it drops nothing alone, and further if it drops side by side.
//!    Then (`pairs.rs`) `--pairs N` alternating blasts with no monitor and
//!    with netop counting in the kernel, for issue 17's 95 % judged over
//!    runs rather than one.
//! 3. Event source (`events.rs`): netop with and without its eBPF event
//!    source (and nethogs, bandwhich) on a churn of short TCP connections
//!    and on the UDP blast, with the programs' own kernel time.
//! 2. Idle: 1,000 open loopback sockets, no traffic, `netop --duration N` on
//!    `any`, and its CPU over the middle of the run.
//! 4. Issue 10's scenarios, netop alone: a flood of new flows beside a
//!    stream (`flood.rs`), peak memory with churning and with held UDP
//!    flows (`udpflows.rs`), and the monitor's memory after a wave of
//!    short-lived processes (`processes.rs`).
//! 5. Issue 12: `netop serve` idle, and `/metrics` and the history's
//!    minute with 1,000 live processes (`serve.rs`).
//! 6. Issue 17's spread (`spread.rs`): 100,000 packets/s over 20,000 held
//!    UDP flows (`--spread-rate`, `--spread-flows`, `--spread-seconds`)
//!    with no monitor, netop `--capture kernel` and netop `--capture
//!    pcap`: the sender's rate, netop's count against the veth's, its
//!    drops, peak RSS, CPU and the bytes credited to the sender.
//!
//! `--only PHASE,...` runs some of them (`maxrate`, `pairs`, `events`, `idle`,
//! `flood`, `churn`, `held`, `processes`, `serve`, `spread`; all by
//! default), and `--netop PATH` measures another netop binary (a build
//! from before a change).
//!
//! The report is markdown on stdout; progress goes to stderr. Numbers are
//! reported, never asserted. Traffic goes only into the test host made here.
//! A peer that is missing is reported as such (nethogs is installed with
//! apt-get first); the benchmark goes on without it.
//!
//! Linux only, as the whole end-to-end crate: network namespaces, veths.

#[cfg(target_os = "linux")]
mod events;
#[cfg(target_os = "linux")]
mod flood;
#[cfg(target_os = "linux")]
mod idle;
#[cfg(target_os = "linux")]
mod maxrate;
#[cfg(target_os = "linux")]
mod memory;
#[cfg(target_os = "linux")]
mod monitor;
#[cfg(target_os = "linux")]
mod pairs;
#[cfg(target_os = "linux")]
mod processes;
#[cfg(target_os = "linux")]
mod report;
#[cfg(target_os = "linux")]
mod run;
#[cfg(target_os = "linux")]
mod serve;
#[cfg(target_os = "linux")]
mod spread;
#[cfg(target_os = "linux")]
mod udpflows;

use std::process::ExitCode;

#[cfg(target_os = "linux")]
fn main() -> ExitCode {
    match run::run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("livebench: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn main() -> ExitCode {
    eprintln!("livebench: Linux only (network namespaces, veths)");
    ExitCode::from(2)
}

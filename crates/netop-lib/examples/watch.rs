//! Runs a command and prints its network traffic (with its children's)
//! per interface every second, and the totals when it exits.
//!
//! ```sh
//! cargo build -p netop-lib --example watch
//! sudo target/debug/examples/watch curl -so /dev/null https://example.com
//! ```
//!
//! Exits 2 on bad usage, 1 when the monitor cannot start (the message says
//! why: privileges and their fix, an unknown interface), else the
//! command's own status.

use std::process::{Command, ExitCode};
use std::time::Duration;

use netop_lib::{Monitor, Options, Traffic};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((program, rest)) = args.split_first() else {
        eprintln!("usage: watch COMMAND [ARGS...]");
        return ExitCode::from(2);
    };
    let monitor = match Monitor::new(Options::new()).and_then(|m| m.start().map(|()| m)) {
        Ok(monitor) => monitor,
        Err(e) => {
            eprintln!("watch: {e}");
            return ExitCode::from(1);
        }
    };
    let mut child = match Command::new(program).args(rest).spawn() {
        Ok(child) => child,
        Err(e) => {
            eprintln!("watch: cannot run {program}: {e}");
            return ExitCode::from(2);
        }
    };
    let pid = child.id();
    if let Err(e) = monitor.watch(pid) {
        eprintln!("watch: {e}");
        return ExitCode::from(1);
    }
    let mut reports = monitor.reports();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {}
            Err(e) => {
                eprintln!("watch: {e}");
                return ExitCode::from(1);
            }
        }
        if reports.next_timeout(Duration::from_secs(1)).is_some() {
            print_traffic(
                "so far",
                &monitor.traffic_with_children(pid).unwrap_or_default(),
            );
        }
    };
    // One more refresh, so the last packets' owners are found.
    let _ = reports.next_timeout(Duration::from_secs(2));
    print_traffic(
        "total",
        &monitor.traffic_with_children(pid).unwrap_or_default(),
    );
    if let Err(e) = monitor.stop() {
        eprintln!("watch: {e}");
    }
    ExitCode::from(status.code().map_or(1, |c| c as u8))
}

fn print_traffic(when: &str, traffic: &[Traffic]) {
    if traffic.is_empty() {
        println!("{when}: no traffic");
    }
    for t in traffic {
        println!(
            "{when}: {:<10} rx {:>10} B {:>7} pkts   tx {:>10} B {:>7} pkts",
            t.interface, t.rx_bytes, t.rx_packets, t.tx_bytes, t.tx_packets
        );
    }
}

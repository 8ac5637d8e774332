//! `trafficgen`: the workload of the end-to-end tests.
//!
//! Each subcommand makes one kind of known traffic from a fixed local port, so
//! the tests can compute the truth per port from an independent capture and
//! map it to this process's PID. The protocol on stdout is line based:
//! `ready` once the process is set up, then `done key=value...` at the end.
//! Clients wait for a `go` line on stdin before sending anything, so netop is
//! already capturing when the traffic starts. Every subcommand is bounded in
//! time and bytes and exits by itself: a watchdog ends the process at its
//! deadline even if a peer hangs.
//!
//! Subcommands:
//! - `sink --listen A:P --seconds S [--conns N]`
//! - `stream --to A:P --bind-port P --rate BYTES_PER_SEC --seconds S`
//! - `short-conns --to A:P --count N --bind-port-base P --bytes B [--hold-ms H]`
//! - `udp-echo-server --listen A:P --seconds S [--count N]`
//! - `udp-client --to A:P --bind-port P --count N --size B [--interval-ms I] [--timeout-ms T]`
//! - `serve-download --listen A:P --bytes N [--rate R] [--conns C] [--seconds S]`
//! - `download --from A:P --bind-port P [--seconds S]`
//! - `udp-blast --to A:P --bind-port P --seconds S [--size B] [--count N]`
//! - `short-procs --to A:P --count N --bind-port-base P --kind tcp|dns [--bytes B]`:
//!   N short-lived child processes, one exchange each (see `procs.rs`)
//! - `one-upload --to A:P --bind-port P --bytes B` and
//!   `dns-once --to A:P --bind-port P`: those children (no `ready`/`go`)
//! - `dns-burst --to A:P --bind-port P --count N`: N DNS questions from
//!   one socket, one after the other (no `ready`/`go`)
//! - `flood --to ADDR --kind udp|syn --seconds S [--count N] [--skip P,P]`:
//!   new flows to random ports as fast as one thread goes (see `flood.rs`)
//! - `udp-flows --to A:P --count N --rate R [--size B] [--hold-seconds H]`:
//!   one datagram per fresh socket, closed or held (see `flows.rs`)
//! - `udp-spread --to A:P --flows N --rate R --seconds S [--size B]
//!   [--hold-seconds H] [--ports K]`: N flows from held sockets sending in
//!   turn at R datagrams a second in all (see `spread.rs`)
//! - `udp-sink --listen A:P --seconds S`: reads datagrams, answers none
//! - `proc-wave --to A:P --count N [--parallel P] [--bytes B]`: a wave of
//!   short-lived `one-upload` children, counted only (see `wave.rs`)
//! - `held-procs --to A:P --count N --seconds S [--interval-ms I]`: N live
//!   processes at once, each its own name and a datagram per interval
//!   (see `held.rs`)
//! - `handoff --to A:P --bind-port P --rate R --seconds S --how fork|pass`:
//!   an upload whose socket passes to another process (see `handoff.rs`);
//!   `take-socket` is the receiving end of `--how pass`
//! - `udp-shared --to A:P --bind-port P --count N --size B --interval-ms I
//!   [--delay-ms D]`: datagrams from an unconnected socket sharing its port
//!   with other processes' (SO_REUSEPORT; see `shared.rs`)
//!
//! TCP framing (see `tcp.rs`): a client announces its payload length in an
//! 8-byte header and the server closes first, so the client never holds a
//! TIME_WAIT socket on its fixed port and the next run can bind it again.
//!
//! Linux only, as the whole end-to-end crate: `udp-blast` uses `sendmmsg`,
//! and the tests it serves make network namespaces.

#[cfg(target_os = "linux")]
mod args;
#[cfg(target_os = "linux")]
mod blast;
#[cfg(target_os = "linux")]
mod control;
#[cfg(target_os = "linux")]
mod flood;
#[cfg(target_os = "linux")]
mod flows;
#[cfg(target_os = "linux")]
mod handoff;
#[cfg(target_os = "linux")]
mod held;
#[cfg(target_os = "linux")]
mod procs;
#[cfg(target_os = "linux")]
mod shared;
#[cfg(target_os = "linux")]
mod spread;
#[cfg(target_os = "linux")]
mod tcp;
#[cfg(target_os = "linux")]
mod udp;
#[cfg(target_os = "linux")]
mod wave;

use std::process::ExitCode;

#[cfg(target_os = "linux")]
use args::Args;

#[cfg(target_os = "linux")]
fn main() -> ExitCode {
    let mut argv = std::env::args().skip(1);
    let Some(command) = argv.next() else {
        eprintln!("usage: trafficgen <sink|stream|short-conns|udp-echo-server|udp-client|serve-download|download|udp-blast|short-procs|flood|udp-flows|udp-spread|udp-sink|proc-wave|held-procs|...> [--key value]...");
        return ExitCode::from(2);
    };
    let result = Args::parse(argv).and_then(|args| run(&command, &args));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("trafficgen {command}: error: {err:#}");
            println!("error {}", format!("{err:#}").replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}

#[cfg(target_os = "linux")]
fn run(command: &str, args: &Args) -> anyhow::Result<()> {
    match command {
        "sink" => tcp::sink(args),
        "stream" => tcp::stream(args),
        "short-conns" => tcp::short_conns(args),
        "serve-download" => tcp::serve_download(args),
        "download" => tcp::download(args),
        "udp-echo-server" => udp::echo_server(args),
        "udp-client" => udp::client(args),
        "udp-blast" => blast::udp_blast(args),
        "short-procs" => procs::short_procs(args),
        "one-upload" => tcp::one_upload(args),
        "dns-once" => procs::dns_once(args),
        "dns-burst" => procs::dns_burst(args),
        "flood" => flood::flood(args),
        "udp-flows" => flows::udp_flows(args),
        "udp-spread" => spread::udp_spread(args),
        "udp-sink" => udp::sink(args),
        "udp-shared" => shared::udp_shared(args),
        "proc-wave" => wave::proc_wave(args),
        "held-procs" => held::held_procs(args),
        "handoff" => handoff::handoff(args),
        "take-socket" => handoff::take_socket(args),
        other => anyhow::bail!("unknown subcommand {other:?}"),
    }
}

#[cfg(not(target_os = "linux"))]
fn main() -> ExitCode {
    eprintln!("trafficgen: Linux only (the end-to-end tests make network namespaces)");
    ExitCode::from(2)
}

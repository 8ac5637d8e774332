//! Phase "spread" (issue 17): "the same at 100,000 packets/s over 20,000
//! concurrent flows: no drops, RSS under 30 MB". A steady rate over many
//! live flows, where the max-rate phase is one flow as fast as it goes:
//! what a busy server's monitor sees, and what kernel counting's table
//! (one entry per flow between two reads) and the pcap path's flow table
//! must hold.
//!
//! `trafficgen udp-spread` in the root namespace opens N sockets on
//! kernel-chosen ports, then (after `go`) sends 18-byte datagrams (60-byte
//! frames) from each in turn to a `udp-sink` in the test host, paced to R
//! packets a second for S seconds. When the open-file limit is below N and
//! cannot be raised (a hard limit of 20,000 and no CAP_SYS_RESOURCE, as in
//! some containers), the N flows come from fewer sockets, each sending to
//! K sinks' ports (`--ports K`), and the report says so. Three runs: nobody capturing (the rate
//! the sender reaches alone), netop `--capture kernel` and netop
//! `--capture pcap`, each `--interface <root-side veth> --format json
//! --duration ...`, started after the sockets are open (a monitor started
//! on a server whose flows already exist) and capturing before `go`.
//!
//! Reported per run: the sender's rate (datagrams over its own send time);
//! packets on the veth over the window (`go` to `TAIL` after `done`); and
//! for netop: the packets it counted against the veth's counters over its
//! whole life, its kernel drops (its stderr line: in kernel mode the DNS
//! capture's drops plus packets the flow table had no room for), owner
//! events lost, its peak RSS (`VmHWM`; the start-up's eBPF loading is
//! usually the peak) and its RSS (`VmRSS`), read just before it is stopped,
//! its CPU over the window (% of a core and per packet on the veth), and
//! the bytes it credited to the sender's pid over the frames the sender
//! sent. Numbers are reported, never asserted.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use netop_e2e::child::{Done, Proc};
use netop_e2e::{Counts, Netns, NetopOptions};

use crate::maxrate::PAYLOAD;
use crate::memory::{self, Memory};
use crate::monitor::{CpuTime, Running, Seen, Tool};
use crate::report::{per_packet, split, thousands};

const SINK_PORT: u16 = 5005;
/// UDP, IPv4 and Ethernet headers: a datagram's frame is `PAYLOAD + 42`.
const HEADERS: u64 = 42;
/// After netop captures: its first socket scan (all N sockets).
const SETTLE: Duration = Duration::from_secs(1);
/// Window end after the sender's `done`.
const TAIL: Duration = Duration::from_millis(500);
/// How long the sender's sockets stay open after `done`: netop is read
/// and stopped meanwhile, so every flow still has its owner.
const HOLD_SECONDS: u64 = 5;
/// How long the sender may take to open its sockets.
const OPEN_LIMIT: Duration = Duration::from_secs(30);
/// Files the sender needs besides its sockets (trafficgen's own margin).
const FD_MARGIN: u64 = 64;
/// Most sink ports (trafficgen's `--ports` bound).
const MAX_PORTS: u64 = 16;

/// The workload: flows, datagrams a second in all, seconds.
#[derive(Debug, Clone, Copy)]
pub struct Spread {
    pub flows: u64,
    pub rate: u64,
    pub seconds: u64,
}

/// Who captures during a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    NoMonitor,
    Kernel,
    Pcap,
}

impl Mode {
    pub const ALL: [Mode; 3] = [Mode::NoMonitor, Mode::Kernel, Mode::Pcap];

    pub fn label(self) -> &'static str {
        match self {
            Mode::NoMonitor => "no monitor",
            Mode::Kernel => "netop --capture kernel",
            Mode::Pcap => "netop --capture pcap",
        }
    }

    /// netop's `--capture` value, `None` for the run without netop.
    fn capture(self) -> Option<&'static str> {
        match self {
            Mode::NoMonitor => None,
            Mode::Kernel => Some("kernel"),
            Mode::Pcap => Some("pcap"),
        }
    }
}

/// One run of the spread.
#[derive(Debug, Clone)]
pub struct SpreadRun {
    /// Datagrams sent, planned (`rate × seconds`), and sends that found
    /// the queue full.
    pub datagrams: u64,
    pub planned: u64,
    pub full: u64,
    /// The sender's own time from the first datagram to the last.
    pub send_time: Duration,
    /// The veth's counters over the window, and the window's length.
    pub window: Counts,
    pub wall: Duration,
    pub netop: Option<Result<NetopFigures, String>>,
}

impl SpreadRun {
    /// Datagrams a second the sender reached.
    pub fn rate(&self) -> f64 {
        self.datagrams as f64 / self.send_time.as_secs_f64().max(1e-9)
    }

    /// The frames the sender put on the wire, in bytes.
    pub fn frame_bytes(&self) -> u64 {
        self.datagrams * (PAYLOAD + HEADERS)
    }
}

/// What netop did in one run.
#[derive(Debug, Clone)]
pub struct NetopFigures {
    /// CPU over the window.
    pub cpu: CpuTime,
    /// What netop counted, and the veth's counters over netop's life.
    pub totals: Counts,
    pub life: Counts,
    pub drops: u64,
    pub lost_events: u64,
    pub memory: Memory,
    /// Bytes netop credited to the sender's pid, and its unknown row's.
    pub credited_bytes: u64,
    pub unknown_bytes: u64,
}

/// The phase's result: sink ports per socket and the runs.
#[derive(Debug)]
pub struct Outcome {
    pub ports: u64,
    pub runs: Vec<(Mode, anyhow::Result<SpreadRun>)>,
}

/// The three runs in turn; a run that fails is reported in its row and
/// the others still run.
pub fn run(
    host: &Netns,
    trafficgen: &Path,
    netop: &Tool,
    spread: Spread,
) -> anyhow::Result<Outcome> {
    let ports = ports_for(spread.flows)?;
    if ports > 1 {
        eprintln!(
            "livebench: the open-file limit cannot hold {} sockets: {} flows from {} sockets to {ports} ports",
            thousands(spread.flows),
            thousands(spread.flows),
            thousands(spread.flows.div_ceil(ports))
        );
    }
    let runs = Mode::ALL
        .into_iter()
        .map(|mode| {
            eprintln!(
                "livebench: {} packets/s over {} UDP flows for {} s, {}",
                thousands(spread.rate),
                thousands(spread.flows),
                spread.seconds,
                mode.label()
            );
            (mode, one(host, trafficgen, netop, spread, ports, mode))
        })
        .collect();
    Ok(Outcome { ports, runs })
}

/// Sink ports per sender socket: 1 when the open-file limit holds a
/// socket per flow (its hard limit is high enough, or can be raised:
/// root with CAP_SYS_RESOURCE; the sender inherits it), else as many as
/// it takes to stay under the hard limit.
fn ports_for(flows: u64) -> anyhow::Result<u64> {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let want = flows + FD_MARGIN;
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).context("getrlimit")?;
    if hard >= want || setrlimit(Resource::RLIMIT_NOFILE, soft, want).is_ok() {
        return Ok(1);
    }
    let ports = ports_needed(flows, hard);
    if ports > MAX_PORTS {
        bail!(
            "an open-file limit of {hard} cannot hold {flows} flows              (at most {MAX_PORTS} ports a socket); lower --spread-flows"
        );
    }
    Ok(ports)
}

/// Ports a socket so that `flows` flows need at most `hard - FD_MARGIN`
/// sockets.
fn ports_needed(flows: u64, hard: u64) -> u64 {
    flows.div_ceil(hard.saturating_sub(FD_MARGIN).max(1))
}

fn one(
    host: &Netns,
    trafficgen: &Path,
    netop: &Tool,
    spread: Spread,
    ports: u64,
    mode: Mode,
) -> anyhow::Result<SpreadRun> {
    let iface = host.host_if.as_str();
    let to = format!("{}:{SINK_PORT}", host.ns_addr);
    let bound = spread.seconds + HOLD_SECONDS + 120;
    // A sink on each port the flows go to (killed when dropped).
    let sinks = (0..ports as u16)
        .map(|i| {
            let listen = format!("{}:{}", host.ns_addr, SINK_PORT + i);
            let mut sink = Proc::spawn(format!("trafficgen udp-sink {listen}"), {
                let mut c = host.command(trafficgen);
                c.args(["udp-sink", "--listen", &listen])
                    .args(["--seconds", &bound.to_string()]);
                c
            })?;
            sink.expect_line("ready", Duration::from_secs(10))?;
            Ok(sink)
        })
        .collect::<anyhow::Result<Vec<Proc>>>()?;
    let mut sender = Proc::spawn("trafficgen udp-spread", {
        let mut c = Command::new(trafficgen);
        c.args(["udp-spread", "--to", &to])
            .args(["--flows", &spread.flows.to_string()])
            .args(["--rate", &spread.rate.to_string()])
            .args(["--seconds", &spread.seconds.to_string()])
            .args(["--size", &PAYLOAD.to_string()])
            .args(["--ports", &ports.to_string()])
            .args(["--hold-seconds", &HOLD_SECONDS.to_string()]);
        c
    })?;
    sender
        .expect_line("ready", OPEN_LIMIT)
        .context("opening the sender's sockets")?;
    let life_start = Counts::of_interface(iface)?;
    let mut running = match mode.capture() {
        Some(capture) => {
            let options = NetopOptions {
                duration_secs: bound,
                interface: Some(iface.to_owned()),
                bpf_buffer: None,
                extra: vec!["--capture".to_owned(), capture.to_owned()],
            };
            let mut r = Running::start(netop, &options.args())?;
            r.wait_capturing()?;
            std::thread::sleep(SETTLE);
            Some(r)
        }
        None => None,
    };

    let start = Counts::of_interface(iface)?;
    let cpu_start = running.as_ref().map(Running::cpu).transpose()?;
    let opened = Instant::now();
    sender.send_line("go")?;
    let line = sender.expect_line("done", Duration::from_secs(spread.seconds + 30))?;
    let done = Done::parse(&line)?;
    std::thread::sleep(TAIL);
    let cpu_end = running.as_ref().map(Running::cpu).transpose()?;
    let window = Counts::of_interface(iface)?.since(&start);
    let wall = opened.elapsed();

    let netop = running.take().map(|r| {
        let cpu = cpu_end
            .unwrap_or_default()
            .since(&cpu_start.unwrap_or_default());
        figures(r, cpu, iface, &life_start, sender.pid()).map_err(|e| format!("{e:#}"))
    });
    let _ = sender.wait_exit(Duration::from_secs(HOLD_SECONDS + 10));
    drop(sinks);
    Ok(SpreadRun {
        datagrams: done.get("datagrams"),
        planned: done.get("planned"),
        full: done.get("full"),
        send_time: Duration::from_micros(done.get("elapsed_us")),
        window,
        wall,
        netop,
    })
}

/// Reads netop's memory, stops it and reads what it counted.
fn figures(
    mut running: Running,
    cpu: CpuTime,
    iface: &str,
    life_start: &Counts,
    sender: u32,
) -> anyhow::Result<NetopFigures> {
    if !running.is_running() {
        bail!("netop exited during the run:\n{}", running.describe());
    }
    let memory = Memory::of(running.pid())?;
    let Seen::Netop {
        totals,
        drops,
        lost_events,
        rows,
    } = running.stop(None).context("stopping netop")?
    else {
        bail!("netop's result is not netop's");
    };
    let life = Counts::of_interface(iface)?.since(life_start);
    let bytes = |pid: Option<u32>| -> u64 {
        rows.iter()
            .filter(|r| r.pid == pid)
            .map(|r| r.rx_bytes + r.tx_bytes)
            .sum()
    };
    Ok(NetopFigures {
        cpu,
        totals,
        life,
        drops,
        lost_events,
        memory,
        credited_bytes: bytes(Some(sender)),
        unknown_bytes: bytes(None),
    })
}

/// `part` of `whole` as a percentage with `decimals`.
fn percent(part: f64, whole: f64, decimals: usize) -> String {
    format!("{:.decimals$} %", 100.0 * part / whole.max(1e-9))
}

pub fn markdown(spread: Spread, outcome: &anyhow::Result<Outcome>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "#### {} packets/s over {} flows (issue 17)\n",
        thousands(spread.rate),
        thousands(spread.flows)
    );
    let (ports, runs) = match outcome {
        Ok(o) => (o.ports, &o.runs),
        Err(e) => {
            let _ = writeln!(out, "Failed: {e:#}\n");
            return out;
        }
    };
    let sockets = if ports > 1 {
        format!(
            "{} flows from {} UDP sockets (the open-file limit holds no more; each \
             socket sends to {ports} sink ports)",
            thousands(spread.flows),
            thousands(spread.flows.div_ceil(ports))
        )
    } else {
        format!("{} UDP sockets", thousands(spread.flows))
    };
    let _ = writeln!(
        out,
        "`trafficgen udp-spread` from the root namespace into the test host: {sockets} \
         on kernel-chosen ports, held open, sending {PAYLOAD}-byte datagrams \
         ({}-byte frames) in turn, paced to {} a second in all for {} s; a sink there \
         answers none. netop (`--interface <veth> --format json`, the counting mode on \
         its command line) starts after the sockets are open and captures before the \
         first datagram. Rate: datagrams over the sender's own send time. Window: `go` \
         to {} ms after the last datagram (CPU, packets on the veth). \"netop counted\": \
         its packets against the veth's counters over its whole life. Kernel drops: its \
         stderr line (in kernel mode, DNS records the ring had no room for plus packets \
         the flow table had no room for). Peak RSS / RSS: `VmHWM` / `VmRSS` just before it is stopped (the sockets still open). Credited: \
         bytes on the sender's pid over the frames it sent. The issue's targets: no \
         drops, RSS under 30 MB.\n",
        PAYLOAD + HEADERS,
        thousands(spread.rate),
        spread.seconds,
        TAIL.as_millis()
    );
    let _ = writeln!(
        out,
        "| run | rate reached (pkt/s) | packets on the veth | netop counted / veth | \
         kernel drops | owner events lost | peak RSS / RSS at the end | netop CPU, user + sys (s) | \
         CPU (% of a core) | CPU per packet (ns) | bytes credited to the sender | unknown bytes |"
    );
    let _ = writeln!(
        out,
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    let alone = runs.iter().find_map(|(mode, run)| match run {
        Ok(r) if *mode == Mode::NoMonitor => Some(r.rate()),
        _ => None,
    });
    for (mode, run) in runs {
        let run = match run {
            Ok(run) => run,
            Err(e) => {
                let _ = writeln!(
                    out,
                    "| {} | failed: {} | | | | | | | | | | |",
                    mode.label(),
                    first_line(&format!("{e:#}"))
                );
                continue;
            }
        };
        let of_alone = match alone {
            Some(alone) if *mode != Mode::NoMonitor => {
                format!(", {} of no monitor", percent(run.rate(), alone, 1))
            }
            _ => String::new(),
        };
        let full = if run.full > 0 {
            format!(", {} sends found the queue full", thousands(run.full))
        } else {
            String::new()
        };
        let lead = format!(
            "| {} | {} ({} of {} asked{of_alone}{full}) | {} |",
            mode.label(),
            thousands(run.rate() as u64),
            thousands(run.datagrams),
            thousands(run.planned),
            thousands(run.window.total_packets())
        );
        let _ = match &run.netop {
            None => writeln!(out, "{lead} - | - | - | - | - | - | - | - | - |"),
            Some(Err(why)) => writeln!(out, "{lead} failed: {} | | | | | | | | |", first_line(why)),
            Some(Ok(n)) => writeln!(
                out,
                "{lead} {} | {} | {} | {} / {} | {} | {:.1} | {:.0} | {} | {} |",
                counted(n),
                thousands(n.drops),
                thousands(n.lost_events),
                memory::mib(n.memory.peak_kib),
                memory::mib(n.memory.rss_kib),
                split(&n.cpu, 2),
                n.cpu.percent_of(run.wall),
                per_packet(n.cpu, run.window),
                credited(n.credited_bytes, run.frame_bytes()),
                thousands(n.unknown_bytes)
            ),
        };
    }
    let _ = writeln!(out);
    out
}

/// netop's packets over the veth's, with both counts.
fn counted(n: &NetopFigures) -> String {
    let (seen, veth) = (n.totals.total_packets(), n.life.total_packets());
    format!(
        "{} ({} of {} packets{})",
        percent(seen as f64, veth as f64, 3),
        thousands(seen),
        thousands(veth),
        if n.totals == n.life {
            "; bytes too"
        } else {
            ""
        }
    )
}

/// The bytes credited over the bytes sent, with both.
fn credited(bytes: u64, sent: u64) -> String {
    format!(
        "{} ({} of {} B)",
        percent(bytes as f64, sent as f64, 2),
        thousands(bytes),
        thousands(sent)
    )
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().replace('|', "/")
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use netop_e2e::Counts;

    use super::{
        counted, credited, markdown, ports_needed, Mode, NetopFigures, Outcome, Spread, SpreadRun,
    };
    use crate::memory::Memory;
    use crate::monitor::CpuTime;

    fn counts(packets: u64) -> Counts {
        Counts {
            tx_packets: packets,
            tx_bytes: packets * 60,
            ..Counts::default()
        }
    }

    fn figures(seen: u64, veth: u64) -> NetopFigures {
        NetopFigures {
            cpu: CpuTime {
                user: Duration::from_millis(150),
                system: Duration::from_millis(50),
            },
            totals: counts(seen),
            life: counts(veth),
            drops: 0,
            lost_events: 0,
            memory: Memory {
                peak_kib: 20 * 1024,
                rss_kib: 18 * 1024,
                anon_kib: 0,
            },
            credited_bytes: seen * 60,
            unknown_bytes: 0,
        }
    }

    #[test]
    fn counted_and_credited_say_both_numbers() {
        assert_eq!(
            counted(&figures(1000, 1000)),
            "100.000 % (1,000 of 1,000 packets; bytes too)"
        );
        assert_eq!(
            counted(&figures(999, 1000)),
            "99.900 % (999 of 1,000 packets)"
        );
        assert_eq!(credited(59_940, 60_000), "99.90 % (59,940 of 60,000 B)");
        assert_eq!(credited(0, 0), "0.00 % (0 of 0 B)");
    }

    #[test]
    fn table_has_a_row_per_run_and_rates_against_no_monitor() {
        let run = |datagrams: u64, netop: Option<Result<NetopFigures, String>>| SpreadRun {
            datagrams,
            planned: 20_000,
            full: 0,
            send_time: Duration::from_secs(2),
            window: counts(datagrams),
            wall: Duration::from_secs(2),
            netop,
        };
        let runs = vec![
            (Mode::NoMonitor, Ok(run(20_000, None))),
            (
                Mode::Kernel,
                Ok(run(19_000, Some(Ok(figures(19_000, 19_000))))),
            ),
            (
                Mode::Pcap,
                Ok(run(18_000, Some(Err("no packet socket".into())))),
            ),
        ];
        let spread = Spread {
            flows: 200,
            rate: 10_000,
            seconds: 2,
        };
        let text = markdown(spread, &Ok(Outcome { ports: 1, runs }));
        assert!(
            text.contains(": 200 UDP sockets on kernel-chosen ports"),
            "{text}"
        );
        let rows: Vec<&str> = text.lines().filter(|l| l.starts_with("| ")).collect();
        // Header, separator, a row per run.
        assert_eq!(rows.len(), 5, "{text}");
        assert!(rows[2].starts_with("| no monitor | 10,000 (20,000 of 20,000 asked) |"));
        assert!(rows[3].contains("9,500 (19,000 of 20,000 asked, 95.0 % of no monitor)"));
        assert!(rows[3].contains("| 20.0 MiB / 18.0 MiB | 0.20 (0.15 + 0.05) | 10.0 | 10526 |"));
        assert!(rows[4].contains("failed: no packet socket"));
        let columns = |row: &str| row.matches(" |").count();
        assert!(
            rows.iter().all(|r| columns(r) == columns(rows[0])),
            "{text}"
        );
    }

    #[test]
    fn ports_keep_the_sockets_under_the_hard_limit() {
        assert_eq!(ports_needed(20_000, 20_000), 2);
        assert_eq!(ports_needed(20_000, 20_064), 1);
        assert_eq!(ports_needed(20_000, 1024), 21);
        assert_eq!(ports_needed(200, 0), 200);
        let spread = Spread {
            flows: 20_000,
            rate: 100_000,
            seconds: 10,
        };
        let outcome = Outcome {
            ports: 2,
            runs: Vec::new(),
        };
        let text = markdown(spread, &Ok(outcome));
        assert!(
            text.contains("20,000 flows from 10,000 UDP sockets"),
            "{text}"
        );
        let failed = markdown(spread, &Err(anyhow::anyhow!("no limit")));
        assert!(failed.contains("Failed: no limit"), "{failed}");
    }
}

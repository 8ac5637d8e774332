//! The markdown report: machine facts, the max-rate runs, netop's ratio to
//! each peer and the idle figure, ready to paste into docs/PERFORMANCE.md.

use std::fmt::Write as _;
use std::time::Duration;

use netop_e2e::Counts;

use crate::idle::{self, IdleResult};
use crate::maxrate::{MonitorResult, RunResult, PAYLOAD, TAIL};
use crate::monitor::{CpuTime, Kind, Seen, Tool};

/// Facts about the machine and the run.
#[derive(Debug, Clone)]
pub struct Facts {
    pub command: String,
    pub cpus: usize,
    pub cpu_model: String,
    pub kernel: String,
    pub load: String,
    pub netop: String,
    pub seconds: u64,
}

#[derive(Debug)]
pub struct Report<'a> {
    pub facts: Facts,
    pub tools: &'a [Tool],
    pub runs: &'a [RunResult],
    /// Label of the run whose netop row stands for "netop alone".
    pub netop_alone: Option<&'a str>,
    pub side_by_side: Option<&'a str>,
    pub idle: Option<Result<IdleResult, String>>,
    /// The event source phase, when it ran.
    pub events: Option<Vec<crate::events::EventsRun>>,
    /// Issue 10's scenarios, each a markdown section.
    pub sections: Vec<String>,
}

impl Report<'_> {
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        self.machine(&mut out);
        if !self.runs.is_empty() {
            self.max_rate(&mut out);
            self.ratios(&mut out);
        }
        if self.idle.is_some() || !self.runs.is_empty() {
            self.idle(&mut out);
        }
        if let Some(events) = &self.events {
            out.push_str(&crate::events::markdown(events));
        }
        for section in &self.sections {
            out.push_str(section);
        }
        out
    }

    fn machine(&self, out: &mut String) {
        let f = &self.facts;
        let _ = writeln!(out, "### Live capture benchmark\n");
        let _ = writeln!(out, "Command: `{}` (as root)\n", f.command);
        let _ = writeln!(out, "| machine | |\n| --- | --- |");
        let _ = writeln!(out, "| CPUs (nproc) | {} |", f.cpus);
        let _ = writeln!(out, "| CPU model | {} |", f.cpu_model);
        let _ = writeln!(out, "| kernel | {} |", f.kernel);
        let _ = writeln!(out, "| load average at start | {} |", f.load);
        let _ = writeln!(out, "| netop | {} |", f.netop);
        for tool in self.tools.iter().filter(|t| t.kind != Kind::Netop) {
            let state = match &tool.bin {
                Ok(bin) => format!("{} (`{}`)", tool.version, bin.display()),
                Err(why) => why.clone(),
            };
            let _ = writeln!(out, "| {} | {state} |", tool.kind.name());
        }
        let _ = writeln!(out);
    }

    fn max_rate(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "#### Max rate\n\nOne unpaced sender thread (`trafficgen udp-blast`, `sendmmsg`) sends \
             {PAYLOAD}-byte UDP payloads ({}-byte frames) for {} s from the root namespace \
             into a test namespace where nothing listens; every monitor captures on the \
             root-side veth. CPU is utime + stime of the monitor's process over the window \
             (from `go` to {} ms after the last datagram; startup excluded); packets are \
             the veth's counters (rx + tx) over the same window.\n",
            PAYLOAD + 42,
            self.facts.seconds,
            TAIL.as_millis()
        );
        let _ = writeln!(
            out,
            "| run | monitor | sender rate (pkt/s) | packets in window | monitor CPU, user + sys (s) | \
             CPU (% of a core) | CPU per packet (ns) | monitor saw | kernel drops |"
        );
        let _ = writeln!(
            out,
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- |"
        );
        for run in self.runs {
            let lead = |monitor: &str| {
                format!(
                    "| {} | {monitor} | {} | {} |",
                    run.label,
                    thousands(run.rate() as u64),
                    thousands(run.window.total_packets())
                )
            };
            if run.monitors.is_empty() {
                let _ = writeln!(out, "{} - | - | - | - | - |", lead("none"));
            }
            for monitor in &run.monitors {
                let _ = match monitor {
                    Ok(m) => {
                        let cpu = m.cpu.total().as_secs_f64();
                        writeln!(
                            out,
                            "{} {} | {:.1} | {:.0} | {} | {} |",
                            lead(m.kind.name()),
                            split(&m.cpu, 2),
                            100.0 * cpu / run.wall.as_secs_f64(),
                            per_packet(m.cpu, run.window),
                            saw(m),
                            drops(m)
                        )
                    }
                    Err(why) => writeln!(
                        out,
                        "{} failed: {} | | | | |",
                        lead("?"),
                        why.replace('|', "/")
                    ),
                };
            }
        }
        let _ = writeln!(
            out,
            "\n\"monitor saw\": netop's JSON totals against the veth counters over netop's \
             life; nethogs' byte totals (`-v 2`, 6 significant digits) against the veth's \
             bytes; bandwhich: 1 - its socket's drops / veth packets. \"kernel drops\": \
             netop's own stderr line; bandwhich's packet socket drop counter (`ss --packet \
             -e -m`, no ring); nethogs reports none.\n"
        );
    }

    fn ratios(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "#### netop's CPU per packet against each peer (lower than 1: netop uses less)\n"
        );
        let _ = writeln!(
            out,
            "| measured | netop (ns/pkt) | peer | peer (ns/pkt) | netop ÷ peer | peer ÷ netop |"
        );
        let _ = writeln!(out, "| --- | ---: | --- | ---: | ---: | ---: |");
        let alone = |kind: Kind| {
            self.runs
                .iter()
                .filter(|r| kind != Kind::Netop || Some(r.label.as_str()) == self.netop_alone)
                .filter(|r| r.monitors.len() == 1)
                .find_map(|r| {
                    let m = r.monitors.first()?.as_ref().ok()?;
                    (m.kind == kind).then(|| per_packet(m.cpu, r.window))
                })
        };
        let together = self
            .runs
            .iter()
            .find(|r| Some(r.label.as_str()) == self.side_by_side);
        let in_run = |run: &RunResult, kind: Kind| {
            run.monitors
                .iter()
                .flatten()
                .find(|m| m.kind == kind)
                .map(|m| per_packet(m.cpu, run.window))
        };
        for peer in [Kind::Nethogs, Kind::Bandwhich] {
            let mut rows = vec![("each alone, own run", alone(Kind::Netop), alone(peer))];
            if let Some(run) = together {
                rows.push((
                    "side by side, same run",
                    in_run(run, Kind::Netop),
                    in_run(run, peer),
                ));
            }
            for (how, netop, other) in rows {
                let cell = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.0}"));
                let ratio = match (netop, other) {
                    (Some(n), Some(p)) if n > 0.0 && p > 0.0 => {
                        format!("{:.2} | {:.2}", n / p, p / n)
                    }
                    _ => "- | -".to_owned(),
                };
                let _ = writeln!(
                    out,
                    "| {how} | {} | {} | {} | {ratio} |",
                    cell(netop),
                    peer.name(),
                    cell(other)
                );
            }
        }
        let _ = writeln!(out);
    }

    fn idle(&self, out: &mut String) {
        let _ = writeln!(out, "#### Idle\n");
        match &self.idle {
            None => {
                let _ = writeln!(out, "Not run.\n");
            }
            Some(Err(why)) => {
                let _ = writeln!(out, "Failed: {why}\n");
            }
            Some(Ok(idle)) => {
                let _ = writeln!(
                    out,
                    "{} loopback TCP connections held open by the benchmark ({} sockets), no \
                     traffic of its own; `netop --duration {} --format json` on `any`. CPU from \
                     {} s after its start to {} s before the end of its window.\n",
                    idle::CONNECTIONS,
                    idle.sockets,
                    idle.duration_secs,
                    idle::STARTUP.as_secs(),
                    idle::BEFORE_END.as_secs()
                );
                let _ = writeln!(
                    out,
                    "| open sockets | window (s) | netop CPU, user + sys (s) | CPU (% of a core) | \
                     other traffic netop saw | processes started on the machine |"
                );
                let _ = writeln!(out, "| ---: | ---: | ---: | ---: | --- | ---: |");
                let _ = writeln!(
                    out,
                    "| {} | {:.1} | {} | {:.2} | {} packets, {} bytes | {} |\n",
                    thousands(idle.sockets as u64),
                    idle.window.as_secs_f64(),
                    split(&idle.cpu, 3),
                    idle.percent(),
                    thousands(idle.seen.total_packets()),
                    thousands(idle.seen.total_bytes()),
                    thousands(idle.forks)
                );
            }
        }
    }
}

pub fn mib(bytes: u32) -> String {
    if bytes & ((1 << 20) - 1) == 0 {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{bytes} B")
    }
}

/// `total (user + sys)` in seconds.
pub fn split(cpu: &CpuTime, decimals: usize) -> String {
    let s = |d: Duration| d.as_secs_f64();
    format!(
        "{:.decimals$} ({:.decimals$} + {:.decimals$})",
        s(cpu.total()),
        s(cpu.user),
        s(cpu.system)
    )
}

pub fn per_packet(cpu: CpuTime, window: Counts) -> f64 {
    cpu.total().as_nanos() as f64 / window.total_packets().max(1) as f64
}

fn saw(m: &MonitorResult) -> String {
    let life = m.life;
    match &m.seen {
        Seen::Netop { totals, .. } => {
            let pct = 100.0 * totals.total_packets() as f64 / life.total_packets().max(1) as f64;
            if *totals == life {
                format!("{pct:.3} % (bytes and packets = veth counters)")
            } else {
                format!(
                    "{pct:.3} % (netop {} B / {} pkt, veth {} B / {} pkt)",
                    totals.total_bytes(),
                    totals.total_packets(),
                    life.total_bytes(),
                    life.total_packets()
                )
            }
        }
        Seen::Nethogs { bytes: Some(bytes) } => format!(
            "{:.3} % of bytes",
            100.0 * bytes / life.total_bytes().max(1) as f64
        ),
        Seen::Nethogs { bytes: None } => "no totals printed".to_owned(),
        Seen::Bandwhich { drops: Some(d) } => format!(
            "{:.3} % of packets",
            100.0 * (1.0 - *d as f64 / life.total_packets().max(1) as f64)
        ),
        Seen::Bandwhich { drops: None } => "unknown".to_owned(),
    }
}

fn drops(m: &MonitorResult) -> String {
    match &m.seen {
        Seen::Netop { drops, .. } => thousands(*drops),
        Seen::Nethogs { .. } => "not reported".to_owned(),
        Seen::Bandwhich { drops: Some(d) } => format!("{} (socket counter)", thousands(*d)),
        Seen::Bandwhich { drops: None } => "unknown".to_owned(),
    }
}

/// 1234567 -> "1,234,567".
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let head = match digits.len() % 3 {
        0 => 3.min(digits.len()),
        rest => rest,
    };
    std::iter::once(&digits[..head])
        .chain((head..digits.len()).step_by(3).map(|i| &digits[i..i + 3]))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::{mib, thousands};

    #[test]
    fn numbers_are_grouped_and_buffers_in_mib() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(mib(8 << 20), "8 MiB");
        assert_eq!(mib(5000), "5000 B");
    }
}

//! The monitor end to end: the real binary in a real terminal (a tmux
//! pane), live traffic from a known process to a test host, keys sent as a
//! user types them, and the screen read back after each.
//!
//! Root only (namespaces, capture); under `CI` a missing root is a failure.
#![cfg(target_os = "linux")]

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use netop_e2e::{begin, install_package, netop_bin, Netns, Proc, Tmux};

const TRAFFICGEN: &str = env!("CARGO_BIN_EXE_trafficgen");
const SERVER_PORT: u16 = 5001;
const CLIENT_PORT: u16 = 47_301;
/// Bytes per second the stream sends.
const RATE: u64 = 300_000;

/// Largest `<n>K` rate token on a line, in KB/s.
fn largest_k_rate(line: &str) -> Option<f64> {
    line.split_whitespace()
        .filter_map(|t| t.strip_suffix('K')?.parse::<f64>().ok())
        .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))))
}

#[test]
fn monitor_shows_live_traffic_switches_views_filters_expands_and_quits_cleanly(
) -> anyhow::Result<()> {
    let Some(_session) = begin()? else {
        return Ok(());
    };
    let host = Netns::create("tui", 41)?;
    let to = format!("{}:{SERVER_PORT}", host.ns_addr);
    let mut sink = Proc::spawn("sink", {
        let mut c = host.command(TRAFFICGEN);
        c.args(["sink", "--listen", &to, "--seconds", "40", "--conns", "1"]);
        c
    })?;
    sink.expect_line("ready", Duration::from_secs(10))?;
    let mut stream = Proc::spawn("stream", {
        let mut c = Command::new(TRAFFICGEN);
        c.args([
            "stream",
            "--to",
            &to,
            "--bind-port",
            &CLIENT_PORT.to_string(),
        ])
        .args(["--rate", &RATE.to_string(), "--seconds", "25"]);
        c
    })?;
    stream.expect_line("ready", Duration::from_secs(10))?;
    let pid = stream.pid().to_string();

    let netop = netop_bin()?;
    let tmux = Tmux::start(
        "tui",
        &format!("{} --interface {}", netop.display(), host.host_if),
        (120, 32),
    )?;
    tmux.wait_for("the Process view", |s| {
        s.contains("PID") && s.contains("RX Rate")
    })?;
    stream.send_line("go")?;

    // Process view: the stream's own row, with its PID, name and a rate
    // near what it sends (link headers add a few percent).
    let screen = tmux.wait_for("the stream's row with its rate", |s| {
        s.lines().any(|l| {
            l.trim_start().starts_with(&pid)
                && l.contains("trafficgen")
                && largest_k_rate(l).is_some_and(|k| k > 0.8 * RATE as f64 / 1000.0)
        })
    })?;
    let row = screen
        .lines()
        .find(|l| l.trim_start().starts_with(&pid))
        .context("stream row")?;
    let tx = largest_k_rate(row).context("a rate on the row")?;
    assert!(
        (0.8 * RATE as f64 / 1000.0..1.3 * RATE as f64 / 1000.0).contains(&tx),
        "stream sends {RATE} B/s, the row shows {tx}K: {row}"
    );

    // Connection view: the connection to the test host, outbound.
    tmux.keys(&["2"])?;
    let screen = tmux.wait_for("the Connection view", |s| {
        s.contains("Remote") && s.contains(&to) && s.contains("ESTABLISHED")
    })?;
    let line = screen
        .lines()
        .find(|l| l.contains(&to))
        .context("connection line")?;
    assert!(
        line.contains("trafficgen") && line.contains("Out"),
        "{line}"
    );

    // Filter: only the stream's rows stay; the status bar says so.
    tmux.keys(&["/", "trafficgen", "Enter"])?;
    let screen = tmux.wait_for("the filter in the status bar", |s| {
        s.contains("filter: trafficgen")
    })?;
    let rows: Vec<&str> = screen
        .lines()
        .skip(2)
        .take_while(|l| !l.trim().is_empty())
        .collect();
    assert!(
        !rows.is_empty() && rows.iter().all(|l| l.contains("trafficgen")),
        "{screen}"
    );

    // Process view, expanded: the socket tree under the process, with the
    // fd the stream's connection has in its own fd table.
    let fds = socket_fds(stream.pid())?;
    // The sink (in the test host) is a trafficgen too, and the two move
    // about the same bytes: select the stream's row, wherever it sorts.
    tmux.keys(&["1"])?;
    let pid = stream.pid().to_string();
    let tree = |s: &str| {
        s.lines().any(|l| {
            (l.contains("└─") || l.contains("├─"))
                && l.contains(&format!("{}:{SERVER_PORT}", host.ns_addr))
                && l.contains("ESTABLISHED")
                && fds.iter().any(|fd| l.contains(&format!("fd={fd} ")))
        })
    };
    // Rows can reorder between reading the screen and the keys arriving
    // (idle processes come and go): if another row opened, close it and
    // count again.
    let mut opened = None;
    for _ in 0..5 {
        let screen = tmux.wait_for("the stream's process row", |s| {
            s.lines().any(|l| l.trim_start().starts_with(&pid))
        })?;
        let above = screen
            .lines()
            .skip(2)
            .take_while(|l| !l.trim_start().starts_with(&pid))
            .filter(|l| !l.trim().is_empty())
            .count();
        tmux.keys(&["Home"])?;
        for _ in 0..above {
            tmux.keys(&["Down"])?;
        }
        tmux.keys(&["Enter"])?;
        match tmux.wait_within(
            "the expanded socket tree with the socket's fd",
            Duration::from_secs(4),
            tree,
        ) {
            Ok(screen) => {
                opened = Some(screen);
                break;
            }
            Err(e) => {
                eprintln!("{e}");
                tmux.keys(&["Enter"])?;
            }
        }
    }
    opened.context("the stream's socket tree never opened")?;

    // Interface view: the test host's veth as a card, and the DNS view.
    tmux.keys(&["3"])?;
    tmux.wait_for("the interface card", |s| {
        s.contains(&host.host_if) && s.contains("UP")
    })?;
    tmux.keys(&["4"])?;
    tmux.wait_for("the DNS view", |s| s.contains("Resolver Statistics"))?;
    tmux.keys(&["?"])?;
    tmux.wait_for("the help overlay", |s| {
        s.contains("Keys") && s.contains("quit")
    })?;
    tmux.keys(&["?"])?;

    // Quit: exit status 0 and the terminal as it was.
    tmux.keys(&["q"])?;
    tmux.wait_for("netop to exit", |s| s.contains("EXIT=0"))?;
    tmux.assert_restored()?;
    Ok(())
}

#[test]
fn monitor_reflows_says_when_too_small_and_restores_the_terminal_on_sigterm() -> anyhow::Result<()>
{
    let Some(_session) = begin()? else {
        return Ok(());
    };
    let netop = netop_bin()?;
    let tmux = Tmux::start(
        "small",
        &format!("{} --interface lo", netop.display()),
        (60, 20),
    )?;
    tmux.wait_for("the too-small message", |s| {
        s.contains("Terminal too small: 60x20")
    })?;
    tmux.resize((100, 30))?;
    tmux.wait_for("the Process view after the resize", |s| {
        s.contains("PID") && s.contains("TX Total")
    })?;
    let pid = tmux.command_pid()?;
    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()?;
    assert!(status.success());
    tmux.wait_for("netop to exit", |s| s.contains("EXIT=0"))?;
    tmux.assert_restored()?;
    Ok(())
}

/// The fd numbers of `pid`'s sockets, read from its fd table.
fn socket_fds(pid: u32) -> anyhow::Result<Vec<u32>> {
    let mut fds = Vec::new();
    for entry in std::fs::read_dir(format!("/proc/{pid}/fd"))? {
        let entry = entry?;
        let target = std::fs::read_link(entry.path())?;
        if target.to_string_lossy().starts_with("socket:") {
            fds.push(entry.file_name().to_string_lossy().parse()?);
        }
    }
    anyhow::ensure!(!fds.is_empty(), "process {pid} has no sockets");
    Ok(fds)
}

/// A Process view row with non-zero totals (its last four words are
/// `RX-number unit TX-number unit`).
fn has_bytes(row: &str) -> bool {
    let words: Vec<&str> = row.split_whitespace().collect();
    let n = words.len();
    n >= 4 && (words[n - 4] != "0" || words[n - 2] != "0")
}

/// Waits (at most 90 s) until the test host has no TIME_WAIT sockets.
fn wait_no_time_wait(host: &Netns) -> anyhow::Result<()> {
    let start = Instant::now();
    loop {
        let out = host
            .command("ss")
            .args(["-Htan", "state", "time-wait"])
            .output()?;
        if out.stdout.iter().all(|&b| b != b'\n') {
            return Ok(());
        }
        if start.elapsed() > Duration::from_secs(90) {
            bail!("TIME_WAIT sockets still there after 90 s");
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Resident memory of `pid` in KiB: (`VmRSS`, `RssAnon`) of
/// `/proc/PID/status`. The anonymous part is the heap and stacks: what
/// grows with the processes netop keeps. The rest is mapped files and the
/// capture and event rings, fixed in size, whose pages count once traffic
/// has touched them.
fn rss_kib(pid: u32) -> anyhow::Result<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| -> anyhow::Result<u64> {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .with_context(|| format!("no {name} line"))
    };
    Ok((field("VmRSS:")?, field("RssAnon:")?))
}

/// The monitor's state has a lifecycle (issue 10): thousands of
/// short-lived processes pass through it, each shown while its bytes are
/// recent, then forgotten once it has exited and gone idle (after 5 s
/// here, through the hidden `--forget-exited-after`; 60 s by default).
/// Two waves of 2,500 processes: after each has aged out, no row of them
/// with bytes is left, and the second wave leaves the monitor's heap
/// within 6 MB of where the first left it (figures in PERFORMANCE.md).
#[test]
fn the_monitor_forgets_thousands_of_exited_processes() -> anyhow::Result<()> {
    let Some(_session) = begin()? else {
        return Ok(());
    };
    const WAVE: u32 = 2_500;
    /// Allocator noise between two equal waves. Keeping what the old
    /// engine kept (about 8 KB a process) would add 20 MB a wave.
    const SLACK_KIB: u64 = 6 * 1024;
    let host = Netns::create("age", 43)?;
    let to = format!("{}:{SERVER_PORT}", host.ns_addr);
    let netop = netop_bin()?;
    let tmux = Tmux::start(
        "age",
        &format!(
            "{} --interface {} --forget-exited-after 5",
            netop.display(),
            host.host_if
        ),
        (120, 32),
    )?;
    tmux.wait_for("the Process view", |s| {
        s.contains("PID") && s.contains("RX Rate")
    })?;
    let pid = tmux.command_pid()?;
    let start = rss_kib(pid)?;
    // The first wave leaves a high-water mark (hash tables keep their
    // capacity, the allocator its pages); what matters is that the
    // second, as big, does not add to it: nothing is kept per process.
    let mut limit = u64::MAX;
    let mut after = Vec::new();
    for wave in 0..2u32 {
        // A sink of its own for each wave: one wave and its minute of
        // TIME_WAIT can take 100 s on a loaded machine, and one sink for
        // both waves (trafficgen's bound is 120 s) closed during the
        // second.
        let mut sink = Proc::spawn("sink", {
            let mut c = host.command(TRAFFICGEN);
            c.args(["sink", "--listen", &to, "--seconds", "110"])
                .args(["--conns", &WAVE.to_string()]);
            c
        })?;
        sink.expect_line("ready", Duration::from_secs(10))?;
        let base = 21_000 + wave * WAVE;
        let mut launcher = Proc::spawn("launcher", {
            let mut c = Command::new(TRAFFICGEN);
            c.args(["short-procs", "--kind", "tcp", "--to", &to])
                .args(["--count", &WAVE.to_string()])
                .args(["--bind-port-base", &base.to_string(), "--bytes", "2000"]);
            c
        })?;
        launcher.expect_line("ready", Duration::from_secs(10))?;
        let began = Instant::now();
        launcher.send_line("go")?;
        launcher.expect_line("done", Duration::from_secs(90))?;
        launcher.wait_exit(Duration::from_secs(5))?;
        let (peak, peak_anon) = rss_kib(pid)?;
        println!(
            "wave {wave}: {WAVE} processes in {:.1} s, netop RSS {peak} KiB (heap and stacks {peak_anon} KiB)",
            began.elapsed().as_secs_f64()
        );
        // Every one of them loses its row with bytes: forgotten, not only
        // idle (an idle process's row would stay for its 60 s of history).
        // The kernel's TIME_WAIT sockets of their connections may still be
        // listed for a minute, as rows without bytes.
        let sink_pid = sink.pid().to_string();
        tmux.wait_within(
            "the exited processes to be forgotten",
            Duration::from_secs(60),
            |s| {
                !s.lines().any(|l| {
                    l.contains("trafficgen")
                        && !l.trim_start().starts_with(&sink_pid)
                        && has_bytes(l)
                })
            },
        )?;
        // And the kernel's TIME_WAIT sockets of the wave are gone (60 s):
        // until then the screen lists them, which costs memory too.
        wait_no_time_wait(&host)?;
        // The next full socket table (at most 10 s) drops them, and netop
        // then hands the freed heap back: the lowest reading in 15 s
        // (sooner once under the limit).
        let settle = Instant::now();
        let (mut rss, mut anon) = rss_kib(pid)?;
        while (wave == 0 || anon > limit) && settle.elapsed() < Duration::from_secs(15) {
            std::thread::sleep(Duration::from_millis(500));
            let now = rss_kib(pid)?;
            if now.1 < anon {
                (rss, anon) = now;
            }
        }
        println!(
            "wave {wave} aged out after {:.1} s: netop RSS {rss} KiB, heap and stacks {anon} KiB (start: {} and {} KiB)",
            began.elapsed().as_secs_f64(),
            start.0,
            start.1
        );
        after.push(anon);
        limit = anon + SLACK_KIB;
    }
    anyhow::ensure!(
        after[1] <= after[0] + SLACK_KIB,
        "netop grew with the processes it saw: heap and stacks {} KiB at start, {after:?} KiB after each wave aged out",
        start.1
    );
    tmux.keys(&["q"])?;
    tmux.wait_for("netop to exit", |s| s.contains("EXIT=0"))?;
    tmux.assert_restored()?;
    Ok(())
}

/// Issue 15: the monitor keeps its screen while its interface is deleted,
/// says so in the status bar, and shows traffic again once it is back.
#[test]
fn issue_15_monitor_keeps_its_screen_while_the_interface_is_gone() -> anyhow::Result<()> {
    let Some(_session) = begin()? else {
        return Ok(());
    };
    let host = Netns::create("mflap", 48)?;
    let to = format!("{}:{SERVER_PORT}", host.ns_addr);
    let mut echo = Proc::spawn("echo", {
        let mut c = host.command(TRAFFICGEN);
        c.args(["udp-echo-server", "--listen", &to, "--seconds", "40"])
            .args(["--count", "1000"]);
        c
    })?;
    echo.expect_line("ready", Duration::from_secs(10))?;
    let netop = netop_bin()?;
    let tmux = Tmux::start(
        "mflap",
        &format!("{} --interface {}", netop.display(), host.host_if),
        (140, 30),
    )?;
    tmux.wait_for("the Process view", |s| {
        s.contains("PID") && s.contains("RX Rate")
    })?;
    let gone = format!("{}: gone, retrying", host.host_if);
    host.unlink()?;
    tmux.wait_for("the gap in the status bar", |s| s.contains(&gone))?;
    host.relink()?;
    tmux.wait_for("the gap to end", |s| !s.contains(&gone))?;

    let mut client = Proc::spawn("client", {
        let mut c = Command::new(TRAFFICGEN);
        c.args(["udp-client", "--to", &to, "--bind-port", "48101"])
            .args(["--count", "800", "--size", "1000", "--interval-ms", "10"]);
        c
    })?;
    client.expect_line("ready", Duration::from_secs(10))?;
    client.send_line("go")?;
    let pid = client.pid().to_string();
    tmux.wait_for("the new client's traffic after the gap", |s| {
        s.lines().any(|l| {
            l.trim_start().starts_with(&pid)
                && l.contains("trafficgen")
                && largest_k_rate(l).is_some_and(|k| k > 10.0)
        })
    })?;
    tmux.keys(&["q"])?;
    tmux.wait_for("netop to exit", |s| s.contains("EXIT=0"))?;
    tmux.assert_restored()?;
    Ok(())
}

/// The loopback interface's kernel byte counters (rx, tx), from
/// `/proc/net/dev`: unlike `/sys/class/net`, it is always the reader's own
/// network namespace.
fn loopback_counters() -> anyhow::Result<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/net/dev").context("reading /proc/net/dev")?;
    let line = text
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("lo:"))
        .context("no lo in /proc/net/dev")?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()
        .context("parsing /proc/net/dev")?;
    // rx: bytes packets errs drop fifo frame compressed multicast; tx: bytes ...
    Ok((fields[0], fields[8]))
}

/// A rate as the monitor prints it (`132 B/s`, `5.0 MB/s`), in B/s.
fn parse_rate(text: &str) -> Option<f64> {
    let mut words = text.split_whitespace();
    while let Some(w) = words.next() {
        let Ok(v) = w.parse::<f64>() else { continue };
        let unit = match words.next()? {
            "B/s" => 1.0,
            "KB/s" => 1e3,
            "MB/s" => 1e6,
            "GB/s" => 1e9,
            _ => continue,
        };
        return Some(v * unit);
    }
    None
}

/// The `lo` card's (RX, TX) rates on an Interface view screen.
fn loopback_card_rates(screen: &str) -> Option<(f64, f64)> {
    let lines: Vec<&str> = screen.lines().collect();
    let top = lines.iter().position(|l| l.contains("─ lo "))?;
    let card = &lines[top..lines.len().min(top + 10)];
    let rate_of = |label: &str| {
        card.iter().find(|l| l.contains(label)).and_then(|l| {
            parse_rate(
                l.split(label)
                    .nth(1)?
                    .trim_start_matches(|c: char| !c.is_ascii_digit()),
            )
        })
    };
    Some((rate_of("RX:")?, rate_of("TX:")?))
}

/// Issue 14's defect: the Interface view's current rate of `lo` must be
/// what the kernel counts there (it once showed `132 B/s` while `lo`
/// carried MB/s). netop on all interfaces, as a new user runs it, a paced
/// loopback stream, the card's readings against `/proc/net/dev` over the
/// same seconds.
#[test]
fn issue_14_interface_view_shows_the_loopback_rate_the_kernel_counts() -> anyhow::Result<()> {
    let Some(_session) = begin()? else {
        return Ok(());
    };
    const LO_PORT: u16 = 5014;
    const LO_RATE: u64 = 3_000_000;
    let to = format!("127.0.0.1:{LO_PORT}");
    let mut sink = Proc::spawn("sink", {
        let mut c = Command::new(TRAFFICGEN);
        c.args(["sink", "--listen", &to, "--seconds", "40", "--conns", "1"]);
        c
    })?;
    sink.expect_line("ready", Duration::from_secs(10))?;
    let mut stream = Proc::spawn("stream", {
        let mut c = Command::new(TRAFFICGEN);
        c.args(["stream", "--to", &to, "--bind-port", "47314"])
            .args(["--rate", &LO_RATE.to_string(), "--seconds", "25"]);
        c
    })?;
    stream.expect_line("ready", Duration::from_secs(10))?;

    let netop = netop_bin()?;
    let tmux = Tmux::start("lorate", &netop.display().to_string(), (120, 40))?;
    tmux.wait_for("the Process view", |s| {
        s.contains("PID") && s.contains("RX Rate")
    })?;
    stream.send_line("go")?;
    tmux.keys(&["3"])?;
    tmux.wait_for("the lo card with traffic", |s| {
        loopback_card_rates(s).is_some_and(|(rx, _)| rx > 0.0)
    })?;
    // Let the stream settle, then read the card once per refresh for a
    // few seconds while the kernel counts the same span.
    std::thread::sleep(Duration::from_secs(2));
    let (rx0, tx0) = loopback_counters()?;
    let start = Instant::now();
    let mut readings = Vec::new();
    while start.elapsed() < Duration::from_secs(6) {
        std::thread::sleep(Duration::from_millis(1000));
        let screen = tmux.screen()?;
        readings
            .push(loopback_card_rates(&screen).with_context(|| format!("no lo card:\n{screen}"))?);
    }
    let (rx1, tx1) = loopback_counters()?;
    let secs = start.elapsed().as_secs_f64();
    let kernel = ((rx1 - rx0) as f64 / secs, (tx1 - tx0) as f64 / secs);
    eprintln!(
        "kernel lo: rx {:.0} B/s, tx {:.0} B/s; the card read {readings:?}",
        kernel.0, kernel.1
    );
    assert!(
        kernel.0 > 0.8 * LO_RATE as f64,
        "the stream did not run: {kernel:?}"
    );
    for (rx, tx) in &readings {
        for (shown, counted, what) in [(rx, kernel.0, "RX"), (tx, kernel.1, "TX")] {
            assert!(
                (shown - counted).abs() <= 0.2 * counted,
                "lo card {what} {shown:.0} B/s, kernel {counted:.0} B/s; readings {readings:?}"
            );
        }
    }
    tmux.keys(&["q"])?;
    tmux.wait_for("netop to exit", |s| s.contains("EXIT=0"))?;
    Ok(())
}

/// Issue 14: `--resolve` names a remote address the DNS observatory did
/// not (no query for it was seen) by a PTR query, and that query shows in
/// the DNS view as netop's own. The resolver is a dnsmasq in the test host
/// with one PTR record (`--resolve-server` points netop at it).
#[test]
fn issue_14_resolve_names_remotes_by_ptr_and_shows_its_own_queries() -> anyhow::Result<()> {
    let Some(_session) = begin()? else {
        return Ok(());
    };
    install_package("dnsmasq-base", "dnsmasq", "--version")?;
    let host = Netns::create("rdns", 63)?;
    let octets: Vec<String> = host
        .ns_addr
        .to_string()
        .split('.')
        .rev()
        .map(String::from)
        .collect();
    let ptr = format!("{}.in-addr.arpa,peer.example", octets.join("."));
    let mut dnsmasq = Proc::spawn("dnsmasq", {
        let mut c = host.command("dnsmasq");
        c.args([
            "--keep-in-foreground",
            "--conf-file=/dev/null",
            "--no-resolv",
            "--no-hosts",
            "--bind-interfaces",
            "--user=root",
            "--pid-file=",
            "--log-facility=-",
            "--port=53",
        ])
        .arg(format!("--listen-address={}", host.ns_addr))
        .arg(format!("--ptr-record={ptr}"));
        c
    })?;
    dnsmasq.wait_udp_bound(53, Duration::from_secs(10))?;
    let to = format!("{}:{SERVER_PORT}", host.ns_addr);
    let mut sink = Proc::spawn("sink", {
        let mut c = host.command(TRAFFICGEN);
        c.args(["sink", "--listen", &to, "--seconds", "40", "--conns", "1"]);
        c
    })?;
    sink.expect_line("ready", Duration::from_secs(10))?;
    let mut stream = Proc::spawn("stream", {
        let mut c = Command::new(TRAFFICGEN);
        c.args(["stream", "--to", &to, "--bind-port", "47363"])
            .args(["--rate", "100000", "--seconds", "25"]);
        c
    })?;
    stream.expect_line("ready", Duration::from_secs(10))?;
    let netop = netop_bin()?;
    let tmux = Tmux::start(
        "rdns",
        &format!(
            "{} --interface {} --resolve --resolve-server {}:53",
            netop.display(),
            host.host_if,
            host.ns_addr
        ),
        (160, 40),
    )?;
    tmux.wait_for("the Process view", |s| s.contains("PID"))?;
    stream.send_line("go")?;
    tmux.keys(&["2"])?;
    tmux.wait_for("the remote named by PTR", |s| {
        s.lines()
            .any(|l| l.contains("trafficgen") && l.contains(&format!("peer.example:{SERVER_PORT}")))
    })?;
    tmux.keys(&["4"])?;
    tmux.wait_for("netop's own PTR query in the DNS view", |s| {
        s.lines()
            .any(|l| l.contains("netop") && l.contains("PTR") && l.contains("peer.example"))
    })?;
    tmux.keys(&["q"])?;
    tmux.wait_for("netop to exit", |s| s.contains("EXIT=0"))?;
    Ok(())
}

//! Command-line arguments: the user guide's flags, their ranges and their
//! messages. This is the one place that defines them; `netop --completions`
//! and `cargo xtask dist` build completions and the man page from it.

use std::path::PathBuf;

use clap::{CommandFactory, FromArgMatches, Parser, ValueEnum};

/// The examples and notes `--help` ends with (the man page's EXAMPLES too).
pub const EXAMPLES: &str = "\
Examples:
  sudo netop                                interactive monitor (? for keys)
  sudo netop --interval 2 --sort name       monitor, 2 s refresh, sorted by name
  sudo netop --duration 5                   5-second snapshot as TSV
  sudo netop --duration 5 --format pretty   human-readable table
  sudo netop --duration 5 --format json | jq '.[0:5]'
  sudo netop --duration 10 --interface eth0 --filter curl

Bytes are counted as the interface counts them: the IP packet plus the
interface's link-layer header (14 bytes on Ethernet and loopback).

Needs root, or CAP_NET_RAW and CAP_NET_ADMIN:
  sudo setcap cap_net_raw,cap_net_admin=eip \"$(command -v netop)\"";

/// Exit codes, as `--help` and the README list them.
pub const EXIT_CODES: &str = "\
Exit status:
  0  success (also when the output pipe is closed early, or on Ctrl-C in a snapshot)
  1  runtime error (capture or socket reading failed)
  2  invalid command line, or an invalid config file
  3  insufficient privileges for packet capture
  4  unknown network interface
  5  snapshot with --alert: some process's rate crossed the threshold";

#[derive(Debug, Clone, Parser)]
#[command(
    name = "netop",
    version,
    about = "Per-process network traffic monitor: which processes use the network, \
             who they talk to, and how much bandwidth each one takes.",
    long_about = None,
)]
pub struct Args {
    /// Snapshot mode: collect per-process traffic for SECONDS (1.0 to 3600.0),
    /// print it and exit. Without it, netop runs the interactive monitor.
    #[arg(long, value_name = "SECONDS", value_parser = parse_duration, allow_negative_numbers = true)]
    pub duration: Option<f64>,

    /// Run the interactive monitor (the default without --duration).
    #[arg(long, conflicts_with = "duration")]
    pub monitor: bool,

    /// Snapshot output format.
    #[arg(long, value_enum, default_value_t = Format::Tsv, value_name = "FORMAT")]
    pub format: Format,

    /// Show only processes whose name, or traffic whose remote address,
    /// contains PATTERN (case-insensitive).
    #[arg(long, value_name = "PATTERN")]
    pub filter: Option<String>,

    /// Capture only on this interface (default: all interfaces).
    #[arg(long, value_name = "IFACE", global = true)]
    pub interface: Option<String>,

    /// Initial sort column of the monitor.
    #[arg(long, value_enum, default_value_t = SortColumn::Traffic, value_name = "COLUMN")]
    pub sort: SortColumn,

    /// Monitor refresh interval in seconds (0.2 to 60): how often sockets
    /// are re-read and the screen redrawn; rates are averaged over it.
    /// With --format ndjson: the time between two lines.
    #[arg(long, value_name = "SECONDS", default_value_t = 1.0, value_parser = parse_interval)]
    pub interval: f64,

    /// Disable colored output (also when NO_COLOR is set to any value).
    #[arg(long)]
    pub no_color: bool,

    /// Disable the DNS observatory (no capture or parsing of port 53 traffic).
    #[arg(long, global = true)]
    pub no_dns: bool,

    /// Snapshot: print the DNS query log of the period instead of the
    /// process table (columns: time, pid, process, query, type, response,
    /// latency_ms, resolver, status).
    #[arg(long, requires = "duration", conflicts_with = "no_dns")]
    pub dns_log: bool,

    /// Show each process's container (runtime and name or short id, read
    /// from its cgroup; e.g. docker:3f2a1b4c5d6e): a Container column in
    /// the monitor's Process view and in --format pretty, a "container"
    /// field in JSON and a trailing container column in TSV (`-` for none).
    #[arg(long, global = true)]
    pub containers: bool,

    /// Do not load the per-socket event source (eBPF): find socket owners
    /// by polling sock_diag and /proc only. Short-lived connections and
    /// processes may then show as unknown. netop also polls, and says so,
    /// where the event source cannot run (no root/CAP_BPF, no kernel BTF).
    #[arg(long, global = true)]
    pub no_events: bool,

    /// How socket owners are found: `auto` (default) tries the eBPF event
    /// source, then the perf tracepoint sock:inet_sock_set_state (the
    /// owners of outgoing TCP connections, where eBPF is not permitted but
    /// perf is: CAP_PERFMON without CAP_BPF, kernels without BTF), then
    /// polling; `events` skips the tracepoint; `tracepoint` skips eBPF;
    /// `polling` polls sock_diag and /proc only (as --no-events, which wins
    /// when both are given). --diagnostics says which runs and why.
    #[arg(long, value_enum, default_value_t = OwnersChoice::Auto, global = true)]
    pub owners: OwnersChoice,

    /// How traffic is counted. `auto` (the default): per flow in an eBPF
    /// program on each interface's traffic-control hooks (only DNS
    /// packets are still copied, by that program), or every packet through libpcap where
    /// that cannot run (no root/CAP_BPF, no TC BPF, --bpf or --write);
    /// --diagnostics and the status bar say which and why. `kernel`: the
    /// same, and a snapshot says on stderr when it falls back. `pcap`:
    /// every packet's headers through libpcap.
    #[arg(long, value_enum, default_value_t = CaptureChoice::Auto, global = true)]
    pub capture: CaptureChoice,

    /// Print how netop would find socket owners here (the event source, or
    /// polling and why) and whether it may capture, then exit.
    #[arg(long, conflicts_with_all = ["duration", "monitor"])]
    pub diagnostics: bool,

    /// Kernel capture buffer in bytes (4096 to 67108864, default 4 MiB).
    /// Raise it if the kernel reports dropped packets.
    #[arg(long, value_name = "BYTES", default_value_t = 4_194_304, global = true,
          value_parser = clap::value_parser!(u32).range(4096..=67_108_864))]
    pub bpf_buffer: u32,

    /// Print the shell completion script for SHELL on stdout and exit
    /// (bash, zsh, fish, elvish, powershell).
    #[arg(long, value_enum, value_name = "SHELL", exclusive = true)]
    pub completions: Option<clap_complete::Shell>,

    /// Replay a pcap file instead of capturing live (tests and fixtures).
    #[arg(long, hide = true, value_name = "FILE")]
    pub replay: Option<PathBuf>,

    /// Socket table for --replay: lines of `proto local remote pid name user
    /// [container]`.
    #[arg(long, hide = true, value_name = "FILE", requires = "replay")]
    pub replay_sockets: Option<PathBuf>,

    /// The monitor forgets a process that has exited and moved no bytes for
    /// this many seconds (tests shorten it; the monitor's default is 60).
    #[arg(long, hide = true, value_name = "SECONDS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub forget_exited_after: u64,

    /// Tests of confinement: the thread that captures and parses packets
    /// tries, at its first batch, to create FILE and to read its parent's
    /// `/proc/PPID/fd`, and says on stderr what it was allowed.
    #[arg(long, hide = true, value_name = "FILE", global = true)]
    pub confinement_probe: Option<PathBuf>,

    // The monitor for power users (issue 14): flags defined in their own
    // block at the end of this file.
    #[command(flatten)]
    pub power: PowerArgs,

    // Subcommands: `setup` (issue 14), `serve` and `history` (netop as a
    // service), defined at the end of this file.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// `--owners`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OwnersChoice {
    /// eBPF events, else the perf tracepoint, else polling.
    Auto,
    /// eBPF events, else polling.
    Events,
    /// The perf tracepoint (eBPF not tried), else polling.
    Tracepoint,
    /// sock_diag and /proc only.
    Polling,
}

/// `--capture`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CaptureChoice {
    /// In the kernel where permitted, else every packet through libpcap.
    Auto,
    /// Every packet through libpcap.
    Pcap,
    /// Counted in the kernel (eBPF on TC), DNS packets copied by the same
    /// programs; says so when it falls back.
    Kernel,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Tab-separated, with a header row.
    Tsv,
    /// A JSON array of objects.
    Json,
    /// A human-readable table with a TOTAL line.
    Pretty,
    /// A stream: one JSON object per --interval (deltas and totals), until
    /// stopped or for --duration.
    Ndjson,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SortColumn {
    Traffic,
    Pid,
    Name,
    Connections,
}

fn parse_duration(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a number of seconds"))?;
    if !(1.0..=3600.0).contains(&v) {
        return Err(format!("{s} is out of range: use 1.0 to 3600.0 seconds"));
    }
    Ok(v)
}

fn parse_interval(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a number of seconds"))?;
    if !(0.2..=60.0).contains(&v) {
        return Err(format!("{s} is out of range: use 0.2 to 60 seconds"));
    }
    Ok(v)
}

/// The full command, with examples and exit codes after the options.
pub fn command() -> clap::Command {
    bare_command().after_help(format!("{EXAMPLES}\n\n{EXIT_CODES}"))
}

/// The command without the text after the options: the man page gives the
/// examples and exit codes sections of their own.
pub fn bare_command() -> clap::Command {
    with_environment(Args::command())
}

impl Args {
    /// Parses the process's arguments; on error clap prints and exits 2.
    pub fn parse_env() -> Args {
        Args::try_parse_layered(std::env::args_os()).unwrap_or_else(|e| e.exit())
    }
}

// ---------------------------------------------------------------------
// The monitor for power users (issue 14): themes, alerts, the config
// file's environment variables. Kept in one block to ease merging.
// ---------------------------------------------------------------------

/// The themes `--theme` accepts (the monitor's `tui/theme.rs` draws them).
pub const THEMES: [&str; 5] = ["default", "light", "high-contrast", "monochrome", "classic"];

/// The environment variables that set a flag's value (between the config
/// file and the command line).
pub const ENVIRONMENT: [(&str, &str); 7] = [
    ("interface", "NETOP_INTERFACE"),
    ("interval", "NETOP_INTERVAL"),
    ("sort", "NETOP_SORT"),
    ("format", "NETOP_FORMAT"),
    ("theme", "NETOP_THEME"),
    ("capture", "NETOP_CAPTURE"),
    ("owners", "NETOP_OWNERS"),
];

fn with_environment(mut command: clap::Command) -> clap::Command {
    for (id, var) in ENVIRONMENT {
        command = command.mut_arg(id, |a| a.env(var));
    }
    command
}

/// Flags of the monitor for power users.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct PowerArgs {
    /// The monitor's colours: default, light, high-contrast, monochrome,
    /// classic (t cycles them). NO_COLOR and --no-color still win.
    #[arg(long, value_name = "NAME", value_parser = clap::builder::PossibleValuesParser::new(THEMES))]
    pub theme: Option<String>,

    /// Flag every process or connection whose rate (rx + tx) is above RATE
    /// bytes per second (e.g. 500K, 2MB, 1.5G; base 10): a highlighted row,
    /// the status bar and the bell in the monitor; in a snapshot, exit code
    /// 5 when a process crossed it (the table is still printed).
    #[arg(long, value_name = "RATE", value_parser = parse_rate)]
    pub alert: Option<u64>,

    /// Capture only packets matching this libpcap filter expression
    /// (tcpdump's syntax: 'tcp port 443', 'not host 10.0.0.5'). Every view
    /// and total then counts only those packets; DNS is parsed when the
    /// expression lets port-53 packets through. An invalid expression
    /// exits with code 2 and libpcap's message.
    #[arg(long, value_name = "EXPR")]
    pub bpf: Option<String>,

    /// Hide processes whose name contains PATTERN (case-insensitive;
    /// repeatable): the counterpart of --filter, in the monitor and in
    /// snapshots.
    #[arg(long, value_name = "PATTERN")]
    pub exclude: Vec<String>,

    /// Also save the captured packets to FILE (pcapng), each with a
    /// comment naming its process ("pid 1842 firefox"; "unknown" when no
    /// process owns it), for Wireshark or `tshark -T fields -e
    /// frame.comment`. Packets are the bytes netop captures: headers
    /// (256 bytes), whole DNS messages.
    #[arg(long, value_name = "FILE")]
    pub write: Option<PathBuf>,

    /// Monitor: name remote addresses the DNS observatory has not named by
    /// reverse DNS (PTR queries to the first resolver of
    /// /etc/resolv.conf, asynchronous, cached for their TTL). Off by
    /// default, since it sends queries; they show as netop's in the DNS
    /// view.
    #[arg(long)]
    pub resolve: bool,

    /// The resolver --resolve asks instead of /etc/resolv.conf's first
    /// (tests).
    #[arg(long, hide = true, value_name = "ADDR:PORT", requires = "resolve")]
    pub resolve_server: Option<std::net::SocketAddr>,

    /// Which settings came from the command line or the environment
    /// (they win over the config file); filled in by the parser.
    #[arg(skip)]
    pub explicit: Explicit,
}

impl Args {
    /// Parses `argv` (the program name first) as the command line is
    /// parsed, recording which values were given ([`Explicit`]).
    pub fn try_parse_layered<I, T>(argv: I) -> Result<Args, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let mut command = command();
        let matches = command.try_get_matches_from_mut(argv)?;
        let mut args = Args::from_arg_matches(&matches)?;
        args.power.explicit = Explicit::of(&matches);
        check_combinations(&args, &matches, &mut command)?;
        Ok(args)
    }
}

/// Subcommands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Interactive first run: shows the interfaces with their addresses
    /// and current traffic, asks the default interface, snapshot format,
    /// containers and theme, and writes the config file (its path is
    /// printed). Needs a terminal.
    Setup(SetupArgs),
    /// Run as a service: capture continuously, keep per-process history in
    /// a database, and serve /metrics (Prometheus, OpenMetrics) and a live
    /// dashboard over HTTP (see `ServeArgs`). Ctrl-C or SIGTERM writes the
    /// last minute and exits 0.
    Serve(ServeArgs),
    /// Per-process traffic of the past from the history `serve` keeps
    /// (reading needs no root, only read access to the database).
    History(HistoryArgs),
}

#[derive(Debug, Clone, clap::Args)]
pub struct SetupArgs {
    /// Remove the config file `netop setup` wrote, instead.
    #[arg(long)]
    pub reset: bool,
}

/// The argument ids given on the command line or by an environment
/// variable, rather than left at their defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Explicit(std::collections::BTreeSet<String>);

impl Explicit {
    pub fn of(matches: &clap::ArgMatches) -> Explicit {
        use clap::parser::ValueSource;
        Explicit(
            matches
                .ids()
                .filter(|id| {
                    matches!(
                        matches.value_source(id.as_str()),
                        Some(ValueSource::CommandLine | ValueSource::EnvVariable)
                    )
                })
                .map(|id| id.as_str().to_string())
                .collect(),
        )
    }

    /// True when the argument `id` (its field name) was set.
    pub fn contains(&self, id: &str) -> bool {
        self.0.contains(id)
    }

    /// For tests: these ids, as if given.
    pub fn from_ids(ids: &[&str]) -> Explicit {
        Explicit(ids.iter().map(|s| (*s).to_string()).collect())
    }
}

/// A rate in bytes per second: `1500`, `500K`, `2MB`, `1.5G`, `10KB/s`
/// (base 10, as the monitor prints rates).
pub fn parse_rate(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let t = t.strip_suffix("/s").unwrap_or(t);
    let t = t.strip_suffix(['B', 'b']).unwrap_or(t);
    let (number, scale) = match t.chars().last().map(|c| c.to_ascii_uppercase()) {
        Some('K') => (&t[..t.len() - 1], 1e3),
        Some('M') => (&t[..t.len() - 1], 1e6),
        Some('G') => (&t[..t.len() - 1], 1e9),
        _ => (t, 1.0),
    };
    match number.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v * scale < 1e15 => Ok((v * scale).round() as u64),
        _ => Err(format!(
            "'{s}' is not a rate: use bytes per second, e.g. 500K, 2MB, 1.5G"
        )),
    }
}

/// What clap cannot say about flags that go together: `--interval` with
/// `--duration` only for the stream, the snapshot's flags not with a
/// subcommand, the capture flags not with `history`.
fn check_combinations(
    parsed: &Args,
    matches: &clap::ArgMatches,
    command: &mut clap::Command,
) -> Result<(), clap::Error> {
    // `--interval` paces the monitor and the NDJSON stream; a table
    // snapshot has nothing to pace (clap cannot say "conflicts unless").
    let explicit =
        |id: &str| matches.value_source(id) == Some(clap::parser::ValueSource::CommandLine);
    if explicit("interval") && explicit("duration") && parsed.format != Format::Ndjson {
        return Err(command.error(
            clap::error::ErrorKind::ArgumentConflict,
            "the argument '--interval <SECONDS>' cannot be used with '--duration <SECONDS>' \
                 (except with --format ndjson)",
        ));
    }
    if parsed.command.is_some() {
        if let Some(flag) = [
            "duration",
            "monitor",
            "dns_log",
            "diagnostics",
            "format",
            "filter",
        ]
        .into_iter()
        .find(|id| explicit(id))
        {
            return Err(command.error(
                clap::error::ErrorKind::ArgumentConflict,
                format!(
                    "--{} cannot be used with a subcommand",
                    flag.replace('_', "-")
                ),
            ));
        }
    }
    if matches!(parsed.command, Some(Command::History(_))) {
        // The capture flags are global (serve takes them), but history
        // captures nothing.
        if let Some(flag) = [
            "interface",
            "no_dns",
            "containers",
            "no_events",
            "owners",
            "capture",
            "bpf_buffer",
        ]
        .into_iter()
        .find(|id| explicit(id))
        {
            return Err(command.error(
                clap::error::ErrorKind::ArgumentConflict,
                format!(
                    "--{} is a capture flag: netop history only reads the database",
                    flag.replace('_', "-")
                ),
            ));
        }
    }
    if parsed.dns_log && parsed.format == Format::Ndjson {
        return Err(command.error(
            clap::error::ErrorKind::ArgumentConflict,
            "--dns-log prints a table: use --format tsv, json or pretty",
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------
// netop as a service: `netop serve` and `netop history` (docs/SERVICE.md).
// ---------------------------------------------------------------------

/// Where `serve` writes history and `history` reads it, unless told.
pub const DEFAULT_HISTORY: &str = "/var/lib/netop/history.db";

/// `serve`'s port when `--listen` names an address only.
pub const DEFAULT_PORT: u16 = 9474;

#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address (and port) to serve HTTP on; a non-loopback address also
    /// needs --token-file or --insecure.
    #[arg(long, value_name = "ADDR[:PORT]", default_value = "127.0.0.1:9474",
          value_parser = parse_listen)]
    pub listen: std::net::SocketAddr,

    /// The history database (created with its directory).
    #[arg(long, value_name = "PATH", default_value = DEFAULT_HISTORY)]
    pub history: PathBuf,

    /// Keep per-minute rows this long before folding them into hours
    /// (e.g. 36h, 7d, 2w; at least 1h).
    #[arg(long, value_name = "SPAN", default_value = "7d", value_parser = parse_span)]
    pub keep_minutes: std::time::Duration,

    /// Keep per-hour rows this long (e.g. 90d, 52w; at least 1d).
    #[arg(long, value_name = "SPAN", default_value = "365d", value_parser = parse_span)]
    pub keep_hours: std::time::Duration,

    /// /metrics gives at most N processes (name, user, container) series
    /// of their own, the busiest when a place is free (a process idle for
    /// 10 minutes gives its place up); the others are summed as
    /// process="other".
    #[arg(long, value_name = "N", default_value_t = 50,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub metrics_top: u32,

    /// Once capturing, run as this user (default: netop if it exists,
    /// else nobody), keeping only the capabilities still needed.
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,

    /// Require `Authorization: Bearer TOKEN` on every request, TOKEN
    /// being this file's first line.
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,

    /// Allow a non-loopback --listen without --token-file.
    #[arg(long)]
    pub insecure: bool,
}

#[derive(Debug, Clone, clap::Args)]
pub struct HistoryArgs {
    /// The history database `netop serve` writes.
    #[arg(long, value_name = "PATH", default_value = DEFAULT_HISTORY)]
    pub history: PathBuf,

    /// Start of the period: a duration before now (30m, 24h, 7d), or a
    /// date and time (2026-11-30, 2026-11-30T08:00; local time unless it
    /// ends in Z or an offset).
    #[arg(long, value_name = "WHEN", default_value = "24h")]
    pub since: String,

    /// End of the period (the same forms; default: now).
    #[arg(long, value_name = "WHEN", default_value = "now")]
    pub until: String,

    /// One row per process name, user, container or interface.
    #[arg(long, value_enum, value_name = "GROUPING", default_value_t = Grouping::Process)]
    pub by: Grouping,

    /// Output format, as a snapshot's.
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = HistoryFormat::Tsv)]
    pub format: HistoryFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Grouping {
    Process,
    User,
    Container,
    Interface,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HistoryFormat {
    /// Tab-separated, with a header row.
    Tsv,
    /// A JSON array of objects.
    Json,
    /// A human-readable table with a TOTAL line.
    Pretty,
}

/// `ADDR` or `ADDR:PORT` (IPv6 as `[ADDR]:PORT`).
fn parse_listen(s: &str) -> Result<std::net::SocketAddr, String> {
    if let Ok(addr) = s.parse::<std::net::SocketAddr>() {
        return Ok(addr);
    }
    s.trim_matches(|c| c == '[' || c == ']')
        .parse::<std::net::IpAddr>()
        .map(|ip| std::net::SocketAddr::new(ip, DEFAULT_PORT))
        .map_err(|_| {
            format!("'{s}' is not an address: use e.g. 127.0.0.1, 0.0.0.0:9474 or [::1]:9474")
        })
}

/// A span of hours, days or weeks: `36h`, `7d`, `2w`.
fn parse_span(s: &str) -> Result<std::time::Duration, String> {
    let bad = || format!("'{s}' is not a span: use hours, days or weeks, e.g. 36h, 7d, 2w");
    let t = s.trim();
    let unit = t.chars().last().ok_or_else(bad)?;
    let n: u64 = t[..t.len() - unit.len_utf8()].parse().map_err(|_| bad())?;
    let hours = match unit {
        'h' => n,
        'd' => n.saturating_mul(24),
        'w' => n.saturating_mul(24 * 7),
        _ => return Err(bad()),
    };
    if hours == 0 || hours > 100 * 365 * 24 {
        return Err(format!("{s} is out of range: use 1h to 100 years"));
    }
    Ok(std::time::Duration::from_secs(hours * 3600))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duration_range_is_the_guides() {
        assert_eq!(parse_duration("1"), Ok(1.0));
        assert_eq!(parse_duration("3600.0"), Ok(3600.0));
        assert!(parse_duration("0.5").is_err());
        assert!(parse_duration("3600.5").is_err());
        assert!(parse_duration("NaN").is_err());
        assert!(parse_duration("five").is_err());
    }

    #[test]
    fn interval_range() {
        assert_eq!(parse_interval("0.2"), Ok(0.2));
        assert_eq!(parse_interval("60"), Ok(60.0));
        assert!(parse_interval("0.1").is_err());
        assert!(parse_interval("61").is_err());
    }

    #[test]
    fn interval_paces_only_the_monitor_and_the_stream() {
        let parse = |line: &str| Args::try_parse_layered(line.split_whitespace());
        assert!(parse("netop --duration 3 --interval 2").is_err());
        let stream = parse("netop --format ndjson --duration 3 --interval 2").expect("ndjson");
        assert_eq!(stream.interval, 2.0);
        assert!(parse("netop --interval 2").is_ok());
        assert!(parse("netop --duration 3").is_ok());
    }

    #[test]
    fn service_subcommands_take_the_capture_flags() {
        let parse = |line: &str| Args::try_parse_layered(line.split_whitespace());
        let args =
            parse("netop serve --interface eth0 --listen 0.0.0.0 --token-file /t").expect("serve");
        assert_eq!(args.interface.as_deref(), Some("eth0"));
        match args.command {
            Some(Command::Serve(s)) => {
                assert_eq!(s.listen.port(), DEFAULT_PORT);
                assert_eq!(s.metrics_top, 50);
                assert_eq!(s.keep_minutes, std::time::Duration::from_secs(7 * 86_400));
            }
            other => panic!("not serve: {other:?}"),
        }
        assert!(parse("netop --duration 5 serve").is_err());
        assert!(parse("netop serve --metrics-top 0").is_err());
        assert!(parse("netop serve --listen nowhere").is_err());
        assert!(parse("netop serve --keep-minutes 0h").is_err());
        assert!(parse("netop serve --keep-minutes 7é").is_err());
        assert!(parse("netop serve --keep-minutes é").is_err());
        assert!(parse("netop history --interface eth0").is_err());
        assert!(parse("netop --containers history").is_err());
        let h = parse("netop history --since 7d --by user --format json").expect("history");
        assert!(matches!(
            h.command,
            Some(Command::History(HistoryArgs {
                by: Grouping::User,
                ..
            }))
        ));
    }

    #[test]
    fn rates_read_as_the_monitor_prints_them() {
        assert_eq!(parse_rate("1500"), Ok(1500));
        assert_eq!(parse_rate("500K"), Ok(500_000));
        assert_eq!(parse_rate("2MB"), Ok(2_000_000));
        assert_eq!(parse_rate("1.5G"), Ok(1_500_000_000));
        assert_eq!(parse_rate("10 KB/s"), Ok(10_000));
        assert!(parse_rate("0").is_err());
        assert!(parse_rate("-3K").is_err());
        assert!(parse_rate("fast").is_err());
    }

    #[test]
    fn flags_and_environment_are_explicit_defaults_are_not() {
        let matches = command()
            .try_get_matches_from(["netop", "--sort", "name"])
            .expect("parses");
        let explicit = Explicit::of(&matches);
        assert!(explicit.contains("sort"));
        assert!(!explicit.contains("interval"));
    }

    #[test]
    fn clap_definition_is_consistent() {
        command().debug_assert();
    }

    #[test]
    fn help_lists_the_exit_codes() {
        let help = command().render_long_help().to_string();
        for line in EXIT_CODES.lines() {
            assert!(help.contains(line), "--help lacks {line:?}");
        }
    }
}

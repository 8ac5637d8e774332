//! `cargo xtask`: the project's own commands, in Rust so they need nothing
//! but cargo. They install what the build and the tests need on Debian and
//! Ubuntu (libpcap-dev, iproute2, tcpdump, clang and libbpf-dev for the
//! eBPF event source), so a fresh machine with only
//! Rust runs them as they are.
//!
//! - `cargo xtask test`: everything CI checks: fmt, clippy, the whole test
//!   suite (privileged end-to-end tests included when run as root).
//! - `cargo xtask snapshot [ARGS]`: build and run a 5-second snapshot.
//! - `cargo xtask deps`: only install the system packages.
//! - `cargo xtask bench`: the benchmarks behind docs/PERFORMANCE.md.
//! - `cargo xtask bench-live [ARGS]`: the live-capture benchmark (root).
//! - `cargo xtask dist [--generate] [--profile P] [--source]`: man page and
//!   completions into `packaging/`, then the .deb and .rpm (see `dist.rs`).
//! - `cargo xtask check`: the committed generated files are current.
//! - `cargo xtask fuzz [--seconds N]`: every fuzz target of `fuzz/` for N
//!   seconds (`test` runs it with 10).
//! - `cargo xtask soak [--minutes N] [--wrap CMD] [--serve]`: the monitor
//!   (or `netop serve`) under churn for N minutes, RSS/fds/CPU every 10 s
//!   (root; not part of `test`).
//! - `cargo xtask python [--setup-only|--no-setup]`: the Python package's
//!   tests in a virtual environment (`test` runs them; see `python.rs`).

use std::process::Command;

use anyhow::{bail, Context, Result};

mod bench;
mod dist;
mod fuzz;
mod man;
mod python;
mod soak;
mod summary;

/// Debian packages the build and the tests need.
const PACKAGES: &[&str] = &[
    "libpcap-dev",
    "iproute2",
    "tcpdump",
    "util-linux",
    "libcap2-bin",
    // The monitor's end-to-end test drives netop in a real terminal.
    "tmux",
    // dnsmasq without its service: the DNS observatory's test resolvers.
    "dnsmasq-base",
    // nft: the namespace tests' masquerade NAT.
    "nftables",
    // The VPN test (tests/tunnel.rs): WireGuard in userspace on a tun
    // device, so it runs where the kernel has no WireGuard module.
    "wireguard-tools",
    "wireguard-go",
    // The event source's eBPF program: clang compiles it (build.rs),
    // libbpf-dev has bpf/bpf_helpers.h. Without them netop builds and polls.
    "clang",
    "libbpf-dev",
    // The packaging test (tests/tests/packaging.rs): dpkg-deb and strip for
    // cargo-deb, rpm for `rpm -qlp`, man-db and groff to render the page,
    // bash-completion to drive the completion, ruby for `ruby -c` on the
    // Homebrew formula, passwd for test users.
    "binutils",
    "rpm",
    "man-db",
    "groff",
    "bash-completion",
    "ruby",
    "passwd",
    // `netop serve`'s end-to-end tests (tests/tests/serve.rs): a real
    // Prometheus server scrapes it (the package also has promtool), and a
    // headless Chromium, driven by its chromedriver over WebDriver, uses
    // the dashboard (tests/tests/dashboard.rs).
    "prometheus",
    "chromium",
    "chromium-driver",
    // The pcapng test (tests/tests/power.rs): tshark reads the packet
    // comments netop --write puts in (see PRESEED for its question).
    "tshark",
    // The Python package's tests (bindings/python): a virtual environment
    // with pip (maturin and pytest come from PyPI into it).
    "python3",
    "python3-venv",
];

/// Debconf answers given before installing, so apt-get asks nothing:
/// wireshark-common asks whether non-root users may capture (no: the
/// tests run tshark as root, on files only).
const PRESEED: &[(&str, &str)] = &[(
    "tshark",
    "wireshark-common wireshark-common/install-setuid boolean false\n",
)];

/// Runs the task; an error is one line on stderr (with its causes) and
/// exit code 1, without the backtrace anyhow adds when `RUST_BACKTRACE`
/// is set, so the last lines of a CI run say what failed.
fn main() -> std::process::ExitCode {
    match task() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn task() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let task = args.next().unwrap_or_else(|| "help".to_string());
    let rest: Vec<String> = args.collect();
    match task.as_str() {
        "deps" => deps(PACKAGES),
        "test" => test(),
        "snapshot" => snapshot(&rest),
        "bench" => bench::run(&rest),
        "bench-live" => bench::live(&rest),
        "dist" => dist::dist(&rest),
        "check" => dist::check(),
        "fuzz" => fuzz::cli(&rest),
        "soak" => soak::run(&rest),
        "python" => python::cli(&rest),
        "help" | "--help" | "-h" => {
            println!("usage: cargo xtask <deps|test|check|snapshot [NETOP ARGS]|dist [--generate] [--profile P] [--source]|bench [--quick]|bench-live [--seconds S]|fuzz [--seconds N]|soak [--minutes N] [--wrap CMD] [--serve]|python [--setup-only|--no-setup]>");
            Ok(())
        }
        other => bail!("unknown task {other:?}; try `cargo xtask help`"),
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Runs a command, failing with its name if it fails.
pub(crate) fn run(cmd: &mut Command) -> Result<()> {
    let shown = format!("{cmd:?}");
    eprintln!("xtask: {shown}");
    let status = cmd
        .status()
        .with_context(|| format!("cannot start {shown}"))?;
    if !status.success() {
        bail!("{shown} failed with {status}");
    }
    Ok(())
}

/// Installs the packages that are missing (with sudo when not root).
pub(crate) fn deps(packages: &[&str]) -> Result<()> {
    let missing: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|p| {
            !Command::new("dpkg-query")
                .args(["-W", "-f=${Status}", p])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
                .unwrap_or(false)
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if Command::new("apt-get").arg("--version").output().is_err() {
        bail!("missing system packages {missing:?} and no apt-get here: install them by hand");
    }
    let sudo = |args: &[&str]| {
        let mut c = if is_root() {
            Command::new(args[0])
        } else {
            let mut c = Command::new("sudo");
            c.arg(args[0]);
            c
        };
        c.args(&args[1..]).env("DEBIAN_FRONTEND", "noninteractive");
        c
    };
    run(&mut sudo(&["apt-get", "update", "-qq"]))?;
    for (package, answers) in PRESEED {
        if missing.contains(package) {
            preseed(&mut sudo(&["debconf-set-selections"]), answers)?;
        }
    }
    let mut install = vec!["apt-get", "install", "-y", "-qq", "--no-install-recommends"];
    install.extend(&missing);
    run(&mut sudo(&install))
}

/// Feeds `answers` to `debconf-set-selections` (the command) on stdin.
fn preseed(cmd: &mut Command, answers: &str) -> Result<()> {
    use std::io::Write as _;
    let mut child = cmd.stdin(std::process::Stdio::piped()).spawn()?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(answers.as_bytes())?;
    }
    let status = child.wait()?;
    if !status.success() {
        bail!("debconf-set-selections failed: {status}");
    }
    Ok(())
}

pub(crate) fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string()))
}

fn test() -> Result<()> {
    deps(PACKAGES)?;
    run(cargo().args(["fmt", "--all", "--check"]))?;
    dist::check()?;
    run(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    // The end-to-end tests run the built binary, so build it first.
    run(cargo().args(["build", "--workspace", "--bins"]))?;
    // Every test with netop's default counting (in the kernel where it
    // can run, as here), then the attribution suites again with every
    // packet through libpcap: issue 17 holds both paths to the same truths.
    let tests = summary::run(cargo().args(["test", "--workspace", "--no-fail-fast"]))?;
    let mut pcap = cargo();
    pcap.env("NETOP_CAPTURE", "pcap")
        .args(["test", "--package", "netop-e2e", "--no-fail-fast"]);
    for suite in PCAP_PASS {
        pcap.args(["--test", suite]);
    }
    let pcap = summary::run(&mut pcap)?;
    // The Python package's tests, then fuzzing, run even when a test
    // failed, so one run reports all of them; then the failed tests are
    // named again, since CI shows only the run's last lines.
    let python = python::setup().and_then(|()| python::pytest());
    let fuzzing = fuzz::run(fuzz::TEST_SECONDS);
    if let Err(e) = &python {
        println!("xtask: the Python tests failed: {e:#}");
    }
    if let Err(e) = &fuzzing {
        println!("xtask: fuzzing failed: {e:#}");
    }
    summary::finish(&[("main", &tests), ("pcap", &pcap)])?;
    python?;
    fuzzing
}

/// The end-to-end suites that check attribution against known truths,
/// run a second time with `--capture pcap` (`NETOP_CAPTURE`).
const PCAP_PASS: &[&str] = &[
    "attribution",
    "containers",
    "dns",
    "events",
    "handoff",
    "library",
    "namespaces",
    "once",
    "tracepoint",
    "tunnel",
    "unknown",
];

fn snapshot(rest: &[String]) -> Result<()> {
    deps(PACKAGES)?;
    run(cargo().args(["build", "--release", "--package", "netop"]))?;
    let bin = std::path::Path::new("target/release/netop");
    let mut args: Vec<String> = rest.to_vec();
    if !args.iter().any(|a| a.starts_with("--duration")) {
        args.extend(["--duration".to_string(), "5".to_string()]);
    }
    let mut cmd = if is_root() {
        Command::new(bin)
    } else {
        let mut c = Command::new("sudo");
        c.arg(bin);
        c
    };
    run(cmd.args(&args))
}

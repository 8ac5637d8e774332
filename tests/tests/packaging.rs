//! Issue 13: the distribution packages, built and installed for real.
//!
//! `cargo xtask dist --profile <this build's>` makes the .deb and .rpm of
//! the binary under test (a debug build in `cargo xtask test`: no release
//! build in CI). The .deb is installed with dpkg; then the man page, the
//! bash completion, the file capabilities, a member of the group `netop`
//! capturing its own loopback traffic without sudo, a non-member being
//! refused, and a purge that leaves nothing. The .rpm must hold the same
//! files and shell-clean scriptlets; the Homebrew formula and the PKGBUILD
//! must parse. Everything the test adds to the system (package, users,
//! group) is removed on Drop, also when it fails.
//!
//! Not root: skipped, or a failure when `CI` is set.
#![cfg(target_os = "linux")]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use netop_e2e::begin;
use netop_e2e::child::{Done, Proc};
use netop_e2e::netop::{netop_bin, UsageRow};
use netop_e2e::package::{checked, output, InstalledDeb};
use netop_e2e::scratch::ScratchDir;

/// Every capability the packages give, as getcap names them.
const CAPS: [&str; 6] = [
    "cap_net_raw",
    "cap_net_admin",
    "cap_bpf",
    "cap_perfmon",
    "cap_sys_ptrace",
    "cap_dac_read_search",
];

/// Loopback ports of the member's own traffic.
const SINK_PORT: u16 = 47_613;
const STREAM_PORT: u16 = 47_614;
/// Bytes per second the member's stream sends, for one second.
const RATE: u64 = 200_000;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// Builds the .deb and .rpm of the binary under test with `cargo xtask
/// dist`; returns (deb, rpm).
fn build_packages() -> (PathBuf, PathBuf) {
    let bin = netop_bin().expect("netop binary");
    let profile_dir = bin.parent().expect("profile directory");
    let target = profile_dir.parent().expect("target directory");
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => "dev",
        Some(other) => other,
        None => panic!("no profile in {}", bin.display()),
    };
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let status = Command::new(cargo)
        .current_dir(root())
        .env("CARGO_TARGET_DIR", target)
        .args(["run", "--quiet", "--package", "xtask", "--", "dist"])
        .args(["--profile", profile])
        .status()
        .expect("run cargo xtask dist");
    assert!(status.success(), "cargo xtask dist failed: {status}");
    let out = target.join("packages").join(profile);
    let find = |ext: &str| -> PathBuf {
        let mut found: Vec<PathBuf> = std::fs::read_dir(&out)
            .expect("dist directory")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == ext))
            .collect();
        assert_eq!(found.len(), 1, "one .{ext} in {}: {found:?}", out.display());
        found.remove(0)
    };
    (find("deb"), find("rpm"))
}

/// Files (not directories) of the .deb, as installed paths.
fn deb_files(deb: &Path) -> BTreeSet<String> {
    let list = checked("dpkg-deb", &["-c", deb.to_str().expect("utf-8")]).expect("dpkg-deb -c");
    list.lines()
        .filter(|l| !l.starts_with('d'))
        .filter_map(|l| l.split_whitespace().nth(5))
        .map(|p| p.trim_start_matches('.').to_string())
        .collect()
}

/// The .deb's file list in the .rpm's terms: the man page uncompressed,
/// zsh's directory as Fedora names it, and without the Debian copyright
/// file (the rpm marks the licences as documentation instead).
fn as_rpm_would(deb: &BTreeSet<String>) -> BTreeSet<String> {
    deb.iter()
        .filter(|p| *p != "/usr/share/doc/netop/copyright")
        .map(|p| {
            p.trim_end_matches(".gz").replace(
                "/usr/share/zsh/vendor-completions/",
                "/usr/share/zsh/site-functions/",
            )
        })
        .collect()
}

/// `program` run as `user` with the user's own groups (as a login gives).
///
/// Through `sh`, which then `exec`s the program in the same process (so
/// the PID is the program's): setpriv keeps root's capabilities until its
/// own exec, so a program it started directly would pass the permission
/// check on a mode-0750 file that the user itself would fail.
fn as_user(user: &str, program: &Path) -> Command {
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid", user, "--regid", user, "--init-groups"])
        .args(["/bin/sh", "-c", "exec \"$0\" \"$@\""])
        .arg(program)
        .env_remove("RUST_LOG");
    cmd
}

#[test]
fn deb_installs_a_netop_that_group_members_run_without_sudo() {
    let Some(_session) = begin().expect("privileged session") else {
        return;
    };
    netop_e2e::install_package("rpm", "rpm", "--version").expect("rpm");
    let (deb, rpm) = build_packages();
    let files = deb_files(&deb);

    // The .rpm: the same files, scriptlets that parse.
    let rpm_files: BTreeSet<String> = checked("rpm", &["-qlp", rpm.to_str().expect("utf-8")])
        .expect("rpm -qlp")
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(
        rpm_files,
        as_rpm_would(&files),
        "the .rpm and the .deb differ"
    );
    let scripts =
        checked("rpm", &["-qp", "--scripts", rpm.to_str().expect("utf-8")]).expect("--scripts");
    // `rpm --scripts` prints each scriptlet under a header line such as
    // "postinstall scriptlet (using /bin/sh):" or "postinstall scriptlet:".
    let is_header = |l: &str| {
        l.ends_with(':')
            && l.split_whitespace()
                .nth(1)
                .is_some_and(|w| w.trim_end_matches(':') == "scriptlet")
    };
    let mut bodies: Vec<String> = Vec::new();
    for line in scripts.lines() {
        if is_header(line) {
            bodies.push(String::new());
        } else if let Some(body) = bodies.last_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    for body in &bodies {
        let mut check = Command::new("bash")
            .arg("-n")
            .stdin(std::process::Stdio::piped())
            .spawn()
            .expect("bash -n");
        use std::io::Write;
        check
            .stdin
            .take()
            .expect("stdin")
            .write_all(body.as_bytes())
            .expect("write scriptlet");
        assert!(
            check.wait().expect("bash -n").success(),
            "scriptlet: {body}"
        );
    }
    assert_eq!(
        bodies.len(),
        3,
        "pre, post and preun scriptlets:\n{scripts}"
    );

    // The .deb, installed.
    let mut installed = InstalledDeb::install(&deb).expect("dpkg -i");
    let page = checked("man", &["-w", "netop"]).expect("man -w netop");
    assert_eq!(page.trim(), "/usr/share/man/man1/netop.1.gz");
    let roff = checked("sh", &["-c", "zcat /usr/share/man/man1/netop.1.gz"]).expect("zcat");
    let groff = Command::new("sh")
        .args([
            "-c",
            "zcat /usr/share/man/man1/netop.1.gz | groff -ww -man -Tutf8 -z",
        ])
        .output()
        .expect("groff");
    assert!(
        groff.status.success() && groff.stderr.is_empty(),
        "groff -ww: {groff:?}"
    );
    let rendered = Command::new("man")
        .args(["-l", "/usr/share/man/man1/netop.1.gz"])
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "200")
        .env("MANROFFOPT", "-ww")
        .output()
        .expect("man -l");
    assert!(
        rendered.status.success() && rendered.stderr.is_empty(),
        "man -l: {rendered:?}"
    );
    let rendered = String::from_utf8_lossy(&rendered.stdout);
    let help = checked("/usr/bin/netop", &["--help"]).expect("netop --help");
    let flags: BTreeSet<&str> = help
        .split_whitespace()
        .filter(|w| w.starts_with("--") && w.len() > 2)
        .map(|w| w.trim_end_matches([',', ')', '.']))
        .filter(|w| w[2..].chars().all(|c| c.is_ascii_lowercase() || c == '-'))
        .collect();
    assert!(flags.len() >= 15, "{flags:?}");
    for flag in &flags {
        assert!(rendered.contains(flag), "the man page lacks {flag}");
    }
    assert!(
        roff.contains(".SH \"EXIT STATUS\""),
        "no EXIT STATUS section"
    );

    // Bash completion, loaded by bash-completion as an interactive shell would.
    let completed = checked(
        "bash",
        &[
            "-c",
            r#"source /usr/share/bash-completion/bash_completion
_completion_loader netop
func=$(complete -p netop | sed -n 's/.*-F \([^ ]*\) .*/\1/p')
COMP_WORDS=(netop --form); COMP_CWORD=1; COMP_LINE="netop --form"; COMP_POINT=${#COMP_LINE}
"$func" netop --form netop
printf '%s\n' "${COMPREPLY[@]}""#,
        ],
    )
    .expect("bash completion");
    assert_eq!(
        completed.split_whitespace().collect::<Vec<_>>(),
        ["--format"]
    );

    // The binary: root:netop, 0750, with exactly the documented capabilities.
    let stat = checked("stat", &["-c", "%U:%G %a", "/usr/bin/netop"]).expect("stat");
    assert_eq!(stat.trim(), "root:netop 750");
    let getcap = checked("getcap", &["/usr/bin/netop"]).expect("getcap");
    let granted = getcap
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .trim_end_matches("=ep");
    let granted: BTreeSet<&str> = granted.split(',').collect();
    assert_eq!(granted, CAPS.into_iter().collect(), "getcap: {getcap}");
    assert!(getcap.trim_end().ends_with("=ep"), "{getcap}");

    // A member of the group captures its own loopback traffic, no sudo.
    installed.add_user("netop-t-member", true).expect("member");
    installed.add_user("netop-t-other", false).expect("other");
    let scratch = ScratchDir::new("package").expect("scratch");
    let trafficgen = scratch.path().join("trafficgen");
    std::fs::copy(env!("CARGO_BIN_EXE_trafficgen"), &trafficgen).expect("copy trafficgen");
    set_mode(scratch.path(), 0o755);
    set_mode(&trafficgen, 0o755);

    let diagnostics = as_user("netop-t-member", Path::new("/usr/bin/netop"))
        .arg("--diagnostics")
        .output()
        .expect("diagnostics");
    let diagnostics = String::from_utf8_lossy(&diagnostics.stdout);
    assert!(
        diagnostics.contains("capture: permitted (file capabilities)")
            && diagnostics.contains("other users' processes: visible (file capabilities)"),
        "{diagnostics}"
    );

    let mut sink = as_user("netop-t-member", &trafficgen);
    sink.args(["sink", "--listen", &format!("127.0.0.1:{SINK_PORT}")])
        .args(["--seconds", "10", "--conns", "1"]);
    let mut sink = Proc::spawn("sink", sink).expect("sink");
    sink.expect_line("ready", Duration::from_secs(5))
        .expect("sink ready");
    let mut stream = as_user("netop-t-member", &trafficgen);
    stream
        .args(["stream", "--to", &format!("127.0.0.1:{SINK_PORT}")])
        .args(["--bind-port", &STREAM_PORT.to_string()])
        .args(["--rate", &RATE.to_string(), "--seconds", "1"]);
    let mut stream = Proc::spawn("stream", stream).expect("stream");
    stream
        .expect_line("ready", Duration::from_secs(5))
        .expect("stream ready");

    let mut netop = as_user("netop-t-member", Path::new("/usr/bin/netop"));
    netop.args(["--duration", "2", "--format", "json", "--interface", "lo"]);
    let mut netop = Proc::spawn("netop", netop).expect("netop");
    netop
        .wait_capturing(Duration::from_secs(10))
        .expect("the member's netop captures");
    stream.send_line("go").expect("go");
    let done = Done::parse(
        &stream
            .expect_line("done", Duration::from_secs(10))
            .expect("stream done"),
    )
    .expect("done line");
    let sent = done.get("sent");
    // The payload plus the 8-byte length header of trafficgen's framing.
    assert!(sent >= RATE, "{}", stream.describe());
    let status = netop
        .wait_exit(Duration::from_secs(10))
        .expect("netop exits");
    let stdout = netop.stdout(Duration::from_secs(1));
    assert!(status.success(), "{}", netop.describe());
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    let rows = UsageRow::from_json(&json).expect("rows");
    let row = |pid: u32| rows.iter().find(|r| r.pid == Some(pid));
    let sender = row(stream.pid()).unwrap_or_else(|| panic!("no row for the stream: {rows:?}"));
    let receiver = row(sink.pid()).unwrap_or_else(|| panic!("no row for the sink: {rows:?}"));
    // Wire bytes: the payload plus headers (at most 100 bytes a segment).
    let limit = sent + sent / 10 + 10_000;
    for (who, bytes) in [
        ("stream tx", sender.tx_bytes),
        ("sink rx", receiver.rx_bytes),
    ] {
        assert!(
            (sent..=limit).contains(&bytes),
            "{who}: {bytes} bytes for {sent} sent: {rows:?}"
        );
    }

    // A user outside the group cannot even execute it.
    let refused = as_user("netop-t-other", Path::new("/usr/bin/netop"))
        .args(["--duration", "1", "--interface", "lo"])
        .output()
        .expect("other user");
    assert!(!refused.status.success(), "{refused:?}");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("Permission denied"), "{stderr}");

    // Purge: no file and no capability left.
    installed.purge().expect("dpkg --purge");
    for file in &files {
        let installed_path = file.trim_end_matches(".gz");
        assert!(
            !Path::new(file).exists() && !Path::new(installed_path).exists(),
            "{file} is still there after the purge"
        );
    }
    let left = output("getcap", &["-r", "/usr/bin"]).expect("getcap -r");
    assert!(!String::from_utf8_lossy(&left.stdout).contains("netop"));
    assert!(output("dpkg", &["-s", "netop"]).is_ok_and(|o| !o.status.success()));
    drop(sink);
}

#[test]
fn homebrew_formula_and_pkgbuild_parse() {
    let Some(_session) = begin().expect("privileged session") else {
        return;
    };
    netop_e2e::install_package("ruby", "ruby", "--version").expect("ruby");
    let formula = root().join("packaging/homebrew/netop.rb");
    let ruby = checked("ruby", &["-c", formula.to_str().expect("utf-8")]).expect("ruby -c");
    assert_eq!(ruby.trim(), "Syntax OK");
    for recipe in ["packaging/aur/PKGBUILD", "packaging/aur/netop.install"] {
        let path = root().join(recipe);
        checked("bash", &["-n", path.to_str().expect("utf-8")]).expect("bash -n");
    }
    if output("namcap", &["--version"]).is_ok() {
        let pkgbuild = root().join("packaging/aur/PKGBUILD");
        checked("namcap", &[pkgbuild.to_str().expect("utf-8")]).expect("namcap");
    } else {
        eprintln!("namcap is not packaged for Debian: PKGBUILD checked with bash -n only");
    }
    for script in ["packaging/deb/postinst", "packaging/deb/prerm"] {
        let path = root().join(script);
        checked("sh", &["-n", path.to_str().expect("utf-8")]).expect("sh -n");
    }
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

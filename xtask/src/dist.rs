//! `cargo xtask dist` and `cargo xtask check`: what a release ships.
//!
//! `dist` writes the man page and the shell completions from the clap
//! definitions (`netop-cli`) into `packaging/` (committed, so the source
//! tarball that Homebrew and the AUR build from has them), builds netop,
//! and makes the .deb (cargo-deb) and the .rpm (cargo-generate-rpm) in
//! `target/packages/<profile>/`, from the `dist` profile (release without
//! debug info) unless `--profile` names another. `--profile dev` packages
//! the debug build (the packaging test does, to spare CI a release build;
//! cargo-deb warns that it does not like dev profiles, and the pinned
//! version still makes them).
//! `--source` also makes the source tarball and writes its sha256 into the
//! Homebrew formula and the PKGBUILD. `check` fails when a
//! committed generated file is stale or a package recipe states another
//! version than Cargo.toml.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::{cargo, run};

/// cargo-deb and cargo-generate-rpm, pinned (installed with `--locked`
/// when missing).
pub const TOOLS: &[(&str, &str)] = &[("cargo-deb", "3.8.0"), ("cargo-generate-rpm", "0.21.1")];

/// The file capabilities the packages give /usr/bin/netop (docs/PACKAGING.md
/// says why each one): every install script must state this very set.
pub const CAPS: &str =
    "cap_net_raw,cap_net_admin,cap_bpf,cap_perfmon,cap_sys_ptrace,cap_dac_read_search=ep";

/// The scripts that set the capabilities.
const CAP_SCRIPTS: &[&str] = &[
    "packaging/deb/postinst",
    "packaging/rpm/post",
    "packaging/aur/netop.install",
];

/// The Homebrew formula and the AUR recipe, which state the version.
const FORMULA: &str = "packaging/homebrew/netop.rb";
const PKGBUILD: &str = "packaging/aur/PKGBUILD";

/// Every generated file, by its path in the repository, and its content.
pub fn generated() -> Result<Vec<(PathBuf, Vec<u8>)>> {
    use netop_cli::Shell;
    let mut files = vec![(
        PathBuf::from("packaging/man/netop.1"),
        crate::man::render()?.into_bytes(),
    )];
    for shell in netop_cli::SHELLS {
        let name = match shell {
            Shell::Bash => "netop.bash",
            Shell::Zsh => "_netop",
            Shell::Fish => "netop.fish",
            Shell::Elvish => "netop.elv",
            Shell::PowerShell => "_netop.ps1",
            other => bail!("no file name for {other} completions"),
        };
        files.push((
            Path::new("packaging/completions").join(name),
            netop_cli::completions(shell),
        ));
    }
    Ok(files)
}

/// The workspace's version, as netop-cli (and so `netop --version`) has it.
pub fn version() -> String {
    netop_cli::command()
        .get_version()
        .unwrap_or_default()
        .to_string()
}

/// `cargo xtask check`: generated files and stated versions are current.
pub fn check() -> Result<()> {
    let root = workspace_root();
    let mut stale = Vec::new();
    for (path, content) in generated()? {
        let on_disk = std::fs::read(root.join(&path)).unwrap_or_default();
        if on_disk != content {
            stale.push(path.display().to_string());
        }
    }
    if !stale.is_empty() {
        bail!(
            "generated files are stale: {}; run `cargo xtask dist --generate` and commit them",
            stale.join(", ")
        );
    }
    let version = version();
    for (recipe, needle) in [
        (FORMULA, format!("netop-{version}.tar.gz")),
        (PKGBUILD, format!("pkgver={version}\n")),
    ] {
        let text = std::fs::read_to_string(root.join(recipe))
            .with_context(|| format!("cannot read {recipe}"))?;
        if !text.contains(&needle) {
            bail!("{recipe} does not state version {version} (looked for {needle:?}); update it with Cargo.toml's");
        }
    }
    for script in CAP_SCRIPTS {
        let text = std::fs::read_to_string(root.join(script))
            .with_context(|| format!("cannot read {script}"))?;
        if !text.contains(&format!("CAPS=\"{CAPS}\"")) {
            bail!("{script} does not set the capabilities {CAPS} (xtask/src/dist.rs CAPS)");
        }
    }
    eprintln!(
        "xtask: generated files, package versions and capability sets are current ({version})"
    );
    Ok(())
}

/// `cargo xtask dist [--generate] [--profile P] [--source]`.
pub fn dist(args: &[String]) -> Result<()> {
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--generate" | "--source" => {}
            "--profile" if rest.next().is_some() => {}
            other => bail!("cargo xtask dist: unknown or incomplete argument {other:?}; usage: cargo xtask dist [--generate] [--profile P] [--source]"),
        }
    }
    let root = workspace_root();
    for (path, content) in generated()? {
        let path = root.join(path);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&path, content).with_context(|| format!("writing {}", path.display()))?;
    }
    eprintln!("xtask: wrote packaging/man and packaging/completions");
    if args.iter().any(|a| a == "--generate") {
        return Ok(());
    }
    let profile = flag_value(args, "--profile").unwrap_or_else(|| "dist".to_string());
    let out = target_dir().join("packages").join(&profile);
    std::fs::create_dir_all(&out)?;
    crate::deps(crate::PACKAGES)?;
    install_tools()?;
    run(cargo().current_dir(&root).args([
        "build",
        "--locked",
        "--package",
        "netop",
        "--profile",
        &profile,
    ]))?;
    run(cargo()
        .current_dir(&root)
        .args([
            "deb",
            "--package",
            "netop",
            "--no-build",
            "--profile",
            &profile,
            "--strip",
            "--output",
        ])
        .arg(&out)
        .args(fast_for(&profile)))?;
    run(cargo()
        .current_dir(&root)
        .args([
            "generate-rpm",
            "--package",
            "crates/netop",
            "--profile",
            &profile,
        ])
        .args(rpm_payload_for(&profile))
        .arg("--output")
        .arg(&out))?;
    if args.iter().any(|a| a == "--source") {
        source_tarball(&root, &out)?;
    }
    eprintln!("xtask: packages in {}", out.display());
    Ok(())
}

/// A development build's .deb compresses fast (cargo-deb strips its
/// binary; the package is the test's, not a user's).
fn fast_for(profile: &str) -> &'static [&'static str] {
    if is_development(profile) {
        &["--fast"]
    } else {
        &[]
    }
}

/// A development build's .rpm is not compressed: cargo-generate-rpm does
/// not strip, and zstd on the 100 MB debug binary took over a minute of CPU.
fn rpm_payload_for(profile: &str) -> &'static [&'static str] {
    if is_development(profile) {
        &["--payload-compress", "none"]
    } else {
        &[]
    }
}

fn is_development(profile: &str) -> bool {
    matches!(profile, "dev" | "test")
}

fn flag_value(args: &[String], flag: &str) -> Option<String> {
    let at = args.iter().position(|a| a == flag)?;
    args.get(at + 1).cloned()
}

/// Installs cargo-deb and cargo-generate-rpm when they are missing.
pub fn install_tools() -> Result<()> {
    for (tool, version) in TOOLS {
        let sub = tool.trim_start_matches("cargo-");
        let present = cargo()
            .args([sub, "--version"])
            .output()
            .is_ok_and(|o| o.status.success());
        if !present {
            // In a temporary target directory of its own, not the workspace's.
            run(cargo().env_remove("CARGO_TARGET_DIR").args([
                "install",
                "--locked",
                tool,
                "--version",
                version,
            ]))?;
        }
    }
    Ok(())
}

/// `git archive` of HEAD as `netop-VERSION.tar.gz`, and its sha256 in the
/// formula and the PKGBUILD.
fn source_tarball(root: &Path, out: &Path) -> Result<()> {
    let version = version();
    let name = format!("netop-{version}.tar.gz");
    let tarball = out.join(&name);
    run(Command::new("git")
        .current_dir(root)
        .args(["archive", "--format=tar.gz"])
        .arg(format!("--prefix=netop-{version}/"))
        .arg("-o")
        .arg(&tarball)
        .arg("HEAD"))?;
    let sum = Command::new("sha256sum")
        .arg(&tarball)
        .output()
        .context("running sha256sum")?;
    let sum = String::from_utf8_lossy(&sum.stdout);
    let sum = sum.split_whitespace().next().context("no sha256")?;
    replace_line(
        &root.join(FORMULA),
        "  sha256 ",
        &format!("  sha256 \"{sum}\""),
    )?;
    replace_line(
        &root.join(PKGBUILD),
        "sha256sums=",
        &format!("sha256sums=('{sum}')"),
    )?;
    eprintln!("xtask: {name} sha256 {sum} (written into {FORMULA} and {PKGBUILD})");
    Ok(())
}

fn replace_line(path: &Path, prefix: &str, line: &str) -> Result<()> {
    let text = std::fs::read_to_string(path)?;
    let mut replaced = false;
    let new: Vec<String> = text
        .lines()
        .map(|l| {
            if !replaced && l.starts_with(prefix) {
                replaced = true;
                line.to_string()
            } else {
                l.to_string()
            }
        })
        .collect();
    if !replaced {
        bail!("{} has no line starting with {prefix:?}", path.display());
    }
    std::fs::write(path, new.join("\n") + "\n")?;
    Ok(())
}

/// The repository's root (xtask's manifest is one level down).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

//! Fake container cgroups: directories shaped like a container runtime's
//! (Docker's `docker/<id>` in a cgroup v1 hierarchy, its
//! `system.slice/docker-<id>.scope` under cgroup v2), processes moved into
//! them, and everything removed again on Drop.
//!
//! Only directories this module created are removed: a real runtime's
//! `docker` or `system.slice` directory stays as it was. Ids start with
//! [`MARK`], so the empty leftovers of a killed run are recognised (and
//! removed by the next run); a real container's id starts so with a
//! chance of one in four billion, and a cgroup holding processes cannot be
//! removed anyway.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;

/// The first hex digits of every id made here.
pub const MARK: &str = "e2e0e2e0";

/// A 64-hex-digit container id starting with [`MARK`], the rest random.
pub fn random_id() -> anyhow::Result<String> {
    let mut bytes = [0u8; 28];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .context("reading /dev/urandom")?;
    let rest: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("{MARK}{rest}"))
}

/// Where the cgroup v1 hierarchy with `controller` is mounted, if any.
pub fn v1_mount(controller: &str) -> Option<PathBuf> {
    mounts().find_map(|(point, fstype, options)| {
        (fstype == "cgroup" && options.split(',').any(|o| o == controller)).then_some(point)
    })
}

/// Where the cgroup v2 hierarchy is mounted, if any.
pub fn v2_mount() -> Option<PathBuf> {
    mounts().find_map(|(point, fstype, _)| (fstype == "cgroup2").then_some(point))
}

/// (mount point, type, options) of `/proc/self/mounts`.
fn mounts() -> impl Iterator<Item = (PathBuf, String, String)> {
    let text = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    let rows: Vec<_> = text
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            Some((
                PathBuf::from(f.get(1)?),
                f.get(2)?.to_string(),
                f.get(3)?.to_string(),
            ))
        })
        .collect();
    rows.into_iter()
}

/// One cgroup directory made for a test, removed on Drop.
#[derive(Debug)]
pub struct FakeCgroup {
    /// The hierarchy's mount point; processes left inside go back here.
    root: PathBuf,
    dir: PathBuf,
    /// Parents this guard created, innermost first.
    created: Vec<PathBuf>,
}

impl FakeCgroup {
    /// Creates `root/relative` (and the parents it lacks). The last
    /// component must contain [`MARK`], so a stale one can be told apart.
    pub fn create(root: &Path, relative: &str) -> anyhow::Result<Self> {
        let dir = root.join(relative);
        let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("");
        anyhow::ensure!(name.contains(MARK), "{relative}: not a test cgroup name");
        let mut created = Vec::new();
        let mut missing: Vec<&Path> = dir
            .ancestors()
            .skip(1)
            .take_while(|p| *p != root && !p.exists())
            .collect();
        missing.reverse();
        for parent in missing {
            std::fs::create_dir(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
            created.insert(0, parent.to_path_buf());
        }
        let guard = FakeCgroup {
            root: root.to_path_buf(),
            dir: dir.clone(),
            created,
        };
        if let Some(parent) = dir.parent() {
            remove_stale(parent);
        }
        std::fs::create_dir(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(guard)
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Moves `pid` into this cgroup.
    pub fn add(&self, pid: u32) -> anyhow::Result<()> {
        let procs = self.dir.join("cgroup.procs");
        std::fs::write(&procs, pid.to_string())
            .with_context(|| format!("writing {pid} to {}", procs.display()))
    }
}

impl Drop for FakeCgroup {
    fn drop(&mut self) {
        // A cgroup with processes cannot be removed: move any still there
        // (a test that failed before its processes ended) back to the root.
        // Bounded: 50 tries, 20 ms apart.
        for _ in 0..50 {
            if !self.dir.exists() {
                break;
            }
            let procs = std::fs::read_to_string(self.dir.join("cgroup.procs")).unwrap_or_default();
            for pid in procs.split_whitespace() {
                let _ = std::fs::write(self.root.join("cgroup.procs"), pid);
            }
            if std::fs::remove_dir(&self.dir).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        if self.dir.exists() {
            eprintln!("could not remove the test cgroup {}", self.dir.display());
        }
        for parent in &self.created {
            let _ = std::fs::remove_dir(parent);
        }
    }
}

/// Removes empty test cgroups a killed run left in `parent`.
fn remove_stale(parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let stale = name.starts_with(MARK) || name.starts_with(&format!("docker-{MARK}"));
        if stale && entry.path().is_dir() {
            // Fails, harmlessly, while processes are inside.
            let _ = std::fs::remove_dir(entry.path());
        }
    }
}

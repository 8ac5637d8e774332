//! Container identity from a process's cgroup: which runtime started it,
//! and its name or short id.
//!
//! Text in (the content of `/proc/PID/cgroup`), a [`Container`] out; the
//! backend does the reading. Container runtimes name the cgroups they make
//! in a few known shapes (Docker, Podman, containerd and Kubernetes, CRI-O,
//! LXC, systemd-nspawn), under cgroup v1 hierarchies and the v2 `0::`
//! line alike. Anything else, including the host's own slices
//! (`/user.slice/...`, `/`), is no container. When a path holds several
//! shapes (a container inside a container), the outermost one wins: that is
//! the container the host knows. Unknown or malformed text gives `None`,
//! never a panic.

pub use crate::socket::Container;

/// Container ids are shortened to this many characters, as `docker ps`
/// shows them.
pub const SHORT_ID: usize = 12;

/// The container of the process whose `/proc/PID/cgroup` reads `text`
/// (lines `hierarchy-id:controllers:path`), or `None` when it runs in none.
pub fn parse_cgroup(text: &str) -> Option<Container> {
    text.lines().find_map(|line| {
        let mut fields = line.splitn(3, ':');
        let (_hierarchy, _controllers) = (fields.next()?, fields.next()?);
        container_of_path(fields.next()?.trim_end())
    })
}

/// The container one cgroup path names, if any.
pub fn container_of_path(path: &str) -> Option<Container> {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let kubepods = parts.iter().any(|p| p.contains("kubepods"));
    parts.iter().enumerate().find_map(|(i, part)| {
        let next = parts.get(i + 1).copied();
        let previous = i.checked_sub(1).and_then(|p| parts.get(p)).copied();
        directory(part, next)
            .or_else(|| scope(part))
            .or_else(|| kubernetes(part, previous, kubepods))
    })
}

/// Shapes where a runtime's directory holds one directory per container:
/// `docker/<id>` (cgroupfs driver), `lxc/<name>`, `lxc.payload/<name>`.
fn directory(part: &str, next: Option<&str>) -> Option<Container> {
    let next = next?;
    match part {
        "docker" if is_id(next) => container("docker", short(next)),
        "lxc" | "lxc.payload" => container("lxc", next),
        _ => None,
    }
}

/// Shapes where one path component names the container:
/// `docker-<id>.scope`, `libpod-<id>.scope`, `lxc.payload.<name>`, ...
fn scope(part: &str) -> Option<Container> {
    if let Some(name) = part.strip_prefix("lxc.payload.") {
        return container("lxc", name);
    }
    if let Some(name) = part
        .strip_prefix("systemd-nspawn@")
        .and_then(|p| p.strip_suffix(".service"))
    {
        return container("nspawn", &unescape(name));
    }
    if let Some(name) = part
        .strip_prefix("machine-")
        .and_then(|p| p.strip_suffix(".scope"))
    {
        // systemd-nspawn and machinectl register `machine-<name>.scope`;
        // libvirt's virtual machines use the same slice.
        let name = unescape(name);
        let runtime = if name.starts_with("qemu-") {
            "libvirt"
        } else {
            "nspawn"
        };
        return container(runtime, &name);
    }
    // Conmon, the runtimes' monitor process, has a scope of its own
    // (`libpod-conmon-<id>.scope`, `crio-conmon-<id>.scope`); it runs on
    // the host's side, in no container.
    let unit = part.strip_suffix(".scope").unwrap_or(part);
    let (runtime, id) = [
        ("docker-", "docker"),
        ("libpod-", "podman"),
        ("cri-containerd-", "containerd"),
        ("crio-", "crio"),
        ("nerdctl-", "containerd"),
    ]
    .into_iter()
    .find_map(|(prefix, runtime)| Some((runtime, unit.strip_prefix(prefix)?)))?;
    is_id(id).then(|| container(runtime, short(id)))?
}

/// Kubernetes with the cgroupfs driver: `kubepods/<qos>/pod<uid>/<id>`,
/// the container id bare under its pod's directory. The runtime is not in
/// the path (CRI-O prefixes its ids, see [`scope`]); containerd is
/// today's default.
fn kubernetes(part: &str, previous: Option<&str>, kubepods: bool) -> Option<Container> {
    let under_pod = previous.is_some_and(|p| p.starts_with("pod"));
    (kubepods && under_pod && is_id(part)).then(|| container("containerd", short(part)))?
}

fn container(runtime: &str, name: &str) -> Option<Container> {
    (!name.is_empty()).then(|| Container {
        runtime: runtime.to_string(),
        name: name.to_string(),
    })
}

/// A runtime's container id: at least [`SHORT_ID`] hex digits.
fn is_id(s: &str) -> bool {
    s.len() >= SHORT_ID && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The first [`SHORT_ID`] characters of an id ([`is_id`] makes it ASCII).
fn short(id: &str) -> &str {
    id.get(..SHORT_ID).unwrap_or(id)
}

/// Undoes systemd's unit name escaping (`\x2d` is `-`, any `\xNN` a byte).
fn unescape(name: &str) -> String {
    let bytes = name.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match bytes.get(i..i + 4) {
            Some([b'\\', b'x', hi, lo]) => hex_digit(*hi)
                .zip(hex_digit(*lo))
                .map(|(hi, lo)| hi << 4 | lo),
            _ => None,
        };
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_digit(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

#[cfg(test)]
#[path = "container_tests.rs"]
mod tests;

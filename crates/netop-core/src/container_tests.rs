//! Each runtime's cgroup shapes, as `/proc/PID/cgroup` shows them under
//! cgroup v1 (one line per hierarchy) and v2 (the single `0::` line), the
//! host's own cgroups, and garbage.

use proptest::prelude::*;

use super::*;

const ID: &str = "3f2a1b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f70";
const POD: &str = "0d4e5f6a-1b2c-4d3e-8f90-a1b2c3d4e5f6";
const POD_UNIT: &str = "0d4e5f6a_1b2c_4d3e_8f90_a1b2c3d4e5f6";

fn c(runtime: &str, name: &str) -> Option<Container> {
    Some(Container {
        runtime: runtime.to_string(),
        name: name.to_string(),
    })
}

/// A cgroup v1 host: every hierarchy puts the process at `path` (as
/// Docker and the others do), the systemd named hierarchy included.
fn v1(path: &str) -> String {
    [
        "12:pids",
        "11:hugetlb",
        "10:net_cls,net_prio",
        "9:memory",
        "8:perf_event",
        "7:cpu,cpuacct",
        "6:freezer",
        "5:rdma",
        "4:blkio",
        "3:devices",
        "2:cpuset",
        "1:name=systemd",
    ]
    .iter()
    .map(|h| format!("{h}:{path}\n"))
    .collect()
}

/// A cgroup v2 host: one line.
fn v2(path: &str) -> String {
    format!("0::{path}\n")
}

/// (what, cgroup path, expected container)
fn layouts() -> Vec<(&'static str, String, Option<Container>)> {
    let short = &ID[..12];
    vec![
        (
            "docker, cgroupfs driver",
            format!("/docker/{ID}"),
            c("docker", short),
        ),
        (
            "docker, systemd driver",
            format!("/system.slice/docker-{ID}.scope"),
            c("docker", short),
        ),
        (
            "docker, a process of systemd inside the container",
            format!("/docker/{ID}/system.slice/nginx.service"),
            c("docker", short),
        ),
        (
            "docker in docker: the outer container",
            format!("/docker/{ID}/docker/{}", "ab".repeat(32)),
            c("docker", short),
        ),
        (
            "rootless docker",
            format!("/user.slice/user-1000.slice/user@1000.service/user.slice/docker-{ID}.scope"),
            c("docker", short),
        ),
        (
            "podman, systemd",
            format!("/machine.slice/libpod-{ID}.scope"),
            c("podman", short),
        ),
        (
            "podman, the container's own sub-cgroup",
            format!("/machine.slice/libpod-{ID}.scope/container"),
            c("podman", short),
        ),
        (
            "rootless podman",
            format!(
                "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{ID}.scope/container"
            ),
            c("podman", short),
        ),
        (
            "podman, cgroupfs",
            format!("/libpod_parent/libpod-{ID}"),
            c("podman", short),
        ),
        (
            "podman's conmon is on the host",
            format!("/machine.slice/libpod-conmon-{ID}.scope"),
            None,
        ),
        (
            "kubernetes, containerd, systemd driver",
            format!(
                "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{POD_UNIT}.slice/cri-containerd-{ID}.scope"
            ),
            c("containerd", short),
        ),
        (
            "kubernetes, cgroupfs driver",
            format!("/kubepods/besteffort/pod{POD}/{ID}"),
            c("containerd", short),
        ),
        (
            "kubernetes, guaranteed pod, cgroupfs driver",
            format!("/kubepods/pod{POD}/{ID}"),
            c("containerd", short),
        ),
        (
            "kind: kubelet under its own slice",
            format!(
                "/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-burstable.slice/kubelet-kubepods-burstable-pod{POD_UNIT}.slice/cri-containerd-{ID}.scope"
            ),
            c("containerd", short),
        ),
        (
            "a pod's own cgroup is no container",
            format!("/kubepods/besteffort/pod{POD}"),
            None,
        ),
        (
            "containerd without kubernetes",
            format!("/system.slice/cri-containerd-{ID}.scope"),
            c("containerd", short),
        ),
        (
            "nerdctl",
            format!("/system.slice/nerdctl-{ID}.scope"),
            c("containerd", short),
        ),
        (
            "cri-o, systemd driver",
            format!(
                "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{POD_UNIT}.slice/crio-{ID}.scope"
            ),
            c("crio", short),
        ),
        (
            "cri-o, cgroupfs driver",
            format!("/kubepods/burstable/pod{POD}/crio-{ID}"),
            c("crio", short),
        ),
        (
            "cri-o's conmon is on the host",
            format!("/kubepods.slice/crio-conmon-{ID}.scope"),
            None,
        ),
        ("lxc, legacy", "/lxc/web01".to_string(), c("lxc", "web01")),
        (
            "lxc, legacy, a process deeper inside",
            "/lxc/web01/system.slice/sshd.service".to_string(),
            c("lxc", "web01"),
        ),
        (
            "lxc 4 / lxd payload",
            "/lxc.payload.web-01/system.slice/cron.service".to_string(),
            c("lxc", "web-01"),
        ),
        (
            "lxc 3 payload",
            "/lxc.payload/web01".to_string(),
            c("lxc", "web01"),
        ),
        (
            "lxc's monitor is on the host",
            "/lxc.monitor.web01".to_string(),
            None,
        ),
        (
            "systemd-nspawn service",
            r"/machine.slice/systemd-nspawn@build\x2dbox.service/payload/system.slice/sshd.service"
                .to_string(),
            c("nspawn", "build-box"),
        ),
        (
            "machinectl scope",
            r"/machine.slice/machine-build\x2dbox.scope".to_string(),
            c("nspawn", "build-box"),
        ),
        (
            "libvirt's virtual machines share machine.slice",
            r"/machine.slice/machine-qemu\x2d1\x2ddebian.scope/libvirt/emulator".to_string(),
            c("libvirt", "qemu-1-debian"),
        ),
        (
            "a user session",
            "/user.slice/user-1000.slice/session-3.scope".to_string(),
            None,
        ),
        (
            "a system service",
            "/system.slice/docker.service".to_string(),
            None,
        ),
        (
            "the docker daemon's slice without an id",
            "/docker".to_string(),
            None,
        ),
        (
            "docker with a short, non-hex child",
            "/docker/not-an-id".to_string(),
            None,
        ),
        ("the root", "/".to_string(), None),
        (
            "this build machine",
            "/process_api/a6b55ec2edf63cb34db13a90d82f3f85".to_string(),
            None,
        ),
    ]
}

#[test]
fn every_layout_under_cgroup_v1_and_v2() {
    for (what, path, expected) in layouts() {
        assert_eq!(parse_cgroup(&v1(&path)), expected, "{what} (v1): {path}");
        assert_eq!(parse_cgroup(&v2(&path)), expected, "{what} (v2): {path}");
        assert_eq!(container_of_path(&path), expected, "{what}: {path}");
    }
}

#[test]
fn one_v1_hierarchy_is_enough() {
    // As on a host where only the memory hierarchy was moved, like the
    // end-to-end test's cgroup.
    let text = format!("9:name=systemd:/\n8:pids:/\n4:memory:/docker/{ID}\n1:cpu:/\n0::/\n");
    assert_eq!(parse_cgroup(&text), c("docker", &ID[..12]));
}

#[test]
fn hybrid_host_fixture() {
    // Debian 11 with Docker's systemd driver: v1 controllers plus the
    // unified line.
    let text = format!(
        "13:misc:/\n12:rdma:/\n11:pids:/system.slice/docker-{ID}.scope\n\
         10:memory:/system.slice/docker-{ID}.scope\n9:cpu,cpuacct:/system.slice/docker-{ID}.scope\n\
         1:name=systemd:/system.slice/docker-{ID}.scope\n0::/system.slice/docker-{ID}.scope\n"
    );
    assert_eq!(parse_cgroup(&text), c("docker", "3f2a1b4c5d6e"));
}

#[test]
fn the_display_form_is_runtime_colon_name() {
    let found = parse_cgroup(&v2(&format!("/docker/{ID}"))).expect("docker");
    assert_eq!(found.to_string(), "docker:3f2a1b4c5d6e");
}

#[test]
fn names_keep_their_length_and_ids_are_shortened() {
    let long = "a-very-long-container-name-that-is-kept-whole";
    assert_eq!(
        parse_cgroup(&v2(&format!("/lxc.payload.{long}"))),
        c("lxc", long)
    );
    assert_eq!(
        parse_cgroup(&v2(&format!("/docker/{}", &ID[..12]))),
        c("docker", &ID[..12])
    );
    assert_eq!(parse_cgroup(&v2(&format!("/docker/{}", &ID[..11]))), None);
}

#[test]
fn unescaping_is_systemds() {
    assert_eq!(unescape(r"a\x2db"), "a-b");
    assert_eq!(unescape(r"\x2d\x2D"), "--");
    assert_eq!(unescape(r"trailing\x2"), r"trailing\x2");
    assert_eq!(unescape(r"\x+f"), r"\x+f");
    assert_eq!(unescape(r"\xzz"), r"\xzz");
    assert_eq!(unescape(r"bad\xff"), "bad\u{fffd}");
    assert_eq!(unescape("plain"), "plain");
}

#[test]
fn garbage_is_no_container() {
    for text in [
        "",
        "\n\n",
        "no colons at all",
        "1:only-one-colon",
        "::",
        "0::",
        "x:y:docker",
        "0::/docker/",
        "0::/docker//",
        "0::/lxc/",
        "0::/lxc.payload.",
        "0::/machine.slice/machine-.scope",
        "0::/machine.slice/systemd-nspawn@.service",
        "0::/system.slice/docker-.scope",
        "0::/system.slice/docker-zzzzzzzzzzzzzzzz.scope",
        "0::/libpod-\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}.scope",
        "\u{0}\u{1}:\u{2}:/\u{3}",
    ] {
        assert_eq!(parse_cgroup(text), None, "{text:?}");
    }
}

#[test]
fn a_path_with_colons_is_read_whole() {
    // The path is everything after the second colon.
    assert_eq!(parse_cgroup("0::/lxc.payload.a:b\n"), c("lxc", "a:b"));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn never_panics_on_any_text(text in ".{0,200}") {
        let _ = parse_cgroup(&text);
    }

    #[test]
    fn never_panics_on_mangled_layouts(
        pick in 0usize..40,
        cut in 0usize..300,
        insert in "[\\\\x/:.@a-f0-9-]{0,6}",
    ) {
        let all = layouts();
        let path = &all[pick % all.len()].1;
        let mut text = v1(path);
        let at = (0..=cut.min(text.len())).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
        text.insert_str(at, &insert);
        if let Some(found) = parse_cgroup(&text) {
            prop_assert!(!found.runtime.is_empty() && !found.name.is_empty());
        }
    }
}

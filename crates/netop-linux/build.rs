//! Compiles the event source's eBPF program (`src/events/netop.bpf.c`)
//! with clang, when there is one, into `$OUT_DIR/netop.bpf.o` and sets
//! `cfg(netop_bpf)` so the loader embeds it; the same for the kernel
//! counting program (`src/counting/netop_tc.bpf.c`, `cfg(netop_tc)`).
//!
//! Without clang (or libbpf-dev's `bpf/bpf_helpers.h`) the build still
//! succeeds: no object is embedded and the event source answers "built
//! without eBPF support" at run time, so netop polls. `NETOP_CLANG` names
//! another compiler; `NETOP_NO_BPF=1` skips the program on purpose.

use std::path::PathBuf;
use std::process::Command;

const SOURCE: &str = "src/events/netop.bpf.c";
const TC_SOURCE: &str = "src/counting/netop_tc.bpf.c";

fn main() {
    println!("cargo::rustc-check-cfg=cfg(netop_bpf)");
    println!("cargo::rustc-check-cfg=cfg(netop_tc)");
    println!("cargo::rerun-if-changed={SOURCE}");
    println!("cargo::rerun-if-changed={TC_SOURCE}");
    println!("cargo::rerun-if-env-changed=NETOP_CLANG");
    println!("cargo::rerun-if-env-changed=NETOP_NO_BPF");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("linux") {
        return;
    }
    if std::env::var_os("NETOP_NO_BPF").is_some_and(|v| v != "0" && !v.is_empty()) {
        println!("cargo::warning=NETOP_NO_BPF is set: building without the eBPF event source");
        return;
    }
    let Some(out_dir) = std::env::var_os("OUT_DIR").map(PathBuf::from) else {
        println!("cargo::warning=OUT_DIR is not set: building without the eBPF event source");
        return;
    };
    let clang = std::env::var_os("NETOP_CLANG").unwrap_or_else(|| "clang".into());
    let tc = Command::new(&clang)
        .args([
            "-O2", "-g", "-target", "bpf", "-Wall", "-c", TC_SOURCE, "-o",
        ])
        .arg(out_dir.join("netop_tc.bpf.o"))
        .output();
    match tc {
        Ok(out) if out.status.success() => println!("cargo::rustc-cfg=netop_tc"),
        Ok(out) => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let first = stderr.lines().next().unwrap_or("no message");
            println!("cargo::warning=clang could not build the kernel counting program ({first}); netop will count with libpcap");
        }
        Err(_) => {}
    }
    let object = out_dir.join("netop.bpf.o");
    let result = Command::new(&clang)
        .args(["-O2", "-g", "-target", "bpf", "-Wall", "-c", SOURCE, "-o"])
        .arg(&object)
        .output();
    match result {
        Ok(out) if out.status.success() => println!("cargo::rustc-cfg=netop_bpf"),
        Ok(out) => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let first = stderr.lines().next().unwrap_or("no message");
            println!(
                "cargo::warning=clang could not build the eBPF event source ({first}); netop will poll (install clang and libbpf-dev)"
            );
        }
        Err(e) => println!(
            "cargo::warning=no clang ({e}): building without the eBPF event source; netop will poll (install clang and libbpf-dev)"
        ),
    }
}

//! The text of /proc/PID/cgroup (any process can shape its cgroup path).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = netop_core::container::parse_cgroup(&text);
    let _ = netop_core::container::container_of_path(&text);
});

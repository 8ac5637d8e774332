//! Helpers shared by the integration tests.

/// True when this process may open a live capture. Otherwise the test is
/// skipped with a note, except under `CI`, where a missing privilege is a
/// failure: CI runs as root and must not silently skip.
pub fn can_capture(test: &str) -> bool {
    if netop_linux::capture_privileges().can_capture() {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("{test}: needs root (or CAP_NET_RAW+CAP_NET_ADMIN), and CI is set: failing instead of skipping");
    }
    eprintln!("{test}: skipped: needs root");
    false
}

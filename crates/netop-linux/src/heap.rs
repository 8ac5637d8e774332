//! Giving glibc's free heap back to the kernel. Loading an eBPF program
//! with aya parses the kernel's BTF (about 18 MB of heap, free but
//! resident afterwards), and a long run that once saw a burst of processes
//! would otherwise stay as big as at the burst. One wrapper for the event
//! source's loader, the counting program's and the capture loop.

/// Returns glibc's free heap pages to the kernel (nothing elsewhere).
#[cfg(target_env = "gnu")]
pub fn release_heap() {
    // SAFETY: malloc_trim only returns free memory of glibc's heap to the
    // kernel; it has no preconditions and touches no live allocation.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Returns glibc's free heap pages to the kernel (nothing elsewhere).
#[cfg(not(target_env = "gnu"))]
pub fn release_heap() {}

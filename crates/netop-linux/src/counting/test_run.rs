//! `BPF_PROG_TEST_RUN`: runs a loaded program once without attaching it.
//! [`Tester`](super::Tester) runs the classifiers on frames given by hand;
//! the slot flush (`counting/slots.rs`) runs `netop_flush` on a chosen CPU.
//! aya 0.14 has no call for it, so it is made here.

use std::os::fd::{AsRawFd, BorrowedFd};

/// `BPF_PROG_TEST_RUN` in `enum bpf_cmd`.
const BPF_PROG_TEST_RUN: libc::c_long = 10;
/// `BPF_F_TEST_RUN_ON_CPU`: run on `cpu` (raw tracepoint programs, 5.10+).
const BPF_F_TEST_RUN_ON_CPU: u32 = 1;

/// The `test` member of `union bpf_attr`.
#[repr(C)]
#[derive(Default)]
struct TestAttr {
    prog_fd: u32,
    retval: u32,
    data_size_in: u32,
    data_size_out: u32,
    data_in: u64,
    data_out: u64,
    repeat: u32,
    duration: u32,
    ctx_size_in: u32,
    ctx_size_out: u32,
    ctx_in: u64,
    ctx_out: u64,
    flags: u32,
    cpu: u32,
    batch_size: u32,
    /// The struct's tail padding, made a field so it is zero: the kernel
    /// refuses (EINVAL) an attribute with anything but zeros after the
    /// command's last field, and padding bytes are whatever the stack held.
    _tail: u32,
}

fn call(attr: &mut TestAttr) -> std::io::Result<u32> {
    // SAFETY: `attr` is the kernel's `test` layout; the pointers in it
    // (if any) are to buffers the callers keep alive over the call; no
    // output buffers are given.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_TEST_RUN,
            std::ptr::from_mut(attr),
            std::mem::size_of::<TestAttr>(),
        )
    };
    if rc < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(attr.retval)
    }
}

/// Runs classifier `prog` once on `frame` (the kernel makes an skb of it
/// on the loopback device); returns the program's answer.
pub fn on_frame(prog: BorrowedFd<'_>, frame: &[u8]) -> std::io::Result<u32> {
    let mut attr = TestAttr {
        prog_fd: prog.as_raw_fd() as u32,
        data_size_in: frame.len() as u32,
        data_in: frame.as_ptr() as u64,
        repeat: 1,
        ..TestAttr::default()
    };
    call(&mut attr)
}

/// Runs raw tracepoint program `prog`, which reads no context, on `cpu`
/// (in an interrupt there, or here when it is this thread's CPU); returns
/// the program's answer.
pub fn on_cpu(prog: BorrowedFd<'_>, cpu: u32) -> std::io::Result<u32> {
    let mut attr = TestAttr {
        prog_fd: prog.as_raw_fd() as u32,
        flags: BPF_F_TEST_RUN_ON_CPU,
        cpu,
        ..TestAttr::default()
    };
    call(&mut attr)
}

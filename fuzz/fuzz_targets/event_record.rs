//! One record of the event source's ring buffer.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = netop_linux::events::decode(data);
});

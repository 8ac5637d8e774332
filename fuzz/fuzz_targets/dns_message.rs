//! One DNS message as it arrives in a UDP payload.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = netop_core::dns::message::parse_message(data);
});

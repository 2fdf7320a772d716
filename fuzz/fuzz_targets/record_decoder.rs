//! The platform record decoder on arbitrary bytes: a record or a reason, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(record) = subsidy_core::parse_record(data) {
        // What the decoder accepts, the fingerprint and the step read without panicking.
        let _ = subsidy_core::Fingerprint::of(&record);
    }
});

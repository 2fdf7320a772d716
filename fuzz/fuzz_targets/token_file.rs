//! The API's token file parser on arbitrary text: tokens or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = subsidy_api::auth::Tokens::parse(text);
    }
});

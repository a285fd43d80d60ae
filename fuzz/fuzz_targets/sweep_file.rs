//! Any bytes as a sweep file next to the shipped scenarios: parsing, planning and validating
//! every point return a sweep or a located error, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let dir = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../sweeps"));
    if let Err(e) = metastable::sweep::file::parse(text, "fuzz.toml", dir) {
        let _ = e.to_string();
    }
});

//! Any bytes as a scenario file: parsing and validation return a scenario or a located error,
//! never panic. Seed the corpus with `scenarios/*.toml` (docs/fuzzing.md).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match metastable::parse(text, "fuzz.toml") {
        Ok(scenario) => {
            // A valid scenario's derived quantities are computed without panicking too.
            let _ = scenario.n_windows();
        }
        Err(e) => {
            // Every error renders (file:line:col: field: message).
            let _ = e.to_string();
        }
    }
});

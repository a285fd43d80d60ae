//! Overrides (`services[server].servers = 3`, as variants, sweep axes and `--set` write them)
//! applied to a shipped scenario: the input's first line is the path, the rest a TOML value.
//! Applying and validating must return a scenario or a located error naming the override,
//! never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use metastable::scenario::overrides::Override;

const BASE: &str = include_str!("../../scenarios/hotos-retry.toml");

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (path, value) = text.split_once('\n').unwrap_or((text, "1"));
    let Ok(table) = format!("v = {value}").parse::<toml::Table>() else {
        return;
    };
    let Some(value) = table.get("v").cloned() else {
        return;
    };
    let set = Override {
        path: path.to_string(),
        value,
        line: 0,
        column: 0,
        label: "fuzz override".to_string(),
    };
    if let Err(e) = metastable::parse_with(BASE, "hotos-retry.toml", &[set]) {
        let _ = e.to_string();
    }
});

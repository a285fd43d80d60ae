//! Helpers shared by the integration tests (`mod common;`): formulas the tests derive their
//! bounds from.

/// Che's approximation of an LRU cache's hit ratio under Zipf(`s`) over `keys` keys with
/// `capacity` entries (Che, Tung, Wang 2002): the fraction of requests whose key is resident.
#[allow(dead_code)] // not every test that shares this module uses it
pub fn che_hit_ratio(keys: u32, capacity: u32, s: f64) -> f64 {
    let h: f64 = (1..=keys).map(|i| (i as f64).powf(-s)).sum();
    let p: Vec<f64> = (1..=keys).map(|i| (i as f64).powf(-s) / h).collect();
    let occupancy = |t: f64| p.iter().map(|&q| 1.0 - (-q * t).exp()).sum::<f64>();
    let (mut lo, mut hi) = (0.0f64, 1e12f64);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if occupancy(mid) < capacity as f64 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    p.iter().map(|&q| q * (1.0 - (-q * lo).exp())).sum()
}

/// The override `--set PATH=VALUE` makes, labelled `test PATH` (for `metastable::parse_with`).
#[allow(dead_code)] // not every test that shares this module sets overrides
pub fn set(path: &str, value: toml::Value) -> metastable::Override {
    metastable::Override {
        path: path.into(),
        value,
        line: 0,
        column: 0,
        label: format!("test {path}"),
    }
}

//! Reading a sweep file: its schema (serde, unknown keys rejected), the axes' values (listed,
//! linear, log, or sampled ranges), and validation of every point before anything runs, with
//! errors naming the sweep file, the line and the field. The result is a [`Sweep`] plan
//! (`plan.rs`), which the file format is documented in.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rand::Rng as _;
use serde::Deserialize;

use crate::scenario::locate::{FieldPath, Located, line_col};
use crate::scenario::overrides::parse_path;
use crate::scenario::{self, Issue};
use crate::sweep::plan::*;

// ---------------------------------------------------------------------------------------------
// File schema

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct SweepFile {
    sweep: SweepMetaFile,
    #[serde(default)]
    axes: Vec<AxisFile>,
    sample: Option<SampleFile>,
    map: Option<MapFile>,
    /// Fixed overrides applied to every point (before the axes').
    #[serde(default)]
    set: toml::Table,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct SweepMetaFile {
    scenario: String,
    #[serde(default)]
    description: String,
    #[serde(default = "one")]
    replications: i64,
    #[serde(
        default,
        deserialize_with = "crate::scenario::schema::seed_de::seed_opt"
    )]
    seed: Option<u64>,
    #[serde(default)]
    seeds: SeedMode,
    /// Doublings of the simulated time a run whose verdict is `undetermined` may get.
    #[serde(default)]
    extend_undetermined: i64,
}

fn one() -> i64 {
    1
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct AxisFile {
    path: String,
    name: Option<String>,
    values: Option<Vec<toml::Value>>,
    linear: Option<StepsFile>,
    log: Option<StepsFile>,
    range: Option<RangeFile>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct StepsFile {
    from: toml::Value,
    to: toml::Value,
    steps: i64,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RangeFile {
    from: toml::Value,
    to: toml::Value,
    #[serde(default)]
    log: bool,
    #[serde(default)]
    integer: bool,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct SampleFile {
    method: SampleMethod,
    points: i64,
    #[serde(
        default,
        deserialize_with = "crate::scenario::schema::seed_de::seed_opt"
    )]
    seed: Option<u64>,
}

/// `[map]`: settings of `metastable map` (ignored by `metastable sweep`).
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
struct MapFile {
    tolerance: Option<f64>,
    max_probes: Option<i64>,
    title: Option<String>,
}

/// Reads a text file of at most `limit` bytes.
/// Regular files only, read through a cap (see [`crate::scenario::read`]).
pub(crate) fn read_text(path: &Path, limit: u64, what: &str) -> Result<String, String> {
    crate::scenario::read::read_text_capped(path, limit, what)
}

/// Reads and validates the sweep file at `path` (and its scenario, and every point).
pub fn load(path: &Path) -> Result<Sweep, SweepError> {
    let file = path.display().to_string();
    let text =
        read_text(path, MAX_FILE_BYTES, "sweep file").map_err(|message| SweepError::File {
            file: file.clone(),
            message,
        })?;
    let dir = path.parent().unwrap_or(Path::new(""));
    parse(&text, &file, dir)
}

/// Validates sweep `text` (read from `file`); the scenario path is resolved against `dir`.
pub fn parse(text: &str, file: &str, dir: &Path) -> Result<Sweep, SweepError> {
    let located = Located::parse(text);
    let at =
        |path: &FieldPath| -> (usize, usize) { crate::scenario::locate::position(&located, path) };
    let raw: SweepFile = match toml::from_str(text) {
        Ok(raw) => raw,
        Err(e) => {
            let offset = e.span().map_or(0, |s| s.start);
            let (line, column) = line_col(text, offset);
            let field = located
                .as_ref()
                .map_or_else(|| "(syntax)".to_string(), |l| l.path_at(offset).to_string());
            return Err(SweepError::Invalid {
                file: file.into(),
                issues: vec![Issue {
                    line,
                    column,
                    field,
                    message: e.message().trim().replace('\n', " "),
                }],
                more: 0,
                note: String::new(),
            });
        }
    };
    let mut issues: Vec<Issue> = Vec::new();
    let err = |issues: &mut Vec<Issue>, path: &FieldPath, message: String| {
        let (line, column) = at(path);
        issues.push(Issue {
            line,
            column,
            field: path.to_string(),
            message,
        });
    };

    // The scenario.
    let meta_path = FieldPath::root().key("sweep");
    let scenario_path: PathBuf = dir.join(&raw.sweep.scenario);
    let scenario_file = scenario_path.display().to_string();
    let scenario_text = match read_text(&scenario_path, scenario::MAX_FILE_BYTES, "scenario file") {
        Ok(t) => t,
        Err(m) => {
            err(
                &mut issues,
                &meta_path.key("scenario"),
                format!("{scenario_file}: {m}"),
            );
            return Err(invalid(file, issues));
        }
    };
    let base =
        scenario::parse(&scenario_text, &scenario_file).map_err(|error| SweepError::Scenario {
            file: file.into(),
            error,
        })?;

    let replications = raw.sweep.replications;
    if replications < 1 || replications as u64 > MAX_REPLICATIONS {
        err(
            &mut issues,
            &meta_path.key("replications"),
            format!("must be an integer in 1..={MAX_REPLICATIONS}, got {replications}"),
        );
    }
    let replications = replications.clamp(1, MAX_REPLICATIONS as i64) as u64;
    let extend = raw.sweep.extend_undetermined;
    if !(0..=i64::from(MAX_EXTEND)).contains(&extend) {
        err(
            &mut issues,
            &meta_path.key("extend_undetermined"),
            format!("must be an integer in 0..={MAX_EXTEND}, got {extend}"),
        );
    }
    let extend_undetermined = extend.clamp(0, i64::from(MAX_EXTEND)) as u32;

    // Axes.
    if raw.axes.len() > MAX_AXES {
        err(
            &mut issues,
            &FieldPath::root().key("axes"),
            format!("{} axes; the limit is {MAX_AXES}", raw.axes.len()),
        );
    }
    let variant_names: Vec<String> = base
        .with_variants()
        .iter()
        .map(|s| s.variant_name().to_string())
        .collect();
    let mut axes: Vec<Axis> = Vec::new();
    let mut ranged: Vec<(usize, RangeSpec)> = Vec::new();
    for (i, a) in raw.axes.iter().enumerate().take(MAX_AXES) {
        let here = FieldPath::root().key("axes").index(i);
        let name = a.name.clone().unwrap_or_else(|| a.path.clone());
        if a.path == VARIANT_AXIS {
            if variant_names.len() == 1 {
                err(
                    &mut issues,
                    &here.key("path"),
                    format!(
                        "the variant axis needs [[variants]] in the scenario; {scenario_file} has none"
                    ),
                );
            }
        } else if let Err(e) = parse_path(&a.path) {
            err(&mut issues, &here.key("path"), e.0);
        }
        if let Some(n) = &a.name
            && (n.is_empty() || n.len() > 128 || n.chars().any(char::is_control))
        {
            err(
                &mut issues,
                &here.key("name"),
                format!("must be 1–128 printable characters, got {n:?}"),
            );
        }
        if crate::sweep::columns::is_reserved_column(&name) {
            err(
                &mut issues,
                &here.key(if a.name.is_some() { "name" } else { "path" }),
                format!("{name:?} is also a fixed CSV column; give the axis another `name`"),
            );
        }
        if let Some(j) = axes.iter().position(|b| b.path == a.path) {
            err(
                &mut issues,
                &here.key("path"),
                format!("path {:?} is already swept by axes[{j}]", a.path),
            );
        }
        if let Some(j) = axes.iter().position(|b| b.name == name) {
            err(
                &mut issues,
                &here.key("name"),
                format!("column name {name:?} is already used by axes[{j}]"),
            );
        }
        let given: Vec<&str> = [
            ("values", a.values.is_some()),
            ("linear", a.linear.is_some()),
            ("log", a.log.is_some()),
            ("range", a.range.is_some()),
        ]
        .into_iter()
        .filter_map(|(k, on)| on.then_some(k))
        .collect();
        if given.len() != 1 {
            err(
                &mut issues,
                &here,
                format!(
                    "give exactly one of values, linear, log, range; got {}",
                    if given.is_empty() {
                        "none".to_string()
                    } else {
                        given.join(", ")
                    }
                ),
            );
            continue;
        }
        let mut values: Vec<toml::Value> = Vec::new();
        let mut origins: Vec<(usize, usize, String)> = Vec::new();
        let mut sampled = false;
        if let Some(list) = &a.values {
            let vp = here.key("values");
            if list.is_empty() {
                err(&mut issues, &vp, "must list at least one value".into());
            }
            if list.len() > MAX_AXIS_VALUES {
                err(
                    &mut issues,
                    &vp,
                    format!("{} values; the limit is {MAX_AXIS_VALUES}", list.len()),
                );
            }
            // Equal values have equal texts: earlier values are looked up by text (a sorted
            // map), so checking for duplicates is O(n log n), not O(n²).
            let mut by_text: BTreeMap<String, Vec<usize>> = BTreeMap::new();
            for (j, v) in list.iter().enumerate().take(MAX_AXIS_VALUES) {
                let p = vp.index(j);
                let same_text = by_text.entry(value_text(v)).or_default();
                let earlier = same_text.iter().copied().find(|&k| list[k] == *v);
                same_text.push(j);
                if let Some(k) = earlier {
                    err(
                        &mut issues,
                        &p,
                        format!("duplicate value {} (same as values[{k}])", value_text(v)),
                    );
                }
                if a.path == VARIANT_AXIS {
                    match v.as_str() {
                        Some(s) if variant_names.iter().any(|n| n == s) => {}
                        _ => err(
                            &mut issues,
                            &p,
                            format!(
                                "no variant {} in {scenario_file} (it has: {})",
                                value_text(v),
                                variant_names.join(", ")
                            ),
                        ),
                    }
                }
                let (line, column) = at(&p);
                origins.push((line, column, p.to_string()));
                values.push(v.clone());
            }
        } else if let Some((s, log)) = a
            .linear
            .as_ref()
            .map(|s| (s, false))
            .or(a.log.as_ref().map(|s| (s, true)))
        {
            let sp = here.key(if log { "log" } else { "linear" });
            match steps_values(s, log) {
                Ok(vs) => {
                    let (line, column) = at(&sp);
                    origins = vec![(line, column, sp.to_string()); vs.len()];
                    values = vs;
                }
                Err((key, m)) => err(&mut issues, &sp.key(key), m),
            }
        } else if let Some(r) = &a.range {
            let rp = here.key("range");
            sampled = true;
            match range_spec(r) {
                Ok(spec) => ranged.push((axes.len(), spec)),
                Err((key, m)) => err(&mut issues, &rp.key(key), m),
            }
            let (line, column) = at(&rp);
            origins.push((line, column, rp.to_string()));
        }
        if a.path == VARIANT_AXIS && (sampled || a.values.is_none()) {
            err(
                &mut issues,
                &here,
                "the variant axis takes `values` (variant names)".into(),
            );
        }
        axes.push(Axis {
            name,
            path: a.path.clone(),
            texts: values.iter().map(value_text).collect(),
            values,
            sampled,
            origins,
        });
    }

    // Fixed overrides.
    let mut fixed = Vec::new();
    for (key, value) in &raw.set {
        let here = FieldPath::root().key("set").key(key);
        if key == VARIANT_AXIS {
            err(
                &mut issues,
                &here,
                "a variant is chosen with an axis (path = \"variant\"), not in [set]".into(),
            );
            continue;
        }
        if let Err(e) = parse_path(key) {
            err(&mut issues, &here, e.0);
            continue;
        }
        if let Some(j) = axes.iter().position(|a| a.path == *key) {
            err(
                &mut issues,
                &here,
                format!("path {key:?} is also swept by axes[{j}]"),
            );
        }
        let (line, column) = at(&here);
        fixed.push((key.clone(), value.clone(), (line, column, here.to_string())));
    }

    // Samples.
    let sample_path = FieldPath::root().key("sample");
    let mut n_samples: u64 = 1;
    match (&raw.sample, ranged.is_empty()) {
        (Some(_), true) => err(
            &mut issues,
            &sample_path,
            "[sample] needs at least one axis given as `range = { from, to }`".into(),
        ),
        (None, false) => err(
            &mut issues,
            &FieldPath::root().key("axes").index(ranged[0].0).key("range"),
            "a ranged axis needs a [sample] table (method = \"random\" or \"latin_hypercube\", points = N)"
                .into(),
        ),
        (Some(s), false) => {
            if s.points < 1 || s.points as u64 > MAX_AXIS_VALUES as u64 {
                err(
                    &mut issues,
                    &sample_path.key("points"),
                    format!(
                        "must be an integer in 1..={MAX_AXIS_VALUES}, got {}",
                        s.points
                    ),
                );
            } else if issues.is_empty() {
                n_samples = s.points as u64;
                let seed = s.seed.or(raw.sweep.seed).unwrap_or(base.seed);
                let drawn = draw_samples(s.method, s.points as usize, seed, &ranged);
                for ((axis_idx, _), vs) in ranged.iter().zip(drawn) {
                    let a = &mut axes[*axis_idx];
                    let origin = a.origins.first().cloned().unwrap_or_default();
                    a.origins = vec![origin; vs.len()];
                    a.texts = vs.iter().map(value_text).collect();
                    a.values = vs;
                }
            }
        }
        (None, true) => {}
    }

    // Map settings.
    let map = raw.map.as_ref().map(|m| {
        let mp = FieldPath::root().key("map");
        if let Some(t) = m.tolerance
            && !(t.is_finite() && t > 0.0)
        {
            err(
                &mut issues,
                &mp.key("tolerance"),
                format!("must be a finite number > 0, got {t}"),
            );
        }
        let max_probes = m.max_probes.unwrap_or(DEFAULT_MAX_PROBES as i64);
        if !(1..=MAX_PROBES as i64).contains(&max_probes) {
            err(
                &mut issues,
                &mp.key("max_probes"),
                format!("must be an integer in 1..={MAX_PROBES}, got {max_probes}"),
            );
        }
        MapSettings {
            tolerance: m.tolerance,
            max_probes: max_probes.clamp(1, MAX_PROBES as i64) as u32,
            title: m.title.clone(),
            at: at(&mp),
        }
    });

    // Sizes.
    let grid: u128 = axes
        .iter()
        .filter(|a| !a.sampled)
        .map(|a| a.values.len() as u128)
        .product();
    let n_points = grid * n_samples as u128;
    let runs = n_points * replications as u128;
    if issues.is_empty() && runs > MAX_RUNS as u128 {
        let dims: Vec<String> = axes
            .iter()
            .filter(|a| !a.sampled)
            .map(|a| a.values.len().to_string())
            .chain((n_samples > 1).then(|| format!("{n_samples} samples")))
            .collect();
        err(
            &mut issues,
            &meta_path,
            format!(
                "{} point(s) ({}) × {replications} replication(s) = {runs} runs; the limit is {MAX_RUNS} \
                 (use fewer values, samples or replications, or split the study into several sweeps)",
                n_points,
                if dims.is_empty() {
                    "no axes".to_string()
                } else {
                    dims.join(" × ")
                }
            ),
        );
    }
    if !issues.is_empty() {
        return Err(invalid(file, issues));
    }
    let name = Path::new(file)
        .file_stem()
        .map_or_else(|| "sweep".to_string(), |s| s.to_string_lossy().into_owned());
    let sweep = Sweep {
        file: file.into(),
        name,
        description: raw.sweep.description.clone(),
        fingerprint: fingerprint(&[text, &scenario_text]),
        scenario_file,
        scenario_text,
        text: text.to_string(),
        seed: raw.sweep.seed.unwrap_or(base.seed),
        base,
        seeds: raw.sweep.seeds,
        replications,
        extend_undetermined,
        axes,
        fixed,
        n_samples,
        n_points: n_points as u64,
        map,
    };
    sweep.validate_points(text)?;
    Ok(sweep)
}

/// A number from a TOML value: (value, written as an integer).
fn number(v: &toml::Value) -> Option<(f64, bool)> {
    match v {
        toml::Value::Integer(i) => Some((*i as f64, true)),
        toml::Value::Float(f) => Some((*f, false)),
        _ => None,
    }
}

/// Rounds to 12 significant digits, so that generated grids print as written (0.3, not
/// 0.30000000000000004).
fn tidy(x: f64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    format!("{x:.11e}").parse().unwrap_or(x)
}

/// `linear` / `log` → values. Both ends integers ⇒ integer values (rounded, duplicates
/// dropped).
fn steps_values(s: &StepsFile, log: bool) -> Result<Vec<toml::Value>, (&'static str, String)> {
    let (from, from_int) = number(&s.from).ok_or(("from", "must be a number".to_string()))?;
    let (to, to_int) = number(&s.to).ok_or(("to", "must be a number".to_string()))?;
    for (k, x) in [("from", from), ("to", to)] {
        if !x.is_finite() || x.abs() > 1e15 {
            return Err((
                k,
                format!("must be a finite number of magnitude ≤ 1e15, got {x}"),
            ));
        }
        if log && x <= 0.0 {
            return Err((k, format!("must be > 0 on a log axis, got {x}")));
        }
    }
    if s.steps < 1 || s.steps as u64 > MAX_AXIS_VALUES as u64 {
        return Err((
            "steps",
            format!(
                "must be an integer in 1..={MAX_AXIS_VALUES}, got {}",
                s.steps
            ),
        ));
    }
    if s.steps == 1 && from != to {
        return Err((
            "steps",
            "must be ≥ 2 when from ≠ to (steps counts both ends)".to_string(),
        ));
    }
    let n = s.steps as usize;
    let integer = from_int && to_int;
    let mut out: Vec<toml::Value> = Vec::with_capacity(n);
    for i in 0..n {
        let f = if n == 1 {
            0.0
        } else {
            i as f64 / (n - 1) as f64
        };
        let x = if i == 0 {
            from
        } else if i + 1 == n {
            to
        } else if log {
            (from.ln() + f * (to.ln() - from.ln())).exp()
        } else {
            from + f * (to - from)
        };
        let v = if integer {
            toml::Value::Integer(x.round() as i64)
        } else {
            toml::Value::Float(tidy(x))
        };
        if out.last() != Some(&v) {
            out.push(v);
        }
    }
    Ok(out)
}

/// A ranged axis, ready to sample.
#[derive(Clone, Copy, Debug)]
struct RangeSpec {
    from: f64,
    to: f64,
    log: bool,
    integer: bool,
}

fn range_spec(r: &RangeFile) -> Result<RangeSpec, (&'static str, String)> {
    let (from, _) = number(&r.from).ok_or(("from", "must be a number".to_string()))?;
    let (to, _) = number(&r.to).ok_or(("to", "must be a number".to_string()))?;
    for (k, x) in [("from", from), ("to", to)] {
        if !x.is_finite() || x.abs() > 1e15 {
            return Err((
                k,
                format!("must be a finite number of magnitude ≤ 1e15, got {x}"),
            ));
        }
        if r.log && x <= 0.0 {
            return Err((k, format!("must be > 0 on a log range, got {x}")));
        }
    }
    if to < from {
        return Err(("to", format!("must be ≥ from ({from}), got {to}")));
    }
    if r.integer && (from.fract() != 0.0 || to.fract() != 0.0) {
        return Err((
            "from",
            format!("an integer range needs integer ends, got {from} and {to}"),
        ));
    }
    Ok(RangeSpec {
        from,
        to,
        log: r.log,
        integer: r.integer,
    })
}

/// A uniform draw in [0, 1) from 53 random bits.
fn unit(rng: &mut sim_core::SimRng) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Draws `n` joint samples of the ranged axes: one value vector per axis.
///
/// Latin hypercube: for each axis in file order, a Fisher–Yates permutation of the n strata,
/// then n uniforms placing each sample inside its stratum. Random: for each sample, one uniform
/// per axis. Values are rounded to 6 significant digits (integer ranges: to integers).
fn draw_samples(
    method: SampleMethod,
    n: usize,
    seed: u64,
    ranged: &[(usize, RangeSpec)],
) -> Vec<Vec<toml::Value>> {
    let mut rng = sim_core::stream(seed, "sweep/sample");
    let mut u: Vec<Vec<f64>> = vec![Vec::with_capacity(n); ranged.len()];
    match method {
        SampleMethod::LatinHypercube => {
            for col in u.iter_mut() {
                let mut perm: Vec<usize> = (0..n).collect();
                for i in (1..n).rev() {
                    let j = ((rng.next_u64() as u128 * (i as u128 + 1)) >> 64) as usize;
                    perm.swap(i, j);
                }
                for &stratum in &perm {
                    col.push((stratum as f64 + unit(&mut rng)) / n as f64);
                }
            }
        }
        SampleMethod::Random => {
            for _ in 0..n {
                for col in u.iter_mut() {
                    col.push(unit(&mut rng));
                }
            }
        }
    }
    ranged
        .iter()
        .zip(u)
        .map(|((_, r), col)| col.into_iter().map(|x| range_value(r, x)).collect())
        .collect()
}

fn range_value(r: &RangeSpec, u: f64) -> toml::Value {
    if r.integer {
        let x = if r.log {
            (r.from.ln() + u * (r.to.ln() - r.from.ln())).exp().round()
        } else {
            (r.from + u * (r.to - r.from + 1.0)).floor()
        };
        return toml::Value::Integer(x.clamp(r.from, r.to) as i64);
    }
    let x = if r.log {
        (r.from.ln() + u * (r.to.ln() - r.from.ln())).exp()
    } else {
        r.from + u * (r.to - r.from)
    };
    let x: f64 = format!("{x:.5e}").parse().unwrap_or(x);
    toml::Value::Float(x.clamp(r.from, r.to))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_and_log_grids_are_tidy() {
        let s = StepsFile {
            from: toml::Value::Float(0.1),
            to: toml::Value::Float(0.5),
            steps: 5,
        };
        let v: Vec<String> = steps_values(&s, false)
            .expect("valid")
            .iter()
            .map(value_text)
            .collect();
        assert_eq!(v, ["0.1", "0.2", "0.3", "0.4", "0.5"]);
        let s = StepsFile {
            from: toml::Value::Integer(1),
            to: toml::Value::Integer(1000),
            steps: 4,
        };
        let v: Vec<String> = steps_values(&s, true)
            .expect("valid")
            .iter()
            .map(value_text)
            .collect();
        assert_eq!(v, ["1", "10", "100", "1000"]);
    }

    #[test]
    fn latin_hypercube_puts_one_sample_in_each_stratum() {
        let r = RangeSpec {
            from: 0.0,
            to: 10.0,
            log: false,
            integer: false,
        };
        let drawn = draw_samples(SampleMethod::LatinHypercube, 10, 7, &[(0, r), (1, r)]);
        for col in &drawn {
            let mut strata: Vec<i64> = col
                .iter()
                .map(|v| v.as_float().expect("float").floor() as i64)
                .collect();
            strata.sort();
            assert_eq!(strata, (0..10).collect::<Vec<_>>());
        }
        // Same seed, same samples.
        let again = draw_samples(SampleMethod::LatinHypercube, 10, 7, &[(0, r), (1, r)]);
        assert_eq!(drawn, again);
    }

    #[test]
    fn fingerprint_depends_on_every_part() {
        assert_ne!(fingerprint(&["a", "b"]), fingerprint(&["ab", ""]));
        assert_eq!(fingerprint(&["a", "b"]), fingerprint(&["a", "b"]));
        assert_eq!(fingerprint(&["x"]).len(), 16);
    }
}

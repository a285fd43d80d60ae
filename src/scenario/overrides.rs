//! Overrides: set one scenario field, addressed by a path, before validation. Design variants
//! (`[[variants]]` in a scenario) and sweep axes are both lists of overrides.
//!
//! A path is the field path errors print, with array entries chosen by name (or by `label` for
//! triggers and actions) or by 0-based index:
//!
//! ```text
//! scenario.duration_s
//! services[db].servers
//! clients[web].retry.jitter
//! clients[web].retry                 (a whole inline table: { preset = "grpc" })
//! triggers[0].to_s
//! ```
//!
//! Missing tables on the way are created (`clients[web].retry.budget.preset` works on a client
//! with no `retry` table); missing array entries are an error.

use std::fmt;

use super::locate::FieldPath;

/// Longest override path accepted, in bytes.
pub const MAX_PATH_BYTES: usize = 512;

/// One field set to one value.
#[derive(Clone, Debug, PartialEq)]
pub struct Override {
    /// e.g. `services[db].servers`.
    pub path: String,
    /// The value, as TOML (`toml::Value::Integer(12)`, a string, a whole inline table…); build it with [`Override::new`] from a TOML fragment.
    pub value: toml::Value,
    /// Where the override was written (1-based line and column in the scenario file), or
    /// `(0, 0)` when it comes from elsewhere (a sweep file, the command line).
    pub line: usize,
    /// See `line`.
    pub column: usize,
    /// Who set it, for messages: `variant "full-jitter"`, `sweep axis "servers"`.
    pub label: String,
}

impl Override {
    /// Sets the field at `path` (as errors print it: `services[db].servers`) to `value`, from
    /// code rather than from a file: it has no place (line and column 0) and messages say
    /// `override "PATH"` set it. `value` is anything TOML holds: `12`, `0.5`, `"grpc"`,
    /// `true`, or a [`toml::Value`] (e.g. a whole inline table parsed with
    /// `"{ preset = \"grpc\" }".parse::<toml::Value>()`).
    ///
    /// ```
    /// use metastable::scenario::{Override, parse_with};
    ///
    /// let text = std::fs::read_to_string("scenarios/mm1.toml").unwrap();
    /// let sc = parse_with(&text, "mm1.toml", &[Override::new("services[server].servers", 2)])
    ///     .unwrap();
    /// assert_eq!(sc.world.services[0].servers, 2);
    /// ```
    pub fn new(path: impl Into<String>, value: impl Into<toml::Value>) -> Override {
        let path = path.into();
        Override {
            label: format!("override {path:?}"),
            path,
            value: value.into(),
            line: 0,
            column: 0,
        }
    }
}

/// One step of a parsed path.
#[derive(Clone, Debug, PartialEq, Eq)]
#[doc(hidden)]
pub enum Step {
    /// `.key`.
    Key(String),
    /// `[name]` or `[3]`.
    Select(String),
}

/// Why a path could not be parsed or applied.
#[derive(Clone, Debug, PartialEq, Eq)]
#[doc(hidden)]
pub struct PathError(pub String);

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Parses `a.b[c].d` into steps.
#[doc(hidden)]
pub fn parse_path(path: &str) -> Result<Vec<Step>, PathError> {
    if path.is_empty() {
        return Err(PathError("empty path".into()));
    }
    if path.len() > MAX_PATH_BYTES {
        return Err(PathError(format!(
            "path is {} bytes; the limit is {MAX_PATH_BYTES}",
            path.len()
        )));
    }
    let mut steps = Vec::new();
    let mut rest = path;
    let mut expect_key = true;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('[') {
            let Some(end) = r.find(']') else {
                return Err(PathError(format!("unclosed '[' in path {path:?}")));
            };
            let sel = &r[..end];
            if sel.is_empty() {
                return Err(PathError(format!("empty [] in path {path:?}")));
            }
            if steps.is_empty() {
                return Err(PathError(format!(
                    "path {path:?} must start with a key, not [...]"
                )));
            }
            steps.push(Step::Select(sel.to_string()));
            rest = &r[end + 1..];
            expect_key = false;
        } else if let Some(r) = rest.strip_prefix('.') {
            if expect_key {
                return Err(PathError(format!("empty key in path {path:?}")));
            }
            rest = r;
            expect_key = true;
            if rest.is_empty() {
                return Err(PathError(format!("path {path:?} ends with '.'")));
            }
        } else {
            if !expect_key {
                return Err(PathError(format!(
                    "expected '.' or '[' after ']' in path {path:?}"
                )));
            }
            let end = rest.find(['.', '[']).unwrap_or(rest.len());
            let key = &rest[..end];
            if !key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                return Err(PathError(format!(
                    "key {key:?} in path {path:?} is not a field name"
                )));
            }
            steps.push(Step::Key(key.to_string()));
            rest = &rest[end..];
            expect_key = false;
        }
    }
    Ok(steps)
}

/// Sets the field at `path` in `root` to `value`. Returns the resolved path (array entries as
/// indices), as validation errors print it.
#[doc(hidden)]
pub fn apply(
    root: &mut toml::Table,
    path: &str,
    value: toml::Value,
) -> Result<FieldPath, PathError> {
    let steps = parse_path(path)?;
    let mut resolved = FieldPath::root();
    let mut cur: &mut toml::Value = {
        // Walk from a table root; the first step is always a key.
        let Some(Step::Key(first)) = steps.first() else {
            return Err(PathError(format!("path {path:?} must start with a key")));
        };
        resolved = resolved.key(first);
        if steps.len() == 1 {
            root.insert(first.clone(), value);
            return Ok(resolved);
        }
        root.entry(first.clone())
            .or_insert_with(|| default_container(&steps[1]))
    };
    for (i, step) in steps.iter().enumerate().skip(1) {
        let last = i + 1 == steps.len();
        match step {
            Step::Key(k) => {
                let Some(t) = cur.as_table_mut() else {
                    return Err(PathError(format!(
                        "{resolved} is not a table, so it has no field {k:?}"
                    )));
                };
                resolved = resolved.key(k);
                if last {
                    t.insert(k.clone(), value);
                    return Ok(resolved);
                }
                cur = t
                    .entry(k.clone())
                    .or_insert_with(|| default_container(&steps[i + 1]));
            }
            Step::Select(sel) => {
                let Some(a) = cur.as_array_mut() else {
                    return Err(PathError(format!(
                        "{resolved} is not a list, so [{sel}] selects nothing"
                    )));
                };
                let idx = select(a, sel).ok_or_else(|| {
                    let names: Vec<String> = a.iter().filter_map(entry_name).collect();
                    PathError(format!(
                        "{resolved} has no entry [{sel}] (entries: {})",
                        if names.is_empty() {
                            format!("{} unnamed", a.len())
                        } else {
                            names.join(", ")
                        }
                    ))
                })?;
                resolved = resolved.index(idx);
                if last {
                    a[idx] = value;
                    return Ok(resolved);
                }
                cur = &mut a[idx];
            }
        }
    }
    // parse_path never returns an empty path and every step above returns on the last one.
    Err(PathError(format!("path {path:?} selects nothing")))
}

fn default_container(next: &Step) -> toml::Value {
    match next {
        Step::Key(_) => toml::Value::Table(toml::Table::new()),
        Step::Select(_) => toml::Value::Array(Vec::new()),
    }
}

fn entry_name(v: &toml::Value) -> Option<String> {
    let t = v.as_table()?;
    t.get("name")
        .or_else(|| t.get("label"))
        .and_then(|n| n.as_str())
        .map(str::to_string)
}

/// The entry named `sel` (by `name`, then `label`), else index `sel`.
fn select(a: &[toml::Value], sel: &str) -> Option<usize> {
    if let Some(i) = a.iter().position(|v| entry_name(v).as_deref() == Some(sel)) {
        return Some(i);
    }
    let i: usize = sel.parse().ok()?;
    (i < a.len()).then_some(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> toml::Table {
        r#"
[scenario]
name = "x"
duration_s = 10

[[services]]
name = "db"
servers = 3

[[clients]]
name = "web"
target = "db"

[[triggers]]
label = "outage"
from_s = 1
to_s = 2
"#
        .parse()
        .expect("valid toml")
    }

    #[test]
    fn sets_nested_fields_by_name_and_index() {
        let mut t = doc();
        let p = apply(&mut t, "services[db].servers", toml::Value::Integer(8)).expect("applies");
        assert_eq!(p.to_string(), "services[0].servers");
        assert_eq!(t["services"][0]["servers"].as_integer(), Some(8));
        apply(&mut t, "triggers[outage].to_s", toml::Value::Float(5.0)).expect("by label");
        apply(&mut t, "triggers[0].from_s", toml::Value::Float(0.5)).expect("by index");
        assert_eq!(t["triggers"][0]["to_s"].as_float(), Some(5.0));
        assert_eq!(t["triggers"][0]["from_s"].as_float(), Some(0.5));
        apply(&mut t, "scenario.duration_s", toml::Value::Integer(20)).expect("top");
        assert_eq!(t["scenario"]["duration_s"].as_integer(), Some(20));
    }

    #[test]
    fn creates_missing_tables() {
        let mut t = doc();
        let p = apply(
            &mut t,
            "clients[web].retry.preset",
            toml::Value::String("grpc".into()),
        )
        .expect("creates retry");
        assert_eq!(p.to_string(), "clients[0].retry.preset");
        assert_eq!(t["clients"][0]["retry"]["preset"].as_str(), Some("grpc"));
    }

    #[test]
    fn bad_paths_are_errors_not_panics() {
        let mut t = doc();
        for bad in [
            "",
            ".",
            "a..b",
            "services[",
            "services[]",
            "[0].x",
            "services[db]x",
            "services[nope].servers",
            "services[7].servers",
            "scenario[0]",
            "scenario.name.x",
            "a b",
            "services.",
        ] {
            assert!(
                apply(&mut t, bad, toml::Value::Integer(1)).is_err(),
                "{bad:?} should be rejected"
            );
        }
        let e = apply(&mut t, "services[nope].servers", toml::Value::Integer(1)).unwrap_err();
        assert!(e.0.contains("entries: db"), "{e}");
    }
}

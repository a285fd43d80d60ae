//! Loading: read a file (bounded, UTF-8), parse the TOML, apply overrides, validate the
//! file and each of its variants.

use std::path::Path;

use super::common::*;
use super::error::*;
use super::locate::{FieldPath, Located, line_col, position};
use super::overrides::Override;
use super::schema::*;
use super::validated::*;

// ---------------------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------------------

/// Reads and validates the scenario at `path` (and each of its `[[variants]]`).
///
/// ```
/// let sc = metastable::load("scenarios/mm1.toml".as_ref())?;
/// assert_eq!((sc.name.as_str(), sc.duration.as_secs_f64()), ("mm1", 2000.0));
/// # Ok::<(), metastable::LoadError>(())
/// ```
pub fn load(path: &Path) -> Result<Scenario, LoadError> {
    let file = path.display().to_string();
    let bytes = super::read::read_capped(path, MAX_FILE_BYTES, "scenario file").map_err(|e| {
        LoadError::File {
            file: file.clone(),
            message: e.to_string(),
        }
    })?;
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let valid = e.utf8_error().valid_up_to();
            let prefix = String::from_utf8_lossy(&e.as_bytes()[..valid]).into_owned();
            let (line, column) = line_col(&prefix, valid);
            let issue = Issue {
                line,
                column,
                field: "(encoding)".into(),
                message: format!("not UTF-8 text: invalid byte at offset {valid}"),
            };
            return Err(LoadError::Invalid {
                file,
                issues: vec![issue],
            });
        }
    };
    parse(&text, &file)
}

/// Parses and validates scenario `text` and each of its variants; `file` is used in messages
/// only. Every problem is reported at once, each with its line, column and field:
///
/// ```
/// let text = std::fs::read_to_string("scenarios/mm1.toml").unwrap();
/// let bad = text.replace("servers = 1", "servers = -3");
/// let err = metastable::parse(&bad, "mm1.toml").unwrap_err();
/// let issue = &err.issues()[0];
/// assert_eq!((issue.line, issue.field.as_str()), (23, "services[0].servers"));
/// assert!(err.to_string().starts_with("mm1.toml:23:"), "{err}");
/// ```
pub fn parse(text: &str, file: &str) -> Result<Scenario, LoadError> {
    parse_with(text, file, &[])
}

/// Like [`parse`], with `overrides` applied on top of the file (sweeps use this). Errors caused
/// by an override name it.
///
/// ```
/// use metastable::Override;
///
/// let text = std::fs::read_to_string("scenarios/hotos-retry.toml").unwrap();
/// let bigger = [Override::new("services[db].servers", 40), Override::new("clients[web].rate_per_s", 300.0)];
/// let sc = metastable::parse_with(&text, "hotos-retry.toml", &bigger).unwrap();
/// assert_eq!(sc.world.services[0].servers, 40);
///
/// let bad = [Override::new("services[db].servers", 0)];
/// let err = metastable::parse_with(&text, "hotos-retry.toml", &bad).unwrap_err();
/// assert!(err.to_string().contains("override \"services[db].servers\""), "{err}");
/// ```
pub fn parse_with(text: &str, file: &str, overrides: &[Override]) -> Result<Scenario, LoadError> {
    let mut base = parse_one(text, file, overrides, None)?;
    let located = Located::parse(text);
    let raw = match table_of(text, file, &located) {
        Ok(raw) => raw,
        // Without variants the table is not needed: a seed above 2⁶³ − 1 is fine.
        Err(_)
            if located
                .as_ref()
                .is_some_and(|l| !l.has_root_key("variants"))
                && base
                    .incident
                    .as_ref()
                    .is_none_or(|i| i.counterfactual.is_none()) =>
        {
            return Ok(base);
        }
        Err(e) => return Err(e),
    };
    let names: Vec<&str> = raw
        .get("variants")
        .and_then(|v| v.as_array())
        .map(|l| {
            l.iter()
                .filter_map(|v| v.get("name").and_then(|n| n.as_str()))
                .collect()
        })
        .unwrap_or_default();
    if let Some(name) = base
        .incident
        .as_ref()
        .and_then(|i| i.counterfactual.as_ref())
        && !names.contains(&name.as_str())
    {
        let path = p().key("incident").key("counterfactual");
        let offset = located.as_ref().map_or(0, |l| l.span_of(&path).start);
        let (line, column) = line_col(text, offset);
        return Err(LoadError::Invalid {
            file: file.into(),
            issues: vec![Issue {
                line,
                column,
                field: path.to_string(),
                message: format!("no [[variants]] entry named {name:?}"),
            }],
        });
    }
    let Some(list) = raw.get("variants").and_then(|v| v.as_array()) else {
        return Ok(base);
    };
    let mut issues = Vec::new();
    let vpath = p().key("variants");
    let at = |path: &FieldPath| position(&located, path);
    if list.len() > MAX_VARIANTS {
        let (line, column) = at(&vpath);
        issues.push(Issue {
            line,
            column,
            field: "variants".into(),
            message: format!("{} variants; the limit is {MAX_VARIANTS}", list.len()),
        });
    }
    let mut seen: Vec<&str> = vec![BASELINE, WITHOUT_OPERATORS];
    for (i, v) in list.iter().enumerate().take(MAX_VARIANTS) {
        let here = vpath.index(i);
        let name = v.get("name").and_then(|n| n.as_str()).unwrap_or_default();
        let (line, column) = at(&here.key("name"));
        let bad_name = !is_safe_name(name);
        if bad_name || seen.contains(&name) {
            issues.push(Issue {
                line,
                column,
                field: format!("{here}.name"),
                message: if bad_name {
                    format!(
                        "must be 1–64 characters of A–Z a–z 0–9 _ - . other than . and .., got {name:?}"
                    )
                } else {
                    format!(
                        "duplicate or reserved variant name {name:?} (\"baseline\" is the file as written, \"{WITHOUT_OPERATORS}\" an incident run without its operator actions)"
                    )
                },
            });
            continue;
        }
        seen.push(name);
        let description = v
            .get("description")
            .and_then(|d| d.as_str())
            .unwrap_or_default()
            .to_string();
        let mut ovs: Vec<Override> = overrides.to_vec();
        if let Some(set) = v.get("set").and_then(|s| s.as_table()) {
            for (key, value) in set {
                let (line, column) = at(&here.key("set").key(key));
                ovs.push(Override {
                    path: key.clone(),
                    value: value.clone(),
                    line,
                    column,
                    label: format!("variant {name:?}"),
                });
            }
        }
        match parse_one(text, file, &ovs, Some(name)) {
            Ok(scenario) => base.variants.push(Variant {
                name: name.to_string(),
                description,
                scenario,
            }),
            Err(LoadError::Invalid { issues: more, .. }) => issues.extend(more),
            Err(e) => return Err(e),
        }
    }
    if issues.is_empty() {
        Ok(base)
    } else {
        issues.sort_by_key(|i| (i.line, i.column));
        issues.dedup();
        Err(LoadError::Invalid {
            file: file.into(),
            issues,
        })
    }
}

/// The file as a TOML table (variants and overrides work on it). Its integers stop at
/// 2⁶³ − 1, so a larger one (a seed) is an error naming its line and field, with the way out.
fn table_of(
    text: &str,
    file: &str,
    located: &Option<Located<'_>>,
) -> Result<toml::Table, LoadError> {
    text.parse::<toml::Table>().map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        let (line, column) = line_col(text, offset);
        let field = located
            .as_ref()
            .map_or_else(|| "(syntax)".to_string(), |l| l.path_at(offset).to_string());
        let mut message = e.message().trim().replace('\n', " ");
        if message.contains("too large") || message.contains("overflow") {
            message.push_str(&format!(
                " (integers stop at {} in a file with variants or overrides; write a larger \
                 seed as a string of digits, e.g. seed = \"{}\")",
                i64::MAX,
                u64::MAX
            ));
        }
        LoadError::Invalid {
            file: file.into(),
            issues: vec![Issue {
                line,
                column,
                field,
                message,
            }],
        }
    })
}

/// One scenario: the file with `overrides` applied, validated.
fn parse_one(
    text: &str,
    file: &str,
    overrides: &[Override],
    variant: Option<&str>,
) -> Result<Scenario, LoadError> {
    if text.trim().is_empty() {
        return Err(LoadError::File {
            file: file.into(),
            message: "empty scenario file".into(),
        });
    }
    let located = Located::parse(text);
    if !overrides.is_empty() && located.is_some() {
        return parse_overridden(text, file, located, overrides, variant);
    }
    let raw: ScenarioFile = match toml::from_str(text) {
        Ok(raw) => raw,
        Err(e) => {
            let offset = e.span().map_or(0, |s| s.start);
            let (line, column) = line_col(text, offset);
            let field = located
                .as_ref()
                .map_or_else(|| "(syntax)".to_string(), |l| l.path_at(offset).to_string());
            let message = e.message().trim().replace('\n', " ");
            return Err(LoadError::Invalid {
                file: file.into(),
                issues: vec![Issue {
                    line,
                    column,
                    field,
                    message,
                }],
            });
        }
    };
    finish(text, file, located, raw, Vec::new(), variant)
}

fn parse_overridden(
    text: &str,
    file: &str,
    located: Option<Located<'_>>,
    overrides: &[Override],
    variant: Option<&str>,
) -> Result<Scenario, LoadError> {
    let mut table = table_of(text, file, &located)?;
    table.remove("variants");
    let mut applied = Vec::with_capacity(overrides.len());
    let mut issues = Vec::new();
    for o in overrides {
        match crate::scenario::overrides::apply(&mut table, &o.path, o.value.clone()) {
            Ok(path) => applied.push(Applied {
                path,
                line: o.line,
                column: o.column,
                label: o.label.clone(),
            }),
            Err(e) => issues.push(Issue {
                line: o.line,
                column: o.column,
                field: o.path.clone(),
                message: format!("{e} (set by {})", o.label),
            }),
        }
    }
    if !issues.is_empty() {
        return Err(LoadError::Invalid {
            file: file.into(),
            issues,
        });
    }
    // Round-trip through text so that a type error in an override has a span to name.
    let generated = toml::to_string(&table).map_err(|e| LoadError::File {
        file: file.into(),
        message: format!("cannot apply overrides: {e}"),
    })?;
    let raw: ScenarioFile = match toml::from_str(&generated) {
        Ok(raw) => raw,
        Err(e) => {
            let field = match (Located::parse(&generated), e.span()) {
                (Some(g), Some(span)) => g.path_at(span.start),
                _ => FieldPath::root(),
            };
            let message = e.message().trim().replace('\n', " ");
            let issue = match applied.iter().find(|a| overlaps(&a.path, &field)) {
                Some(a) => blame(&located, a, &field, message),
                None => {
                    let offset = located.as_ref().map_or(0, |l| l.span_of(&field).start);
                    let (line, column) = line_col(text, offset);
                    Issue {
                        line,
                        column,
                        field: field.to_string(),
                        message,
                    }
                }
            };
            return Err(LoadError::Invalid {
                file: file.into(),
                issues: vec![issue],
            });
        }
    };
    finish(text, file, located, raw, applied, variant)
}

fn finish(
    text: &str,
    file: &str,
    located: Option<Located<'_>>,
    raw: ScenarioFile,
    applied: Vec<Applied>,
    variant: Option<&str>,
) -> Result<Scenario, LoadError> {
    let mut v = Validator {
        text,
        located,
        issues: Vec::new(),
        applied,
        dns_automations: Vec::new(),
        load_balancers: Vec::new(),
    };
    let mut scenario = v.scenario(raw, file);
    scenario.variant = variant.map(str::to_string);
    if let Some(name) = variant {
        for issue in &mut v.issues {
            if !issue.message.contains("(set by ") {
                issue.message.push_str(&format!(" (in variant {name:?})"));
            }
        }
    }
    if v.issues.is_empty() {
        Ok(scenario)
    } else {
        v.issues.sort_by_key(|i| (i.line, i.column));
        Err(LoadError::Invalid {
            file: file.into(),
            issues: v.issues,
        })
    }
}

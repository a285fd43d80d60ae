//! Maps between byte offsets in a TOML text and field paths (`services[1].servers`), so that
//! every error names the file, the line and the field.

use std::fmt;
use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// One step of a field path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// A path to a field, e.g. `services[1].service_time.mean_ms`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldPath(pub Vec<Seg>);

impl FieldPath {
    pub fn root() -> FieldPath {
        FieldPath(Vec::new())
    }
    pub fn key(&self, k: &str) -> FieldPath {
        let mut p = self.clone();
        p.0.push(Seg::Key(k.to_string()));
        p
    }
    pub fn index(&self, i: usize) -> FieldPath {
        let mut p = self.clone();
        p.0.push(Seg::Index(i));
        p
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("(document)");
        }
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(k) if i == 0 => write!(f, "{k}")?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// 1-based line and column of byte `offset` in `text`.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text.as_bytes()[..offset];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let col = offset
        - before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |p| p + 1)
        + 1;
    (line, col)
}

/// Where each line of a text starts, so that offset → (line, column) costs O(log lines)
/// instead of a scan from the start (a file with 100 000 problems would otherwise cost
/// 100 000 scans).
#[derive(Clone, Debug)]
pub struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(text: &str) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(
            text.bytes()
                .enumerate()
                .filter(|&(_, b)| b == b'\n')
                .map(|(i, _)| i + 1),
        );
        LineIndex { starts }
    }

    /// 1-based line and column of byte `offset` (as [`line_col`]).
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let line = self.starts.partition_point(|&s| s <= offset).max(1);
        (line, offset - self.starts[line - 1] + 1)
    }
}

/// A parsed document with spans, for looking fields up.
pub struct Located<'i> {
    root: Spanned<DeTable<'i>>,
    lines: LineIndex,
    len: usize,
}

impl<'i> Located<'i> {
    /// Parses `text`; `None` if it is not valid TOML (the serde error then carries the span).
    pub fn parse(text: &'i str) -> Option<Located<'i>> {
        DeTable::parse(text).ok().map(|root| Located {
            root,
            lines: LineIndex::new(text),
            len: text.len(),
        })
    }

    /// Whether the document has `key` at its top level.
    pub fn has_root_key(&self, key: &str) -> bool {
        self.root.get_ref().get(key).is_some()
    }

    /// 1-based line and column of the value at `path` (see [`Located::span_of`]).
    pub fn line_col_of(&self, path: &FieldPath) -> (usize, usize) {
        self.lines.line_col(self.span_of(path).start.min(self.len))
    }
}

/// Line and column of `path` in a document that may not have parsed (then 1:1).
pub fn position(located: &Option<Located<'_>>, path: &FieldPath) -> (usize, usize) {
    located.as_ref().map_or((1, 1), |l| l.line_col_of(path))
}

impl<'i> Located<'i> {
    /// The span of the value at `path`, or of the nearest enclosing value that exists (so a
    /// missing field points at its table).
    pub fn span_of(&self, path: &FieldPath) -> Range<usize> {
        let mut span = self.root.span();
        let mut cur: Option<&DeValue<'i>> = None;
        let mut table: Option<&DeTable<'i>> = Some(self.root.get_ref());
        for seg in &path.0 {
            let next = match (seg, table, cur) {
                (Seg::Key(k), Some(t), _) => t.get(k.as_str()),
                (Seg::Index(i), _, Some(DeValue::Array(a))) => a.get(*i),
                _ => None,
            };
            let Some(v) = next else { break };
            span = v.span();
            cur = Some(v.get_ref());
            table = match v.get_ref() {
                DeValue::Table(t) => Some(t),
                _ => None,
            };
        }
        span
    }

    /// The field at byte `offset`: the key that contains it (an exact hit), else the deepest
    /// value that does. The whole tree is searched: a `[table]` or `[[array]]` header's span
    /// covers only the header, not the fields written under it.
    pub fn path_at(&self, offset: usize) -> FieldPath {
        let mut best = ((false, 0usize), FieldPath::root());
        search_table(self.root.get_ref(), offset, &FieldPath::root(), &mut best);
        best.1
    }
}

/// Best match so far: ((offset is inside a key, depth), path).
type Best = ((bool, usize), FieldPath);

fn search_table(t: &DeTable<'_>, offset: usize, at: &FieldPath, best: &mut Best) {
    for (k, v) in t.iter() {
        let path = at.key(k.get_ref());
        let in_key = k.span().contains(&offset);
        let rank = (in_key, path.0.len());
        if (in_key || v.span().contains(&offset)) && rank > best.0 {
            *best = (rank, path.clone());
        }
        search_value(v, offset, &path, best);
    }
}

fn search_value(v: &Spanned<DeValue<'_>>, offset: usize, at: &FieldPath, best: &mut Best) {
    match v.get_ref() {
        DeValue::Table(t) => search_table(t, offset, at, best),
        DeValue::Array(a) => {
            for (i, item) in a.iter().enumerate() {
                let path = at.index(i);
                let rank = (false, path.0.len());
                if item.span().contains(&offset) && rank > best.0 {
                    *best = (rank, path.clone());
                }
                search_value(item, offset, &path, best);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "[scenario]\nname = \"x\"\n\n[[services]]\nname = \"a\"\nservers = 1\n\n[[services]]\nname = \"b\"\nservers = -3\nservice_time = { dist = \"constant\", value_ms = 2 }\n";

    #[test]
    fn spans_and_paths_round_trip() {
        let loc = Located::parse(DOC).expect("valid toml");
        let p = FieldPath::root().key("services").index(1).key("servers");
        let span = loc.span_of(&p);
        assert_eq!(line_col(DOC, span.start).0, 10);
        assert_eq!(loc.path_at(span.start), p);
        let q = FieldPath::root()
            .key("services")
            .index(1)
            .key("service_time")
            .key("value_ms");
        let span = loc.span_of(&q);
        assert_eq!(line_col(DOC, span.start).0, 11);
        assert_eq!(
            loc.path_at(span.start).to_string(),
            "services[1].service_time.value_ms"
        );
        // a missing field points at its enclosing table
        let missing = FieldPath::root()
            .key("services")
            .index(0)
            .key("service_time");
        assert_eq!(line_col(DOC, loc.span_of(&missing).start).0, 4);
    }

    #[test]
    fn line_index_agrees_with_the_scan() {
        let idx = LineIndex::new(DOC);
        for offset in 0..=DOC.len() {
            assert_eq!(
                idx.line_col(offset),
                line_col(DOC, offset),
                "offset {offset}"
            );
        }
    }
}

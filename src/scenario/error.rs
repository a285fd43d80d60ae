//! Scenario errors: one [`Issue`] per problem, `FILE:LINE:COL: FIELD: MESSAGE`.

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// One problem in a scenario file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issue {
    /// 1-based line in the file (0 when the problem has no place, e.g. an override from the command line).
    pub line: usize,
    /// 1-based column in the file (0 when unknown).
    pub column: usize,
    /// The field's path, e.g. `services[db].servers`.
    pub field: String,
    /// What is wrong, e.g. `must be an integer in 1..=1000000, got -3`.
    pub message: String,
}

/// Why a scenario could not be loaded. Displays one line per problem:
/// `FILE:LINE:COL: FIELD: MESSAGE`.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read, or is not a scenario at all.
    #[error("{file}: {message}")]
    File {
        /// The file, as given.
        file: String,
        /// What is wrong.
        message: String,
    },
    /// The file has problems, each with its line, column and field (all of them, by line).
    #[error("{}", render_issues(file, issues))]
    Invalid {
        /// The file, as given.
        file: String,
        /// Every problem found, sorted by line.
        issues: Vec<Issue>,
    },
}

/// Most problems listed for one file; the rest are counted ("… and N more").
pub const MAX_ISSUES_SHOWN: usize = 50;

fn render_issues(file: &str, issues: &[Issue]) -> String {
    let mut lines: Vec<String> = issues
        .iter()
        .take(MAX_ISSUES_SHOWN)
        .map(|i| format!("{file}:{}:{}: {}: {}", i.line, i.column, i.field, i.message))
        .collect();
    if issues.len() > MAX_ISSUES_SHOWN {
        lines.push(format!(
            "{file}: … and {} more problem(s) (only the first {MAX_ISSUES_SHOWN} are listed)",
            issues.len() - MAX_ISSUES_SHOWN
        ));
    }
    lines.join("\n")
}

impl LoadError {
    /// The problems found (empty for I/O errors).
    pub fn issues(&self) -> &[Issue] {
        match self {
            LoadError::Invalid { issues, .. } => issues,
            _ => &[],
        }
    }
}

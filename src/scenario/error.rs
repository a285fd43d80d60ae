//! Scenario errors: one [`Issue`] per problem, `FILE:LINE:COL: FIELD: MESSAGE`.

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// One problem in a scenario file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issue {
    pub line: usize,
    pub column: usize,
    pub field: String,
    pub message: String,
}

/// Why a scenario could not be loaded. Displays one line per problem:
/// `FILE:LINE:COL: FIELD: MESSAGE`.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{file}: {message}")]
    File { file: String, message: String },
    #[error("{}", render_issues(file, issues))]
    Invalid { file: String, issues: Vec<Issue> },
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

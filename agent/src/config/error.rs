//! Config errors that say which file, line, column and key, and what to do.

use std::ops::Range;
use std::path::{Path, PathBuf};

/// A config file that cannot be used. Displayed as `FILE:LINE:COLUMN: message`, the form editors
/// and `grep -n` users jump to.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read at all.
    #[error("{path}: cannot read the config file: {source}")]
    Read {
        /// The config file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file was read but something in it is wrong.
    #[error("{}:{line}:{column}: {message}", path.display())]
    Invalid {
        /// The config file.
        path: PathBuf,
        /// 1-based line of the offending key or value.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong, naming the key, and what to do about it.
        message: String,
    },
}

impl ConfigError {
    /// An error at byte range `span` of `source` (the text of `path`).
    pub fn at(path: &Path, source: &str, span: Option<Range<usize>>, message: String) -> Self {
        let (line, column) = span.map(|s| line_column(source, s.start)).unwrap_or((1, 1));
        ConfigError::Invalid {
            path: path.to_path_buf(),
            line,
            column,
            message,
        }
    }

    /// A toml/serde error, relocated to `FILE:LINE:COLUMN` and with `context` (which table or
    /// device) put in front of the message.
    pub fn from_toml(path: &Path, source: &str, err: &toml::de::Error, context: &str) -> Self {
        let message = err.message().trim().to_string();
        let message = if context.is_empty() {
            message
        } else {
            format!("{context}: {message}")
        };
        ConfigError::at(path, source, err.span(), message)
    }

    /// The 1-based line this error points at, if it points at one.
    pub fn line(&self) -> Option<usize> {
        match self {
            ConfigError::Invalid { line, .. } => Some(*line),
            ConfigError::Read { .. } => None,
        }
    }
}

/// 1-based line and column (in characters) of byte offset `at` in `source`.
pub fn line_column(source: &str, at: usize) -> (usize, usize) {
    let at = at.min(source.len());
    let before = source.get(..at).unwrap_or(source);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based() {
        let src = "a = 1\nbb = 2\n";
        assert_eq!(line_column(src, 0), (1, 1));
        assert_eq!(line_column(src, 6), (2, 1));
        assert_eq!(line_column(src, 11), (2, 6));
        assert_eq!(line_column(src, 999), (3, 1));
    }
}

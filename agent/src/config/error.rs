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
        let mut message = err.message().trim().to_string();
        // serde's messages say what is wrong ("invalid type: string, expected u64") but not
        // where; name the key unless the message already does.
        if let Some(key) = err.span().and_then(|span| key_at(source, span)) {
            let leaf = key.rsplit(['.', ']']).next().unwrap_or(&key);
            if !message.contains(&format!("`{leaf}`")) {
                let shown = if context.is_empty() {
                    key.as_str()
                } else {
                    leaf
                };
                message = format!("{shown}: {message}");
            }
        }
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

/// The dotted path (`store.max_events`, `devices[0].baud`) of the key or value at `span`.
fn key_at(source: &str, span: Range<usize>) -> Option<String> {
    let doc = toml::de::DeTable::parse(source).ok()?;
    find_in_table(doc.get_ref(), &span, "")
}

fn find_in_table(
    table: &toml::de::DeTable<'_>,
    span: &Range<usize>,
    prefix: &str,
) -> Option<String> {
    for (key, value) in table.iter() {
        let path = if prefix.is_empty() {
            key.get_ref().to_string()
        } else {
            format!("{prefix}.{}", key.get_ref())
        };
        // A span covering a whole table or array is about the table (a missing key), which the
        // message and context already say; only keys and scalar values are named.
        let scalar = !matches!(
            value.get_ref(),
            toml::de::DeValue::Table(_) | toml::de::DeValue::Array(_)
        );
        if key.span() == *span || (scalar && value.span() == *span) {
            return Some(path);
        }
        if let Some(found) = find_in_value(value.get_ref(), span, &path) {
            return Some(found);
        }
    }
    None
}

fn find_in_value(value: &toml::de::DeValue<'_>, span: &Range<usize>, path: &str) -> Option<String> {
    match value {
        toml::de::DeValue::Table(t) => find_in_table(t, span, path),
        toml::de::DeValue::Array(items) => items.iter().enumerate().find_map(|(i, item)| {
            let path = format!("{path}[{i}]");
            if item.span() == *span {
                return None; // a whole table: the caller's context names it
            }
            find_in_value(item.get_ref(), span, &path)
        }),
        _ => None,
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
    fn keys_are_found_by_span() {
        let src = "[store]\nmax_events = \"x\"\n[[devices]]\nid = \"a\"\nbaud = 1\n";
        let at = |needle: &str| {
            let start = src.find(needle).unwrap();
            start..start + needle.len()
        };
        assert_eq!(
            key_at(src, at("\"x\"")).as_deref(),
            Some("store.max_events")
        );
        assert_eq!(key_at(src, at("baud")).as_deref(), Some("devices[0].baud"));
        assert_eq!(key_at(src, at("1\n")), None);
    }

    #[test]
    fn line_and_column_are_one_based() {
        let src = "a = 1\nbb = 2\n";
        assert_eq!(line_column(src, 0), (1, 1));
        assert_eq!(line_column(src, 6), (2, 1));
        assert_eq!(line_column(src, 11), (2, 6));
        assert_eq!(line_column(src, 999), (3, 1));
    }
}

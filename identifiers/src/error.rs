//! The one error type of the identify layer: what is wrong, and where.

use serde::Serialize;

/// Why an input was rejected. `position` is a byte offset into the input as given (AIM prefix
/// included), so an operator or integrator can see exactly which character is at fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DecodeError {
    /// Machine-readable class, e.g. `bad_check_digit`, `unknown_ai`, `missing_requisite`.
    pub kind: &'static str,
    /// What is wrong, in words, naming the AI and its title where there is one.
    pub message: String,
    /// Byte offset of the fault in the input, where it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<usize>,
}

impl DecodeError {
    /// An error at byte `position`.
    pub fn at(kind: &'static str, position: usize, message: impl Into<String>) -> Self {
        DecodeError {
            kind,
            message: message.into(),
            position: Some(position),
        }
    }

    /// An error about the whole input.
    pub fn whole(kind: &'static str, message: impl Into<String>) -> Self {
        DecodeError {
            kind,
            message: message.into(),
            position: None,
        }
    }

    /// The same error with its position moved by `offset` (for parts parsed out of a larger
    /// input).
    pub fn shifted(mut self, offset: usize) -> Self {
        self.position = self.position.map(|p| p + offset);
        self
    }
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.position {
            Some(p) => write!(f, "{} (at byte {p})", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for DecodeError {}

//! GS1 Application Identifiers: the table, element strings in both notations, and the
//! message-level rules.

pub mod codelists;
pub mod element;
pub mod linters;
pub mod table;
pub mod validate;

pub use element::{
    AiValue, GS, parse_bracketed, parse_element_string, to_bracketed, to_element_string,
};
pub use table::{AiEntry, AiTable, TABLE};
pub use validate::Rules;

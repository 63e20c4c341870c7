//! Field names of a `#[derive(Deserialize)]` struct, read from the derive itself, so that a
//! device table's keys can be split among the structs that own them without listing any name
//! twice.

use serde::Deserialize;
use serde::de::{self, Visitor};

/// The names of the fields `T` accepts (its serde names, after renames).
///
/// Works for structs with named fields; returns an empty slice for anything else.
pub fn field_names<T: for<'de> Deserialize<'de>>() -> &'static [&'static str] {
    let mut found: &'static [&'static str] = &[];
    let _ = T::deserialize(FieldCatcher { found: &mut found });
    found
}

struct FieldCatcher<'a> {
    found: &'a mut &'static [&'static str],
}

#[derive(Debug)]
struct Caught;

impl std::fmt::Display for Caught {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("field names caught")
    }
}
impl std::error::Error for Caught {}
impl de::Error for Caught {
    fn custom<M: std::fmt::Display>(_: M) -> Self {
        Caught
    }
}

impl<'de> de::Deserializer<'de> for FieldCatcher<'_> {
    type Error = Caught;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Caught> {
        Err(Caught)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Caught> {
        *self.found = fields;
        Err(Caught)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct Example {
        port: String,
        #[serde(rename = "baud-rate")]
        baud: u32,
        #[serde(default)]
        parity: Option<String>,
    }

    #[test]
    fn lists_serde_names_in_declaration_order() {
        assert_eq!(field_names::<Example>(), &["port", "baud-rate", "parity"]);
        assert!(field_names::<String>().is_empty());
    }
}

//! What a payload means: GS1 keys and element strings, Digital Link, EPC, national codes.

pub mod check_digit;

pub use check_digit::{gs1_check_digit, has_valid_check_digit};

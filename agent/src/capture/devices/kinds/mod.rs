//! One module per device kind: its config keys, how they are validated, how it starts.

pub mod gpio_input;
pub mod gpio_output;
pub mod hid_scanner;
pub mod keyboard_scanner;
pub mod label_printer;
pub mod lf_reader;
pub mod llrp_reader;
pub mod serial_scanner;
#[cfg(feature = "sim")]
pub mod sim_gpio_input;
#[cfg(feature = "sim")]
pub mod sim_hid_scanner;
#[cfg(feature = "sim")]
pub mod sim_label_printer;
#[cfg(feature = "sim")]
pub mod sim_lf_reader;
#[cfg(feature = "sim")]
pub mod sim_llrp_reader;
#[cfg(feature = "sim")]
pub mod sim_output;
#[cfg(feature = "sim")]
pub mod sim_scanner;
#[cfg(feature = "sim")]
pub mod sim_uhf_module;
pub mod uhf_module;

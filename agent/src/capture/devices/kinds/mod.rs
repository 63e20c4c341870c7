//! One module per device kind: its config keys, how they are validated, how it starts.

pub mod gpio_input;
pub mod gpio_output;
pub mod hid_scanner;
pub mod keyboard_scanner;
pub mod label_printer;
pub mod lf_reader;
pub mod llrp_reader;
pub mod serial_scanner;
pub mod sim_gpio_input;
pub mod sim_hid_scanner;
pub mod sim_label_printer;
pub mod sim_lf_reader;
pub mod sim_llrp_reader;
pub mod sim_output;
pub mod sim_scanner;
pub mod sim_uhf_module;
pub mod uhf_module;

//! The drivers against their simulators, over ptys, loopback TCP and simulated HID and GPIO:
//! one test binary, a module per device class.

#[allow(dead_code)] // each device class uses part of it
mod support;

mod chafon_reader;
mod gpio_inputs;
mod hid_and_keyboard_scanners;
mod llrp_captures;
mod llrp_reader;
mod output_lines;
mod printer_driver;
mod printer_sims;
mod serial_rfid_readers;
mod serial_scanner_pty;
